// SORT and UID SORT (RFC 5256, with DISPLAYFROM/DISPLAYTO of RFC 5957) and
// the ESORT return options (RFC 5267: MIN, MAX, ALL, COUNT, SAVE and
// PARTIAL), answering as Dovecot 2.3 does: strings compare in i;unicode-casemap
// form as UTF-8 bytes, ties go to the next key and finally to the sequence
// number (ascending, whatever REVERSE says), dates and arrival compare in
// whole seconds.
import { defineCommand, SELECTED, type CommandResult, type SessionContext } from '../command.js';
import { astring, ImapParseError, isAtom, list, type Arg } from '../parser.js';
import { parseSearch, type ParsedSearch } from '../search.js';
import { matchingMessages } from './matching.js';
import { quote, untagged, type ImapValue } from '../response.js';
import { formatUidList } from '../sequence.js';
import { formatPartialRange, parsePartialRange, partialSlice, type PartialRange } from '../partial-range.js';
import { searchStringDecoder } from '../search-charset.js';
import { baseSubject, compareCodePoints, replaceInvalidUtf8, unicodeCasemap } from '../base-subject.js';
import type { MessageIndex, MessageRecord } from '../backend.js';

const KEYS = new Set(['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO']);

export interface SortKey {
  key: string;
  reverse: boolean;
}

/** RFC 5267 return options; PARTIAL is a 1-based inclusive range of the sorted result (negative: from its end, RFC 9394). */
export interface SortReturn {
  min: boolean;
  max: boolean;
  all: boolean;
  count: boolean;
  save: boolean;
  partial: PartialRange | undefined;
}

interface SortArgs {
  byUid: boolean;
  keys: SortKey[];
  search: ParsedSearch | undefined;
  ret: SortReturn | undefined;
}

type Addresses = MessageIndex['envelope']['from'];

/** The mailbox (local part) of the first address, or a group's name (RFC 5256 FROM/TO/CC). */
function firstMailbox(addresses: Addresses, decode: (v: string) => string): string {
  const a = addresses?.[0];
  return a?.[2] != null ? decode(a[2]) : '';
}

/** RFC 5957: the decoded display name of the first address, else its address. */
function displayName(addresses: Addresses, decode: (v: string) => string): string {
  const a = addresses?.[0];
  if (a === undefined) return '';
  const [name, , mailbox, host] = a;
  if (name !== null) {
    const decoded = decode(name);
    if (decoded !== '') return decoded;
  }
  if (mailbox === null) return '';
  return host === null ? decode(mailbox) : `${decode(mailbox)}@${decode(host)}`;
}

/** INTERNALDATE in whole seconds, as Dovecot compares it. */
const arrival = (rec: MessageRecord): number => Math.floor(rec.internalDate / 1000);

/** The value a message sorts by under one key: a number, or a string in casemapped form. */
export function sortValue(key: string, rec: MessageRecord, index: MessageIndex, decode: (v: string) => string): string | number {
  const env = index.envelope;
  switch (key) {
    case 'ARRIVAL':
      return arrival(rec);
    case 'SIZE':
      return index.vsize;
    case 'DATE': {
      // A missing or unparsable Date: sorts by INTERNALDATE (RFC 5256 "sent date").
      const sent = index.search.date;
      return sent === null || sent === 0 ? arrival(rec) : Math.floor(sent / 1000);
    }
    case 'SUBJECT':
      return env.subject === undefined ? '' : baseSubject(decode(env.subject)).subject;
    case 'FROM':
      return unicodeCasemap(firstMailbox(env.from, decode));
    case 'TO':
      return unicodeCasemap(firstMailbox(env.to, decode));
    case 'CC':
      return unicodeCasemap(firstMailbox(env.cc, decode));
    case 'DISPLAYFROM':
      return unicodeCasemap(displayName(env.from, decode));
    case 'DISPLAYTO':
      return unicodeCasemap(displayName(env.to, decode));
    default:
      throw new Error(`unknown sort key ${key}`);
  }
}

function compareValues(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  return compareCodePoints(String(a), String(b));
}

/**
 * The sort program: REVERSE flips the next key (REVERSE REVERSE cancels);
 * a key named twice counts once, its REVERSE then passing on to the next key.
 */
export function parseSortProgram(items: Arg[]): SortKey[] {
  if (items.length === 0) throw new ImapParseError('Empty sort program');
  const keys: SortKey[] = [];
  const seen = new Set<string>();
  let reverse = false;
  let lastWasReverse = false;
  for (const k of items) {
    if (k.type === 'list') throw new ImapParseError('Invalid sort list argument');
    const v = astring(k, 'sort key').toUpperCase();
    lastWasReverse = v === 'REVERSE';
    if (lastWasReverse) {
      reverse = !reverse;
      continue;
    }
    if (!KEYS.has(v)) throw new ImapParseError(`Unknown sort argument ${v.slice(0, 40)}`);
    if (seen.has(v)) continue;
    seen.add(v);
    keys.push({ key: v, reverse });
    reverse = false;
  }
  if (lastWasReverse) throw new ImapParseError('Sort list ends with REVERSE');
  return keys;
}

