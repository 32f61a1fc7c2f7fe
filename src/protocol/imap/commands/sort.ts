// SORT and UID SORT (RFC 5256): the SEARCH machinery picks the messages,
// then they are ordered by the given keys, ties broken by sequence number.
import { defineCommand, SELECTED, type CommandResult, type SessionContext } from '../command.js';
import { astring, ImapParseError, isAtom, list, type Arg } from '../parser.js';
import { parseSearch, type ParsedSearch } from '../search.js';
import { matchingMessages } from './matching.js';
import type { ImapValue } from '../response.js';
import type { MessageIndex, MessageRecord } from '../backend.js';

const KEYS = new Set(['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO']);

interface SortKey {
  key: string;
  reverse: boolean;
}

interface SortArgs {
  byUid: boolean;
  keys: SortKey[];
  search: ParsedSearch | undefined;
}

/** A leader (RFC 5256 subj-leader / subj-blob) at lastIndex: "re:", "fwd [blob]:", "[blob]", and the spaces after it. */
const LEADER = /(?:(?:re|fwd?) *(?:\[[^[\]]*\])? *:|\[[^[\]]*\]) */iy;

/**
 * RFC 5256 section 2.1 base subject (simplified: no blob-only subjects kept).
 * The subject is narrowed by moving two indices, never by rescanning or
 * copying what is left: linear in the subject however it is made up.
 */
export function baseSubject(subject: string): string {
  const s = subject.replace(/\s+/g, ' ');
  let start = 0;
  let end = s.length;
  const trim = () => {
    while (start < end && s[start] === ' ') start++;
    while (end > start && s[end - 1] === ' ') end--;
  };
  trim();
  for (;;) {
    const before = end - start;
    // (2) trailers: "(fwd)" and spaces.
    for (;;) {
      if (end > start && s[end - 1] === ' ') end--;
      else if (end - start >= 5 && s.slice(end - 5, end).toLowerCase() === '(fwd)') end -= 5;
      else break;
    }
    // (3), (4) leaders, as long as something is left after them.
    for (;;) {
      LEADER.lastIndex = start;
      if (!LEADER.test(s) || LEADER.lastIndex >= end) break;
      start = LEADER.lastIndex;
    }
    // (6) "[fwd: ...]" around the rest.
    if (end - start >= 6 && s.slice(start, start + 5).toLowerCase() === '[fwd:' && s[end - 1] === ']') {
      start += 5;
      end -= 1;
      trim();
    }
    if (end - start === before) break;
  }
  return s.slice(start, end).toLowerCase();
}

function firstMailbox(list: MessageIndex['envelope']['from']): string {
  const a = list?.find((x) => x[2] !== null && x[3] !== null);
  return (a?.[2] ?? '').toLowerCase();
}

function display(list: MessageIndex['envelope']['from'], decodeHeader: (v: string) => string): string {
  const a = list?.find((x) => x[2] !== null && x[3] !== null);
  if (!a) return '';
  return (a[0] !== null ? decodeHeader(a[0]) : `${a[2]}@${a[3]}`).toLowerCase();
}

function keyValue(key: string, rec: MessageRecord, index: () => MessageIndex, decodeHeader: (v: string) => string): string | number {
  switch (key) {
    case 'ARRIVAL':
      return rec.internalDate;
    case 'SIZE':
      return rec.size;
    case 'DATE':
      return index().search.date ?? rec.internalDate;
    case 'FROM':
      return firstMailbox(index().envelope.from);
    case 'TO':
      return firstMailbox(index().envelope.to);
    case 'CC':
      return firstMailbox(index().envelope.cc);
    case 'DISPLAYFROM':
      return display(index().envelope.from, decodeHeader);
    case 'DISPLAYTO':
      return display(index().envelope.to, decodeHeader);
    default:
      return baseSubject(index().search.subject);
  }
}

const parser = (byUid: boolean) => (args: Arg[]): SortArgs => {
  const keys: SortKey[] = [];
  let reverse = false;
  for (const k of list(args[0], 'sort criteria')) {
    if (!isAtom(k)) throw new ImapParseError('Bad sort key');
    const v = k.value.toUpperCase();
    if (v === 'REVERSE') {
      reverse = true;
      continue;
    }
    if (!KEYS.has(v)) throw new ImapParseError('Unknown sort key');
    keys.push({ key: v, reverse });
    reverse = false;
  }
  if (keys.length === 0 || reverse) throw new ImapParseError('Bad sort criteria');
  const charset = astring(args[1], 'charset').toUpperCase();
  if (!['UTF-8', 'US-ASCII'].includes(charset)) return { byUid, keys, search: undefined };
  return { byUid, keys, search: parseSearch(args.slice(2)) };
};

function run(ctx: SessionContext, a: SortArgs): CommandResult {
  if (a.search === undefined) return { status: 'NO', code: 'BADCHARSET (UTF-8 US-ASCII)', text: 'Unsupported charset' };
  const decode = (v: string) => ctx.backend.decodeHeader(v);
  const rows: Array<{ seq: number; uid: number; values: Array<string | number> }> = [];
  for (const m of matchingMessages(ctx, a.search.key)) {
    rows.push({ seq: m.seq, uid: m.record.uid, values: a.keys.map((k) => keyValue(k.key, m.record, m.index, decode)) });
  }
  rows.sort((x, y) => {
    for (let i = 0; i < a.keys.length; i++) {
      const p = x.values[i]!;
      const q = y.values[i]!;
      const c = p < q ? -1 : p > q ? 1 : 0;
      if (c !== 0) return a.keys[i]!.reverse ? -c : c;
    }
    return x.seq - y.seq;
  });
  const values: ImapValue[] = ['SORT'];
  for (const r of rows) values.push(a.byUid ? r.uid : r.seq);
  return { untagged: [{ type: 'untagged', values }] };
}

export const sortCommand = defineCommand({ name: 'SORT', states: SELECTED, parse: parser(false), run, allowExpunge: false });
export const uidSortCommand = defineCommand({ name: 'UID SORT', states: SELECTED, parse: parser(true), run });
