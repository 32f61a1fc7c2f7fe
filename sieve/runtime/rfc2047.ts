// Header value decoding for comparison: RFC 2047 encoded words (B and Q, any
// charset TextDecoder knows), raw UTF-8 is already text. Whitespace between
// adjacent encoded words is dropped, as RFC 2047 section 6.2 says.

const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;

function decodeBase64(text: string): Uint8Array {
  const clean = text.replace(/[^A-Za-z0-9+/]/g, '');
  const out: number[] = [];
  let buf = 0;
  let bits = 0;
  for (let i = 0; i < clean.length; i++) {
    const c = clean.charCodeAt(i);
    const v = c >= 65 && c <= 90 ? c - 65 : c >= 97 && c <= 122 ? c - 71 : c >= 48 && c <= 57 ? c + 4 : c === 43 ? 62 : 63;
    buf = (buf << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((buf >> bits) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

function decodeQ(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '_') out.push(0x20);
    else if (ch === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(text.charCodeAt(i) & 0xff);
  }
  return Uint8Array.from(out);
}

const decoders = new Map<string, InstanceType<typeof TextDecoder> | null>();
/** Charset names come from messages: the cache of their decoders must not grow without end. */
const MAX_DECODERS = 256;

function decoderFor(charset: string): InstanceType<typeof TextDecoder> | null {
  const star = charset.indexOf('*');
  const key = (star < 0 ? charset : charset.slice(0, star)).toLowerCase(); // drop RFC 2231 language
  let d = decoders.get(key);
  if (d === undefined) {
    try {
      d = new TextDecoder(key);
    } catch {
      d = null;
    }
    if (decoders.size >= MAX_DECODERS) decoders.clear();
    decoders.set(key, d);
  }
  return d;
}

function decodeWord(charset: string, enc: string, text: string): string | undefined {
  // Unknown charsets are read as UTF-8 (what Pigeonhole does) rather than left encoded.
  const dec = decoderFor(charset) ?? decoderFor('utf-8');
  if (!dec) return undefined;
  const bytes = enc === 'B' || enc === 'b' ? decodeBase64(text) : decodeQ(text);
  return dec.decode(bytes);
}

/** Decodes RFC 2047 encoded words in an (unfolded) header value. */
export function decodeHeaderValue(value: string): string {
  if (!value.includes('=?')) return value;
  let out = '';
  let last = 0;
  let prevWasWord = false;
  ENCODED_WORD.lastIndex = 0;
  for (let m = ENCODED_WORD.exec(value); m; m = ENCODED_WORD.exec(value)) {
    const between = value.slice(last, m.index);
    const decoded = decodeWord(m[1] ?? '', m[2] ?? 'B', m[3] ?? '');
    if (decoded === undefined) {
      out += between + m[0];
      prevWasWord = false;
    } else {
      if (!(prevWasWord && /^[ \t\r\n]*$/.test(between))) out += between;
      out += decoded;
      prevWasWord = true;
    }
    last = m.index + m[0].length;
  }
  return out + value.slice(last);
}

/** Unfolds and trims a raw header value the way Sieve compares it. */
export function unfoldHeaderValue(raw: string): string {
  const n = raw.length;
  if (n > 0 && !raw.includes('\n')) {
    let a = 0;
    let b = n;
    while (a < b && (raw.charCodeAt(a) === 32 || raw.charCodeAt(a) === 9)) a++;
    while (b > a && (raw.charCodeAt(b - 1) === 32 || raw.charCodeAt(b - 1) === 9)) b--;
    return a === 0 && b === n ? raw : raw.slice(a, b);
  }
  let v = raw;
  if (v.includes('\n')) v = v.replace(/\r?\n[ \t]/g, ' ').replace(/\r?\n/g, '');
  // Trimmed by index: /[ \t]+$/ rescans a long inner run of blanks from each of its characters.
  let a = 0;
  let b = v.length;
  while (a < b && (v.charCodeAt(a) === 32 || v.charCodeAt(a) === 9)) a++;
  while (b > a && (v.charCodeAt(b - 1) === 32 || v.charCodeAt(b - 1) === 9)) b--;
  return v.slice(a, b);
}
