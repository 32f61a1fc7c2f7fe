// Decoding for search fields: RFC 2047 encoded words, header unfolding,
// RFC 5322 dates. Only header values are decoded here, never bodies.

import { TextDecoder } from 'node:util';
import type { EnvelopeAddress } from './types.js';

const decoders = new Map<string, TextDecoder | null>();

function decoderFor(charset: string): TextDecoder | null {
  const key = charset.toLowerCase();
  let d = decoders.get(key);
  if (d === undefined) {
    try {
      d = new TextDecoder(key === 'us-ascii' || key === 'ascii' ? 'utf-8' : key, { fatal: false });
    } catch {
      d = null;
    }
    // Charset names come from messages: the cache must not grow without end.
    if (decoders.size >= 256) decoders.clear();
    decoders.set(key, d);
  }
  return d;
}

/** Byte string (latin1) -> text: valid UTF-8 is decoded as such, anything else kept as latin1. */
export function bytesToText(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[\x80-\xff]/.test(s)) return s;
  const b = Buffer.from(s, 'latin1');
  const utf8 = b.toString('utf8');
  return utf8.includes('\ufffd') ? s : utf8;
}

function decodeQ(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '_') out.push(0x20);
    else if (c === '=' && i + 2 < text.length + 0 && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(text.charCodeAt(i) & 0xff);
  }
  return Buffer.from(out);
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

/** Decodes RFC 2047 encoded words in a header value (byte string) to Unicode text, unfolded. */
export function decodeHeader(value: string): string {
  const unfolded = value.replace(/\r?\n/g, '');
  if (!unfolded.includes('=?')) return bytesToText(unfolded);
  let out = '';
  let last = 0;
  let prevWasWord = false;
  ENCODED_WORD.lastIndex = 0;
  for (let m = ENCODED_WORD.exec(unfolded); m !== null; m = ENCODED_WORD.exec(unfolded)) {
    const between = unfolded.slice(last, m.index);
    // Whitespace between two encoded words is dropped (RFC 2047 section 6.2).
    if (!(prevWasWord && /^[ \t]*$/.test(between))) out += bytesToText(between);
    const charset = m[1]!.split('*')[0]!;
    const enc = m[2]!.toUpperCase();
    const bytes = enc === 'B' ? Buffer.from(m[3]!, 'base64') : decodeQ(m[3]!);
    const d = decoderFor(charset);
    out += d === null ? bytes.toString('latin1') : d.decode(bytes);
    last = m.index + m[0].length;
    prevWasWord = true;
  }
  out += bytesToText(unfolded.slice(last));
  return out;
}

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
