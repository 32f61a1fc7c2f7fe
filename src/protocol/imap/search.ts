// SEARCH criteria (RFC 3501 6.4.4, plus MODSEQ from RFC 7162 and
// OLDER/YOUNGER from RFC 5032): parsed into a tree, then evaluated per
// message. Cheap keys (flags, UID, sizes, dates) come from the index record;
// header keys from the stored MIME index and the message model's header
// view (mime/); BODY/TEXT read the message and decode its text parts there.
import { ImapParseError, isAtom, astring, number, type Arg } from './parser.js';
import { parseSequenceSet, inSequenceSet, type SeqRange } from './sequence.js';
import { parseDate } from './response.js';
import type { MessageIndex, MessageRecord } from './backend.js';
import { MessageHeader, searchableText, unfold } from '../../../mime/index.js';

export type SearchKey =
  | { op: 'all' }
  | { op: 'and'; keys: SearchKey[] }
  | { op: 'or'; a: SearchKey; b: SearchKey }
  | { op: 'not'; key: SearchKey }
  | { op: 'flag'; flag: string; set: boolean }
  | { op: 'new' }
  | { op: 'recent' }
  /** "$": the saved search result (RFC 5182), as a sequence set or after UID. */
  | { op: 'saved' }
  | { op: 'seq'; ranges: SeqRange[] }
  | { op: 'uid'; ranges: SeqRange[] }
  | { op: 'size'; larger: boolean; n: number }
  | { op: 'date'; field: 'internal' | 'sent'; cmp: 'before' | 'on' | 'since'; day: number }
  | { op: 'age'; older: boolean; seconds: number }
  /** `raw`: HEADER, which looks in each field's own value; TO, FROM, CC, BCC and SUBJECT may use the indexed text. */
  | { op: 'header'; field: string; value: string; raw?: boolean }
  | { op: 'body'; value: string; text: boolean }
  | { op: 'modseq'; n: number }
  | { op: 'none' };

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
  OLD: ['\\Recent', false],
};

const HEADER_KEYS = new Set(['BCC', 'CC', 'FROM', 'SUBJECT', 'TO']);

export interface ParsedSearch {
  key: SearchKey;
  charset: string | undefined;
  usesModseq: boolean;
}

/** Parses "[CHARSET x] criteria..." (the RETURN options are handled by the command). */
export function parseSearch(args: Arg[], decodeString: (a: Arg | undefined) => string = (a) => astring(a)): ParsedSearch {
  let i = 0;
  let charset: string | undefined;
  if (isAtom(args[0], 'CHARSET')) {
    charset = astring(args[1], 'charset').toUpperCase();
    if (!['UTF-8', 'US-ASCII', 'UTF8', 'ASCII'].includes(charset)) throw new CharsetError();
    i = 2;
  }
  let usesModseq = false;
  const readKey = (): SearchKey => {
    const a = args[i++];
    if (a === undefined) throw new ImapParseError('Missing search key');
    if (a.type === 'list') {
      const sub = parseSearch(a.items, decodeString);
      usesModseq ||= sub.usesModseq;
      return sub.key;
    }
    if (a.type !== 'atom') throw new ImapParseError('Expected a search key');
    const k = a.value.toUpperCase();
    const str = (what: string) => decodeString(args[i++] ?? (() => { throw new ImapParseError(`Missing ${what}`); })());
    const date = () => {
      const d = parseDate(astring(args[i++], 'date'));
      if (d === undefined) throw new ImapParseError('Bad date');
      return d;
    };
    if (k === 'ALL') return { op: 'all' };
    if (k in FLAG_KEYS) {
      const [flag, set] = FLAG_KEYS[k]!;
      return { op: 'flag', flag, set };
    }
    switch (k) {
      case 'NEW':
        return { op: 'new' };
      case 'RECENT':
        return { op: 'recent' };
      case 'KEYWORD':
      case 'UNKEYWORD': {
        const flag = astring(args[i++], 'keyword');
        return { op: 'flag', flag, set: k === 'KEYWORD' };
      }
      case 'NOT':
        return { op: 'not', key: readKey() };
      case 'OR': {
        const a1 = readKey();
        const b1 = readKey();
        return { op: 'or', a: a1, b: b1 };
      }
      case 'LARGER':
      case 'SMALLER':
        return { op: 'size', larger: k === 'LARGER', n: number(args[i++], 'size') };
      case 'BEFORE':
      case 'ON':
      case 'SINCE':
        return { op: 'date', field: 'internal', cmp: k.toLowerCase() as 'before', day: date() };
      case 'SENTBEFORE':
      case 'SENTON':
      case 'SENTSINCE':
        return { op: 'date', field: 'sent', cmp: k.slice(4).toLowerCase() as 'before', day: date() };
      case 'OLDER':
      case 'YOUNGER':
        return { op: 'age', older: k === 'OLDER', seconds: number(args[i++], 'interval') };
      case 'BCC':
      case 'CC':
      case 'FROM':
      case 'SUBJECT':
      case 'TO':
        return { op: 'header', field: k, value: str('search string') };
      case 'HEADER': {
        const field = astring(args[i++], 'header name');
        return { op: 'header', field: field.toUpperCase(), value: str('search string'), raw: true };
      }
      case 'BODY':
      case 'TEXT':
        return { op: 'body', value: str('search string'), text: k === 'TEXT' };
      case 'UID': {
        const set = astring(args[i++], 'UID set');
        return set === '$' ? { op: 'saved' } : { op: 'uid', ranges: parseSequenceSet(set) };
      }
      case 'MODSEQ': {
        usesModseq = true;
        // optional entry name and type: MODSEQ "/flags/\\draft" all 620162338
        if (args[i] !== undefined && args[i]!.type === 'string') i += 2;
        return { op: 'modseq', n: number(args[i++], 'mod-sequence') };
      }
      case '$':
        return { op: 'saved' };
      default:
        if (/^[\d*]/.test(k)) return { op: 'seq', ranges: parseSequenceSet(a.value) };
        throw new ImapParseError(`Unknown search key ${a.value.slice(0, 40)}`);
    }
  };
  const keys: SearchKey[] = [];
  while (i < args.length) keys.push(readKey());
  if (keys.length === 0) throw new ImapParseError('Missing search criteria');
  return { key: keys.length === 1 ? keys[0]! : { op: 'and', keys }, charset, usesModseq };
}

