// Decoding of header values: RFC 2047 encoded words and charsets (through
// libmime), address lists as text, message ids, RFC 5322 dates.

import libmime from 'libmime';
import libcharset from 'libmime/lib/charset.js';
import type { EnvelopeAddress } from './types.js';

/** Byte string (latin1) -> text: valid UTF-8 is decoded as such, anything else kept as latin1. */
export function bytesToText(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[\x80-\xff]/.test(s)) return s;
  const utf8 = Buffer.from(s, 'latin1').toString('utf8');
  return utf8.includes('\ufffd') ? s : utf8;
}

/**
 * Decodes the RFC 2047 encoded words of a header value (a latin1 byte
 * string, possibly folded) to Unicode text. libmime does the words (B and
 * Q, charsets through iconv-lite, an unknown charset read as UTF-8, the
 * whitespace between adjacent words dropped as RFC 2047 6.2 says); raw
 * 8-bit bytes around them are read as UTF-8 when they are valid UTF-8.
 */
export function decodeHeader(value: string): string {
  return decodeWords(bytesToText(value.replace(/\r?\n/g, '')));
}

/** RFC 2047 encoded words in text that is already Unicode (e.g. an unfolded Sieve header value). */
export function decodeWords(text: string): string {
  return text.includes('=?') ? libmime.decodeWords(text) : text;
}

/** Bytes in a named charset (a MIME charset parameter) to text; unknown charsets are read as UTF-8. */
export function decodeCharset(bytes: Buffer, charset: string | undefined): string {
  // Most text is plain ASCII, which reads the same in every ASCII-compatible
  // charset: done natively, not byte by byte through iconv-lite (SEARCH BODY
  // decodes every message it looks at).
  if (charset === undefined || ASCII_COMPATIBLE.test(charset)) {
    const text = bytes.toString('latin1');
    // All ASCII when no character takes two bytes in UTF-8: a native count,
    // several times faster than a regular expression over every character.
    if (Buffer.byteLength(text, 'utf8') === text.length) return text;
  }
  return libcharset.decode(bytes, charset === undefined || charset === '' ? 'utf-8' : charset);
}

/** Charsets in which the bytes 0x00-0x7F are ASCII (not UTF-16/32, UTF-7, EBCDIC, nor ISO-2022, whose escapes are ASCII bytes). */
const ASCII_COMPATIBLE = /^(?:|(?:us-)?ascii|utf-?8|iso[-_]?8859[-_]?\d{1,2}|(?:windows|cp)-?125\d|latin-?\d|koi8-[ru]|gb2312|gbk|gb18030|big5|shift_jis|euc-(?:jp|kr))$/i;

/** An address list as search text: "Name <mailbox@domain>, group: ...;". */
export function addressesToText(list: EnvelopeAddress[] | undefined): string {
  if (list === undefined) return '';
  const parts: string[] = [];
  for (const [name, , mailbox, domain] of list) {
    if (domain === null) {
      if (mailbox !== null) parts.push(`${decodeHeader(mailbox)}:`);
      continue;
    }
    const addr = mailbox === null ? '' : `${bytesToText(mailbox)}@${bytesToText(domain)}`;
    parts.push(name !== null && name !== '' ? `${decodeHeader(name)} <${addr}>` : addr);
  }
  return parts.join(', ');
}

/** The <...> message ids in a References/In-Reply-To value, in order. */
export function messageIds(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value.match(/<[^<>\s]*>/g) ?? [];
}

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};
const ZONES: Record<string, number> = {
  ut: 0, utc: 0, gmt: 0, z: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420,
};

interface DateParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  min: number;
  sec: number;
  /** The zone's offset from UTC, in minutes. */
  offset: number;
}

/** The fields of an RFC 5322 (or obsolete RFC 822) date as written; null when it cannot be read. */
function dateParts(value: string | undefined): DateParts | null {
  if (value === undefined) return null;
  const s = value.replace(/\([^()]*\)/g, ' ').replace(/\s+/g, ' ').trim();
  const m = /^(?:[A-Za-z]+,?\s*)?(\d{1,2})\s+([A-Za-z]{3})[A-Za-z]*\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s+([+-]\d{4}|[A-Za-z]+))?/.exec(s);
  if (m === null) return null;
  const day = Number(m[1]);
  const month = MONTHS[m[2]!.toLowerCase()];
  let year = Number(m[3]);
  if (month === undefined) return null;
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const hour = Number(m[4]);
  const min = Number(m[5]);
  const sec = m[6] === undefined ? 0 : Number(m[6]);
  if (day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return null;
  let offset = 0;
  const z = m[7];
  if (z !== undefined) {
    if (z[0] === '+' || z[0] === '-') {
      const sign = z[0] === '-' ? -1 : 1;
      offset = sign * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5)));
    } else {
      offset = ZONES[z.toLowerCase()] ?? 0;
    }
  }
  return { year, month, day, hour, min, sec, offset };
}

/** Parses an RFC 5322 (or obsolete RFC 822) date to epoch ms; null when it cannot. */
export function parseDate(value: string | undefined): number | null {
  const p = dateParts(value);
  if (p === null) return null;
  const t = Date.UTC(p.year, p.month, p.day, p.hour, p.min, p.sec) - p.offset * 60000;
  return Number.isFinite(t) ? t : null;
}

/**
 * The calendar day a date names as written, whatever its time and zone
 * (SEARCH SENTON and friends, RFC 3501 6.4.4), as UTC midnight of that day;
 * null when it cannot be read.
 */
export function writtenDay(value: string | undefined): number | null {
  const p = dateParts(value);
  if (p === null) return null;
  const t = Date.UTC(p.year, p.month, p.day);
  return Number.isFinite(t) ? t : null;
}
