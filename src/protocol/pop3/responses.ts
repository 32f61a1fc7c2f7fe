// Every byte the POP3 server sends is made here: status lines, multi-line
// lists, and message bodies (CRLF line ends, dot-stuffed, ended by ".").

const CRLF = Buffer.from('\r\n');
/** The line that ends a multi-line reply. */
export const END = Buffer.from('.\r\n');
const DOT = Buffer.from('.');
const SMALL_MESSAGE = 256 * 1024;

/** RFC 2449 8 response codes (and RFC 3206's SYS/TEMP, SYS/PERM, AUTH). */
export type Pop3Code = 'IN-USE' | 'AUTH' | 'SYS/TEMP' | 'SYS/PERM' | 'LOGIN-DELAY';

export type Pop3Reply =
  | { kind: 'ok'; text: string }
  | { kind: 'err'; text: string; code?: Pop3Code }
  | { kind: 'multi'; text: string; lines: string[] }
  /**
   * `crlf`: the store says the message has CRLF line ends only (no bare LF
   * to mend); `dotFree`: it says no line starts with "." (nothing to stuff).
   */
  | { kind: 'message'; text: string; raw: Buffer; bodyLines?: number; crlf?: boolean | undefined; dotFree?: boolean | undefined }
  /** A SASL challenge (base64 payload, possibly empty). */
  | { kind: 'continue'; data: Buffer };

export const ok = (text: string): Pop3Reply => ({ kind: 'ok', text });
export const err = (text: string, code?: Pop3Code): Pop3Reply => (code ? { kind: 'err', text, code } : { kind: 'err', text });

const BREAKS = /[\r\n\0]/;
const BREAKS_ALL = /[\r\n\0]/g;

/** Text we put on a status line can never break the line (looked for first: RETR's "N octets" has none, and a replace costs more). */
function clean(text: string): string {
  return BREAKS.test(text) ? text.replace(BREAKS_ALL, ' ') : text;
}

export function compileReply(reply: Pop3Reply): Buffer[] {
  const parts = replyParts(reply);
  // A small message goes out in one write (one packet, one syscall); a big one as slices, not copied.
  return reply.kind === 'message' && reply.raw.length <= SMALL_MESSAGE ? [Buffer.concat(parts)] : parts;
}

/** The reply's bytes as pieces (a message as slices of its stored bytes and the few bytes added). */
export function replyParts(reply: Pop3Reply): Buffer[] {
  switch (reply.kind) {
    case 'ok':
      return [Buffer.from(`+OK${reply.text ? ' ' + clean(reply.text) : ''}\r\n`)];
    case 'err':
      return [Buffer.from(`-ERR ${reply.code ? `[${reply.code}] ` : ''}${clean(reply.text)}\r\n`)];
    case 'continue':
      return [Buffer.from(`+ ${reply.data.toString('base64')}\r\n`)];
    case 'multi': {
      const body = reply.lines.map((l) => (l.startsWith('.') ? '.' : '') + clean(l) + '\r\n').join('');
      return [Buffer.from(`+OK${reply.text ? ' ' + clean(reply.text) : ''}\r\n${body}.\r\n`)];
    }
    case 'message': {
      const parts = messageParts(reply);
      parts.unshift(Buffer.from(statusLine(reply)));
      parts.push(END);
      return parts;
    }
  }
}

type MessageReply = Extract<Pop3Reply, { kind: 'message' }>;

/** A message reply's first line, CRLF included. */
export function statusLine(reply: MessageReply): string {
  return `+OK${reply.text ? ' ' + clean(reply.text) : ''}\r\n`;
}

/**
 * The store says the message has CRLF line ends only, and its last line has
 * its CRLF: sent as stored but for dot-stuffing (OutputBatch.dotStuffed).
 */
export function crlfAsStored(reply: MessageReply): boolean {
  const { raw } = reply;
  const n = raw.length;
  return reply.crlf === true && reply.bodyLines === undefined && (n === 0 || (raw[n - 1] === 0x0a && raw[n - 2] === 0x0d));
}

/** A message reply's body as pieces, dot-stuffed, without the "." line that ends it. */
export function messageParts(reply: MessageReply): Buffer[] {
  return reply.crlf && reply.bodyLines === undefined ? crlfMessageBody(reply.raw, reply.dotFree) : messageBody(reply.raw, reply.bodyLines);
}

/**
 * messageBody for a message known to have CRLF line ends only (the index
 * saw no bare LF): the only change is a dot before each line that starts
 * with one, found by a search for "." instead of a look at every line.
 * A last line without its CRLF still gets one. `dotFree`: the index says no
 * line starts with ".", so there is nothing to look for.
 */
export function crlfMessageBody(raw: Buffer, dotFree = false): Buffer[] {
  const n = raw.length;
  // A last line without its CRLF (or a bare LF there): mended the careful way.
  if (n > 0 && (raw[n - 1] !== 0x0a || raw[n - 2] !== 0x0d)) return messageBody(raw);
  if (dotFree) return n > 0 ? [raw] : [];
  const out: Buffer[] = [];
  let runStart = 0;
  if (raw[0] === 0x2e) out.push(DOT);
  // Each "." looked at (a one-byte search is memchr, many times faster than one for LF ".").
  for (let at = raw.indexOf(0x2e, 1); at >= 0; at = raw.indexOf(0x2e, at + 1)) {
    if (raw[at - 1] !== 0x0a) continue;
    out.push(raw.subarray(runStart, at), DOT);
    runStart = at;
  }
  if (runStart < n) out.push(raw.subarray(runStart));
  return out;
}

/**
 * A stored message as POP3 sends it: each line ended by CRLF (a bare LF
 * becomes CRLF), a line starting with "." gets another one (RFC 1939 3).
 * With `bodyLines` (TOP), the header and that many body lines only. The
 * pieces are slices of `raw` plus the few bytes added: no copy of the message.
 */
export function messageBody(raw: Buffer, bodyLines?: number): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  let inHeader = true;
  let bodyLeft = bodyLines ?? Infinity;
  // A run of lines sent as one slice: from runStart to the current line's start.
  let runStart = 0;
  while (start < raw.length) {
    if (!inHeader && bodyLeft <= 0) break;
    const lf = raw.indexOf(0x0a, start);
    const end = lf < 0 ? raw.length : lf;
    const crlf = lf > start && raw[lf - 1] === 0x0d;
    const contentEnd = crlf ? end - 1 : end;
    if (raw[start] === 0x2e) {
      if (start > runStart) out.push(raw.subarray(runStart, start));
      out.push(DOT);
      runStart = start;
    }
    if (!crlf) {
      // A bare LF (or no line end at all): send the content, then CRLF.
      if (contentEnd > runStart) out.push(raw.subarray(runStart, contentEnd));
      out.push(CRLF);
      runStart = lf < 0 ? raw.length : lf + 1;
    }
    if (inHeader) {
      if (contentEnd === start) inHeader = false;
    } else bodyLeft--;
    start = lf < 0 ? raw.length : lf + 1;
  }
  if (start > runStart) out.push(raw.subarray(runStart, start));
  return out;
}