export class CharsetError extends ImapParseError {
  constructor() {
    super('Unsupported charset');
  }
}

/** One message as the evaluator sees it; index and raw are fetched only when a key needs them. */
export interface SearchCandidate {
  seq: number;
  record: MessageRecord;
  index(): MessageIndex;
  raw(): Buffer;
}

export interface SearchScope {
  /** Largest sequence number and UID, for "*". */
  maxSeq: number;
  maxUid: number;
  now: number;
  /** RFC 2047 decoding of a raw header value (the backend's: storage owns MIME). */
  decodeHeader(value: string): string;
  /** The day a Date value names as written (UTC midnight); without it, the UTC day of the parsed date. */
  writtenDay?(value: string): number | null;
  /** \Recent for this session (none when absent). */
  isRecent?(uid: number): boolean;
  /** The UIDs of "$" (empty when absent). */
  saved?: ReadonlySet<number>;
}

const DAY = 86_400_000;

function fold(s: string): string {
  return s.toLowerCase();
}

export function matchSearch(key: SearchKey, m: SearchCandidate, scope: SearchScope, cache: SearchCache = new Map()): boolean {
  switch (key.op) {
    case 'all':
      return true;
    case 'none':
      return false;
    case 'and':
      return key.keys.every((k) => matchSearch(k, m, scope, cache));
    case 'or':
      return matchSearch(key.a, m, scope, cache) || matchSearch(key.b, m, scope, cache);
    case 'not':
      return !matchSearch(key.key, m, scope, cache);
    case 'flag': {
      if (key.flag.toLowerCase() === '\\recent') return (scope.isRecent?.(m.record.uid) ?? false) === key.set;
      const has = m.record.flags.some((f) => f.toLowerCase() === key.flag.toLowerCase());
      return has === key.set;
    }
    case 'recent':
      return scope.isRecent?.(m.record.uid) ?? false;
    case 'new':
      return (scope.isRecent?.(m.record.uid) ?? false) && !m.record.flags.includes('\\Seen');
    case 'saved':
      return scope.saved?.has(m.record.uid) ?? false;
    case 'seq':
      return inSequenceSet(key.ranges, m.seq, scope.maxSeq);
    case 'uid':
      return inSequenceSet(key.ranges, m.record.uid, scope.maxUid);
    case 'size': {
      // RFC822.SIZE, as FETCH reports it (bare LFs count as CRLF).
      const size = m.index().vsize;
      return key.larger ? size > key.n : size < key.n;
    }
    case 'age': {
      const age = (scope.now - m.record.internalDate) / 1000;
      return key.older ? age >= key.seconds : age <= key.seconds;
    }
    case 'modseq':
      return m.record.modseq >= key.n;
    case 'date': {
      const day = key.field === 'internal' ? localDay(m.record.internalDate) : sentDay(m, scope);
      if (key.cmp === 'before') return day < key.day;
      if (key.cmp === 'on') return day === key.day;
      return day >= key.day;
    }
    case 'header': {
      // An empty string matches every message that has the field, whatever its value (RFC 3501 6.4.4).
      if (key.value === '') return headerValues(m, key.field, cache, scope.decodeHeader) !== undefined;
      const needle = fold(key.value);
      const idx = m.index();
      let hay: string | undefined;
      // HEADER To ", " must not match a message with two To fields of one address each (as Dovecot): each field on its own.
      if (key.raw) hay = undefined;
      else if (key.field === 'SUBJECT') hay = idx.search.subject;
      else if (key.field === 'FROM') hay = idx.search.from;
      else if (key.field === 'TO') hay = idx.search.to;
      else if (key.field === 'CC') hay = idx.search.cc;
      else if (key.field === 'BCC') hay = idx.search.bcc;
      if (hay !== undefined && (needle === '' || fold(hay).includes(needle))) return true;
      const values = headerValues(m, key.field, cache, scope.decodeHeader, key.raw === true);
      if (values === undefined) return false;
      return needle === '' || values.some((v) => fold(v).includes(needle));
    }
    case 'body': {
      const needle = fold(key.value);
      if (key.text) {
        const header = cached(cache, 'header', () => {
          const idx = m.index();
          return scope.decodeHeader(m.raw().toString('latin1', idx.body.hdrOff, idx.body.hdrOff + idx.body.hdrLen));
        });
        if (fold(header).includes(needle)) return true;
        // TEXT also looks in the headers of MIME parts and embedded messages; BODY does not (as Dovecot).
        const all = cached(cache, 'text', () => searchableText(m.raw(), m.index().body, true));
        return fold(all).includes(needle);
      }
      const body = cached(cache, 'body', () => searchableText(m.raw(), m.index().body));
      return fold(body).includes(needle);
    }
  }
}

