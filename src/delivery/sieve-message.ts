// Builds the Sieve engine's view of a message from raw RFC 5322 bytes:
// header fields (unfolded, raw), size, and lazily the body parts with
// transfer encoding (base64, quoted-printable) and charset undone.
import type { SieveBodyPart, SieveHeaderField, SieveMessage, SieveMessageBody } from '../../sieve/index.js';

const MAX_DEPTH = 20;

const LFLF = Buffer.from('\n\n');
const LFCRLF = Buffer.from('\n\r\n');

/** Where the header block ends: the first empty line (CRLF or bare LF endings). */
function findHeaderEnd(buf: Buffer): { headerEnd: number; bodyStart: number } {
  if (buf[0] === 0x0a) return { headerEnd: 0, bodyStart: 1 };
  if (buf[0] === 0x0d && buf[1] === 0x0a) return { headerEnd: 0, bodyStart: 2 };
  const x = buf.indexOf(LFLF);
  const y = buf.indexOf(LFCRLF);
  if (y >= 0 && (x < 0 || y < x)) return { headerEnd: y + 1, bodyStart: y + 3 };
  if (x >= 0) return { headerEnd: x + 1, bodyStart: x + 2 };
  // No blank line: all header (or, if the first line is not a field, all body).
  return { headerEnd: buf.length, bodyStart: buf.length };
}

/** Parses a header block into fields, unfolding continuation lines. */
export function parseHeaderFields(block: string): SieveHeaderField[] {
  const fields: SieveHeaderField[] = [];
  const lines = block.split(/\r?\n/);
  for (const line of lines) {
    if (line === '') continue;
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length > 0) {
      const last = fields[fields.length - 1]!;
      last.value += '\r\n' + line;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue; // not a field (e.g. an mbox "From " line): ignored
    const name = line.slice(0, colon).trimEnd();
    if (!/^[!-9;-~]+$/.test(name)) continue;
    fields.push({ name, value: line.slice(colon + 1) });
  }
  return fields;
}

interface ContentType {
  type: string;
  params: Map<string, string>;
}

function parseContentType(value: string | undefined): ContentType {
  const params = new Map<string, string>();
  if (!value) return { type: 'text/plain', params };
  const parts = value.split(';');
  const type = (parts.shift() ?? '').trim().toLowerCase();
  const re = /;\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    let v = (m[2] ?? '').trim();
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    params.set((m[1] ?? '').toLowerCase(), v);
  }
  return { type: /^[^/\s]+\/[^/\s]+$/.test(type) ? type : 'text/plain', params };
}

function headerValue(fields: SieveHeaderField[], name: string): string | undefined {
  const f = fields.find((x) => x.name.toLowerCase() === name);
  return f?.value.trim();
}

export function decodeQuotedPrintable(input: Buffer): Buffer {
  const out = Buffer.alloc(input.length);
  let o = 0;
  for (let i = 0; i < input.length; i++) {
    const c = input[i]!;
    if (c !== 0x3d) {
      out[o++] = c;
      continue;
    }
    const a = input[i + 1];
    const b = input[i + 2];
    if (a === 0x0d && b === 0x0a) {
      i += 2;
      continue;
    }
    if (a === 0x0a) {
      i += 1;
      continue;
    }
    const hex = a !== undefined && b !== undefined ? String.fromCharCode(a, b) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out[o++] = parseInt(hex, 16);
      i += 2;
    } else out[o++] = c;
  }
  return out.subarray(0, o);
}

function decodeTransfer(body: Buffer, encoding: string | undefined): Buffer {
  const enc = (encoding ?? '').toLowerCase().trim();
  if (enc === 'base64') return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (enc === 'quoted-printable') return decodeQuotedPrintable(body);
  return body;
}

const decoders = new Map<string, InstanceType<typeof TextDecoder> | null>();

