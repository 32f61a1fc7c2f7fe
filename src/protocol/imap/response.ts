// Responses as data, and the one compiler that turns them into bytes.
// Handlers build ImapResponse values; only the session writes them.

export type ImapValue =
  /** Written as is: atoms, flags, numbers as text, "BODY[1]<0>". */
  | string
  | number
  /** NIL */
  | null
  /** A parenthesized list. */
  | ImapValue[]
  /** A string, quoted when it can be, else a literal. */
  | { str: string | Buffer }
  /** Always a literal. */
  | { literal: Buffer }
  /** A literal8 ("~{n}", RFC 3516): binary data that may hold NULs. */
  | { literal8: Buffer }
  /** Pre-rendered protocol text (latin1 byte string), e.g. ENVELOPE from fetch-structure; `ascii` when known to be 7-bit. */
  | { raw: string; ascii?: boolean };

export type StatusWord = 'OK' | 'NO' | 'BAD' | 'BYE' | 'PREAUTH';

export type ImapResponse =
  | { type: 'untagged'; values: ImapValue[] }
  | { type: 'status'; tag: string | undefined; status: StatusWord; code?: string | undefined; text: string }
  | { type: 'continue'; text: string };

export const untagged = (...values: ImapValue[]): ImapResponse => ({ type: 'untagged', values });

export const statusResponse = (status: StatusWord, text: string, code?: string, tag?: string): ImapResponse => ({
  type: 'status',
  tag,
  status,
  code,
  text,
});

const ASCII = /^[\x00-\x7f]*$/;

export interface CompileOptions {
  /** UTF8=ACCEPT enabled: 8-bit UTF-8 may go in quoted strings. */
  utf8: boolean;
}

function needsLiteral(s: string, utf8: boolean): boolean {
  if (s.length > 1024) return true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c === 0) return true;
    if (c >= 0x80 && !utf8) return true;
  }
  return false;
}

/** Turns one response into wire bytes (a list of buffers to write in order). */
export function compileResponse(resp: ImapResponse, options: CompileOptions = { utf8: false }): Buffer[] {
  return compileResponses([resp], options);
}

/**
 * Turns responses into wire bytes, in order: text runs on across responses
 * and becomes one buffer up to each literal (a FETCH of 100 messages is one
 * buffer, not 100).
 */
export function compileResponses(responses: readonly ImapResponse[], options: CompileOptions = { utf8: false }): Buffer[] {
  const out: Buffer[] = [];
  let text = '';
  const flushText = () => {
    if (text !== '') out.push(Buffer.from(text, 'utf8'));
    text = '';
  };
  const pushLiteral = (b: Buffer, binary = false) => {
    text += `${binary ? '~' : ''}{${b.length}}\r\n`;
    flushText();
    out.push(b);
  };
  const value = (v: ImapValue): void => {
    if (v === null) text += 'NIL';
    else if (typeof v === 'string') text += v;
    else if (typeof v === 'number') text += String(v);
    else if (Array.isArray(v)) {
      text += '(';
      for (let i = 0; i < v.length; i++) {
        if (i > 0) text += ' ';
        value(v[i]!);
      }
      text += ')';
    } else if ('literal' in v) pushLiteral(v.literal);
    else if ('literal8' in v) pushLiteral(v.literal8, true);
    else if ('raw' in v) {
      // ASCII is the same bytes in latin1 and UTF-8: it joins the text.
      if (v.ascii === true || ASCII.test(v.raw)) text += v.raw;
      else {
        flushText();
        out.push(Buffer.from(v.raw, 'latin1'));
      }
    } else {
      const s = typeof v.str === 'string' ? v.str : v.str.toString('utf8');
      if (typeof v.str !== 'string' && !Buffer.from(s, 'utf8').equals(v.str)) pushLiteral(v.str);
      else if (needsLiteral(s, options.utf8)) pushLiteral(Buffer.from(s, 'utf8'));
      else text += `"${s.replace(/["\\]/g, '\\$&')}"`;
    }
  };
  for (const resp of responses) {
    switch (resp.type) {
      case 'untagged':
        text += '* ';
        for (let i = 0; i < resp.values.length; i++) {
          if (i > 0) text += ' ';
          value(resp.values[i]!);
        }
        break;
      case 'status':
        text += `${resp.tag ?? '*'} ${resp.status} `;
        if (resp.code !== undefined) text += `[${resp.code}] `;
        text += sanitizeText(resp.text);
        break;
      case 'continue':
        // An empty SASL challenge is "+ " with nothing after it.
        text += resp.text === '' ? '+ ' : `+ ${sanitizeText(resp.text)}`;
        break;
    }
    text += '\r\n';
  }
  flushText();
  return out;
}

/** Human-readable text must stay on one line. */
function sanitizeText(s: string): string {
  // eslint-disable-next-line no-control-regex
  const t = s.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return t === '' ? 'OK' : t;
}

/** RFC 3501 quoted string for use inside response codes. */
export function quote(s: string): string {
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** INTERNALDATE: "23-Nov-2026 10:00:00 +0000" (UTC). */
export function formatInternalDate(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${String(d.getUTCDate()).padStart(2, ' ')}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes(),
  )}:${pad(d.getUTCSeconds())} +0000`;
}

/** Parses an IMAP date-time ("23-Nov-2026 10:00:00 +0100"); undefined when malformed. */
export function parseDateTime(s: string): number | undefined {
  const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(s);
  if (m === null) return undefined;
  const month = MONTHS.findIndex((x) => x.toLowerCase() === m[2]!.toLowerCase());
  if (month < 0) return undefined;
  const [day, year, hh, mm, ss, zh, zm] = [m[1], m[3], m[4], m[5], m[6], m[8], m[9]].map(Number) as number[];
  if (day! < 1 || day! > 31 || hh! > 23 || mm! > 59 || ss! > 60) return undefined;
  const offset = (m[7] === '-' ? -1 : 1) * (zh! * 60 + zm!);
  return Date.UTC(year!, month, day!, hh!, mm!, ss!) - offset * 60_000;
}

/** An IMAP date ("1-Feb-2026") as the UTC midnight of that day; undefined when malformed. */
export function parseDate(s: string): number | undefined {
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(s);
  if (m === null) return undefined;
  const month = MONTHS.findIndex((x) => x.toLowerCase() === m[2]!.toLowerCase());
  if (month < 0) return undefined;
  const day = Number(m[1]);
  if (day < 1 || day > 31) return undefined;
  return Date.UTC(Number(m[3]), month, day);
}