/**
 * BEFORE/ON/SINCE: the internal date's day in the server's timezone, as
 * Dovecot does (RFC 3501 leaves the zone open), as UTC midnight of that day.
 */
function localDay(t: number): number {
  const d = new Date(t);
  return Date.UTC(d.getFullYear(), d.getMonth(), d.getDate());
}

/**
 * SENTBEFORE/SENTON/SENTSINCE: the day the Date header names as written,
 * disregarding its time and zone (RFC 3501 6.4.4). A message without a
 * readable Date counts as sent at the epoch, as in Dovecot.
 */
function sentDay(m: SearchCandidate, scope: SearchScope): number {
  const idx = m.index();
  if (scope.writtenDay !== undefined) return idx.envelope.date === undefined ? 0 : (scope.writtenDay(idx.envelope.date) ?? 0);
  return idx.search.date === null ? 0 : Math.floor(idx.search.date / DAY) * DAY;
}

/** What one message's evaluation computed once: header text, body text, the header view. */
type SearchCache = Map<string, string | MessageHeader>;

function cached<T extends string | MessageHeader>(cache: SearchCache, key: string, make: () => T): T {
  let v = cache.get(key) as T | undefined;
  if (v === undefined) {
    v = make();
    cache.set(key, v);
  }
  return v;
}

/**
 * Values of a header field (unfolded, encoded words decoded), or undefined
 * when absent. `asWritten` (HEADER): the blanks around the value stay, but
 * for the one space after the colon, as Dovecot matches them.
 */
function headerValues(m: SearchCandidate, field: string, cache: SearchCache, decodeHeader: (v: string) => string, asWritten = false): string[] | undefined {
  const header = cached(cache, 'headerview', () => {
    const idx = m.index();
    return new MessageHeader(m.raw().subarray(idx.body.hdrOff, idx.body.hdrOff + idx.body.hdrLen));
  });
  const fields = header.all(field);
  if (fields.length === 0) return undefined;
  return fields.map((f) => decodeHeader(asWritten ? unfoldAsWritten(header.rawText(f)) : unfold(header.rawText(f))));
}

/** A field's value with its line breaks before a blank removed, its blanks kept but a first one. */
function unfoldAsWritten(value: string): string {
  const v = value.includes('\n') ? value.replace(/\r?\n(?=[ \t])/g, '') : value;
  return v.charCodeAt(0) === 0x20 || v.charCodeAt(0) === 0x09 ? v.slice(1) : v;
}