/** "RETURN (...)" options: RFC 5267 section 3 (and 4.4 for PARTIAL). */
export function parseSortReturn(items: Arg[]): SortReturn {
  const ret: SortReturn = { min: false, max: false, all: false, count: false, save: false, partial: undefined };
  for (let i = 0; i < items.length; i++) {
    const o = items[i]!;
    if (!isAtom(o)) throw new ImapParseError('SORT return options contain non-atoms');
    const name = o.value.toUpperCase();
    if (name === 'MIN') ret.min = true;
    else if (name === 'MAX') ret.max = true;
    else if (name === 'ALL') ret.all = true;
    else if (name === 'COUNT') ret.count = true;
    else if (name === 'SAVE') ret.save = true;
    else if (name === 'PARTIAL') {
      if (ret.partial !== undefined) throw new ImapParseError('PARTIAL can be used only once');
      ret.partial = parsePartialRange(items[++i]);
    } else throw new ImapParseError('Unknown SORT return option');
  }
  if (ret.partial !== undefined && ret.all) throw new ImapParseError('PARTIAL conflicts with ALL');
  if (!ret.min && !ret.max && !ret.count && !ret.save && ret.partial === undefined) ret.all = true;
  return ret;
}

const parser = (byUid: boolean) => (args: Arg[]): SortArgs => {
  let rest = args;
  let ret: SortReturn | undefined;
  if (isAtom(rest[0], 'RETURN') && rest[1]?.type === 'list') {
    ret = parseSortReturn(rest[1].items);
    rest = rest.slice(2);
  }
  const keys = parseSortProgram(list(rest[0], 'sort criteria'));
  const decodeString = searchStringDecoder(astring(rest[1], 'charset'));
  if (decodeString === undefined) return { byUid, keys, search: undefined, ret };
  return { byUid, keys, search: parseSearch(rest.slice(2), decodeString), ret };
};

interface Row {
  seq: number;
  uid: number;
  modseq: number;
  values: Array<string | number>;
}

/** No spread: a result can have 100,000 rows. */
function highestModseq(rows: readonly Row[]): number {
  let n = 0;
  for (const r of rows) if (r.modseq > n) n = r.modseq;
  return n;
}

/** Ids of the sorted result: sequence numbers, or UIDs for UID SORT. */
function ids(rows: readonly Row[], byUid: boolean): number[] {
  return rows.map((r) => (byUid ? r.uid : r.seq));
}

/** The ESEARCH answer (RFC 5267 section 3.2): MIN and MAX are the first and last in sort order. */
function esearch(ctx: SessionContext, a: SortArgs, ret: SortReturn, rows: Row[], usesModseq: boolean): CommandResult {
  const sel = ctx.selected!;
  // MIN and/or MAX alone (besides SAVE): only those messages are saved and looked at for MODSEQ (RFC 5182 2.1).
  const minMaxOnly = (ret.min || ret.max) && !ret.all && !ret.count && ret.partial === undefined;
  const chosen = minMaxOnly
    ? rows.filter((_, i) => (ret.min && i === 0) || (ret.max && i === rows.length - 1))
    : rows;
  if (ret.save) sel.savedSearch = chosen.map((r) => r.uid).sort((x, y) => x - y);
  if (ret.save && !ret.min && !ret.max && !ret.all && !ret.count && ret.partial === undefined) return {};
  const values: ImapValue[] = ['ESEARCH', `(TAG ${quote(ctx.tag)})`];
  if (a.byUid) values.push('UID');
  const all = ids(rows, a.byUid);
  if (all.length > 0) {
    if (ret.min) values.push('MIN', all[0]!);
    if (ret.max) values.push('MAX', all[all.length - 1]!);
    if (ret.all) values.push('ALL', formatUidList(all));
  }
  if (ret.partial !== undefined) {
    const part = partialSlice(all, ret.partial);
    values.push(`PARTIAL (${formatPartialRange(ret.partial)} ${part.length === 0 ? 'NIL' : formatUidList(part)})`);
  }
  if (ret.count) values.push('COUNT', all.length);
  const modseq = usesModseq ? highestModseq(chosen) : 0;
  if (modseq > 0) values.push('MODSEQ', modseq);
  return { untagged: [untagged(...values)] };
}

async function run(ctx: SessionContext, a: SortArgs): Promise<CommandResult> {
  if (a.search === undefined) {
    if (a.ret?.save) ctx.selected!.savedSearch = [];
    return { status: 'NO', code: 'BADCHARSET (UTF-8 US-ASCII)', text: 'Unknown charset' };
  }
  if (a.search.usesModseq) ctx.enable('CONDSTORE');
  // 8-bit text that is not UTF-8 reads as U+FFFD, as in Dovecot.
  const decode = (v: string) => ctx.backend.decodeHeader(replaceInvalidUtf8(v));
  const rows: Row[] = [];
  for await (const m of matchingMessages(ctx, a.search.key, { withIndex: a.keys.some((k) => k.key !== 'ARRIVAL') })) {
    const rec = m.record;
    const index = a.keys.some((k) => k.key !== 'ARRIVAL') ? m.index() : undefined;
    rows.push({
      seq: m.seq,
      uid: rec.uid,
      modseq: rec.modseq,
      values: a.keys.map((k) => (k.key === 'ARRIVAL' ? arrival(rec) : sortValue(k.key, rec, index!, decode))),
    });
  }
  rows.sort((x, y) => {
    for (let i = 0; i < a.keys.length; i++) {
      const c = compareValues(x.values[i]!, y.values[i]!);
      if (c !== 0) return a.keys[i]!.reverse ? -c : c;
    }
    return x.seq - y.seq;
  });
  if (a.ret !== undefined) return esearch(ctx, a, a.ret, rows, a.search.usesModseq);
  const values: ImapValue[] = ['SORT'];
  for (const r of rows) values.push(a.byUid ? r.uid : r.seq);
  if (a.search.usesModseq && rows.length > 0) values.push(['MODSEQ', highestModseq(rows)]);
  return { untagged: [{ type: 'untagged', values }] };
}

export const sortCommand = defineCommand({ name: 'SORT', states: SELECTED, parse: parser(false), run, allowExpunge: false });
export const uidSortCommand = defineCommand({ name: 'UID SORT', states: SELECTED, parse: parser(true), run });
