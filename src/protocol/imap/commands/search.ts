// SEARCH and UID SEARCH (RFC 3501 6.4.4), with ESEARCH return options
// (RFC 4731) and MODSEQ (RFC 7162).
import { defineCommand, SELECTED, type CommandResult, type SessionContext } from '../command.js';
import { ImapParseError, isAtom, list, type Arg } from '../parser.js';
import { untagged, quote, type ImapValue } from '../response.js';
import { parseSearch, CharsetError, type ParsedSearch } from '../search.js';
import { matchingMessages } from './matching.js';
import { formatSequenceSet } from '../sequence.js';

interface SearchArgs {
  byUid: boolean;
  search: ParsedSearch | undefined;
  /** ESEARCH return options; undefined for a plain SEARCH. */
  ret: Set<string> | undefined;
  charsetError: boolean;
}

const RETURN_OPTIONS = new Set(['MIN', 'MAX', 'ALL', 'COUNT']);

const parser = (byUid: boolean) => (args: Arg[]): SearchArgs => {
  let rest = args;
  let ret: Set<string> | undefined;
  if (isAtom(rest[0], 'RETURN')) {
    ret = new Set();
    for (const o of list(rest[1], 'return options')) {
      const v = isAtom(o) ? o.value.toUpperCase() : '';
      if (!RETURN_OPTIONS.has(v)) throw new ImapParseError('Unknown SEARCH return option');
      ret.add(v);
    }
    if (ret.size === 0) ret.add('ALL');
    rest = rest.slice(2);
  }
  try {
    return { byUid, search: parseSearch(rest), ret, charsetError: false };
  } catch (err) {
    if (err instanceof CharsetError) return { byUid, search: undefined, ret, charsetError: true };
    throw err;
  }
};

function run(ctx: SessionContext, a: SearchArgs): CommandResult {
  if (a.charsetError || a.search === undefined) return { status: 'NO', code: 'BADCHARSET (UTF-8 US-ASCII)', text: 'Unsupported charset' };
  if (a.search.usesModseq) ctx.enable('CONDSTORE');
  const hits: number[] = [];
  let highestModseq = 0;
  for (const m of matchingMessages(ctx, a.search.key)) {
    hits.push(a.byUid ? m.record.uid : m.seq);
    if (m.record.modseq > highestModseq) highestModseq = m.record.modseq;
  }
  if (a.ret === undefined) {
    // No spread: a result can have 100,000 numbers.
    const values: ImapValue[] = ['SEARCH'];
    for (const n of hits) values.push(n);
    if (a.search.usesModseq && hits.length > 0) values.push(['MODSEQ', highestModseq]);
    return { untagged: [{ type: 'untagged', values }] };
  }
  const values: ImapValue[] = ['ESEARCH', `(TAG ${quote(ctx.tag)})`];
  if (a.byUid) values.push('UID');
  if (hits.length > 0) {
    if (a.ret.has('MIN')) values.push('MIN', hits[0]!);
    if (a.ret.has('MAX')) values.push('MAX', hits[hits.length - 1]!);
    if (a.ret.has('ALL')) values.push('ALL', formatSequenceSet(hits));
  }
  if (a.ret.has('COUNT')) values.push('COUNT', hits.length);
  if (a.search.usesModseq && hits.length > 0) values.push('MODSEQ', highestModseq);
  return { untagged: [untagged(...values)] };
}

export const searchCommand = defineCommand({ name: 'SEARCH', states: SELECTED, parse: parser(false), run, allowExpunge: false });
export const uidSearchCommand = defineCommand({ name: 'UID SEARCH', states: SELECTED, parse: parser(true), run });