function decodeCharset(bytes: Buffer, charset: string | undefined): string {
  const cs = (charset ?? 'utf-8').toLowerCase();
  if (cs === 'utf-8' || cs === 'us-ascii' || cs === 'utf8') return bytes.toString('utf8');
  let d = decoders.get(cs);
  if (d === undefined) {
    try {
      d = new TextDecoder(cs);
    } catch {
      d = null; // unknown charset: read as UTF-8
    }
    // Charset names come from messages: the cache must not grow without end.
    if (decoders.size >= 256) decoders.clear();
    decoders.set(cs, d);
  }
  return d ? d.decode(bytes) : bytes.toString('utf8');
}

interface Multipart {
  parts: Buffer[];
  /** Text before the first boundary and after the last (body :content "multipart"). */
  prologue: string;
  epilogue: string;
}

function splitMultipart(body: Buffer, boundary: string): Multipart {
  const text = body.toString('latin1');
  const delim = '--' + boundary;
  const parts: Buffer[] = [];
  const lines = text.split(/(?<=\n)/);
  let cur: string[] | undefined;
  let prologue = '';
  let epilogue: string[] | undefined;
  for (const line of lines) {
    if (epilogue) {
      epilogue.push(line);
      continue;
    }
    const bare = line.replace(/\r?\n$/, '');
    if (bare.startsWith(delim)) {
      const rest = bare.slice(delim.length).trimEnd();
      if (rest === '' || rest === '--') {
        if (cur) {
          // The CRLF before a boundary belongs to the boundary.
          const joined = cur.join('').replace(/\r?\n$/, '');
          parts.push(Buffer.from(joined, 'latin1'));
        }
        if (rest === '--') {
          epilogue = [];
          cur = undefined;
          continue;
        }
        cur = [];
        continue;
      }
    }
    if (cur) cur.push(line);
    else prologue += line;
  }
  if (cur && cur.length) parts.push(Buffer.from(cur.join(''), 'latin1'));
  return { parts, prologue: prologue.replace(/\r?\n$/, ''), epilogue: (epilogue ?? []).join('') };
}

function collectParts(fields: SieveHeaderField[], body: Buffer, out: SieveBodyPart[], depth: number): void {
  const ct = parseContentType(headerValue(fields, 'content-type'));
  const boundary = ct.params.get('boundary');
  if (ct.type.startsWith('multipart/') && boundary && depth < MAX_DEPTH) {
    const mp = splitMultipart(body, boundary);
    out.push({ contentType: ct.type, text: Buffer.from(mp.prologue + mp.epilogue, 'latin1').toString('utf8') });
    for (const raw of mp.parts) {
      const { headerEnd, bodyStart } = findHeaderEnd(raw);
      const startsWithBlank = raw[0] === 0x0a || (raw[0] === 0x0d && raw[1] === 0x0a);
      const partFields = startsWithBlank ? [] : parseHeaderFields(raw.subarray(0, headerEnd).toString('utf8'));
      const partBody = startsWithBlank ? raw.subarray(raw[0] === 0x0a ? 1 : 2) : raw.subarray(bodyStart);
      collectParts(partFields, partBody, out, depth + 1);
    }
    return;
  }
  const decoded = decodeTransfer(body, headerValue(fields, 'content-transfer-encoding'));
  out.push({
    contentType: ct.type,
    text: ct.type.startsWith('text/') ? decodeCharset(decoded, ct.params.get('charset')) : decoded.toString('latin1'),
  });
}

/** The engine's view of a raw message. Body parsing happens only if a body test asks. */
export function sieveMessageFromBuffer(raw: Buffer): SieveMessage {
  const { headerEnd, bodyStart } = findHeaderEnd(raw);
  const headers = parseHeaderFields(raw.subarray(0, headerEnd).toString('utf8'));
  let body: SieveMessageBody | undefined;
  return {
    headers,
    size: raw.length,
    body() {
      if (!body) {
        const b = raw.subarray(bodyStart);
        const parts: SieveBodyPart[] = [];
        collectParts(headers, b, parts, 0);
        body = { raw: b.toString('utf8'), parts };
      }
      return body;
    },
  };
}
