// SEARCH and UID SEARCH (RFC 3501 6.4.4), with ESEARCH return options
// (RFC 4731), SAVE for "$" (RFC 5182) and MODSEQ (RFC 7162). IMAP4rev2
// clients get ESEARCH for every SEARCH (RFC 9051 6.4.4).
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

const RETURN_OPTIONS = new Set(['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE']);

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

/** RFC 5182 2.1: with MIN and/or MAX beside SAVE, only those are saved; else every match. */
function savedPart(ret: Set<string>, uids: number[]): number[] {
  if (uids.length === 0 || ret.has('ALL') || ret.has('COUNT') || !(ret.has('MIN') || ret.has('MAX'))) return uids;
  const out: number[] = [];
  if (ret.has('MIN')) out.push(uids[0]!);
  if (ret.has('MAX') && uids.length > 1) out.push(uids[uids.length - 1]!);
  return out;
}

function run(ctx: SessionContext, a: SearchArgs): CommandResult {
  const sel = ctx.selected!;
  const saving = a.ret?.has('SAVE') === true;
  if (a.charsetError || a.search === undefined) {
    if (saving) sel.savedSearch = [];
    return { status: 'NO', code: 'BADCHARSET (UTF-8 US-ASCII)', text: 'Unsupported charset' };
  }
  if (a.search.usesModseq) ctx.enable('CONDSTORE');
  const hits: number[] = [];
  const uids: number[] = [];
  const modseqs: number[] = [];
  let highestModseq = 0;
  for (const m of matchingMessages(ctx, a.search.key)) {
    hits.push(a.byUid ? m.record.uid : m.seq);
    uids.push(m.record.uid);
    modseqs.push(m.record.modseq);
    if (m.record.modseq > highestModseq) highestModseq = m.record.modseq;
  }
  // IMAP4rev2 has no SEARCH response: a plain SEARCH is RETURN (ALL).
  const ret = a.ret ?? (ctx.rev2 ? new Set(['ALL']) : undefined);
  if (ret === undefined) {
    // No spread: a result can have 100,000 numbers.
    const values: ImapValue[] = ['SEARCH'];
    for (const n of hits) values.push(n);
    if (a.search.usesModseq && hits.length > 0) values.push(['MODSEQ', highestModseq]);
    return { untagged: [{ type: 'untagged', values }] };
  }
  if (saving) {
    sel.savedSearch = savedPart(ret, uids);
    // SAVE alone asks for no answer but the tagged OK.
    if (ret.size === 1) return {};
  }
  const values: ImapValue[] = ['ESEARCH', `(TAG ${quote(ctx.tag)})`];
  if (a.byUid) values.push('UID');
  if (hits.length > 0) {
    if (ret.has('MIN')) values.push('MIN', hits[0]!);
    if (ret.has('MAX')) values.push('MAX', hits[hits.length - 1]!);
    if (ret.has('ALL')) values.push('ALL', formatSequenceSet(hits));
  }
  if (ret.has('COUNT')) values.push('COUNT', hits.length);
  if (a.search.usesModseq && hits.length > 0) {
    // The highest MODSEQ of the messages returned (RFC 7162 3.1.5): with only MIN and/or MAX, just those.
    const onlyEnds = !ret.has('ALL') && !ret.has('COUNT');
    const returned = onlyEnds ? [ret.has('MIN') ? modseqs[0]! : 0, ret.has('MAX') ? modseqs[modseqs.length - 1]! : 0] : [highestModseq];
    values.push('MODSEQ', Math.max(...returned));
  }
  return { untagged: [untagged(...values)] };
}

export const searchCommand = defineCommand({ name: 'SEARCH', states: SELECTED, parse: parser(false), run, allowExpunge: false });
export const uidSearchCommand = defineCommand({ name: 'UID SEARCH', states: SELECTED, parse: parser(true), run });
