// SEARCH and UID SEARCH (RFC 3501 6.4.4), with ESEARCH return options
// (RFC 4731), SAVE for "$" (RFC 5182), MODSEQ (RFC 7162) and PARTIAL pages
// (RFC 9394), and UPDATE (CONTEXT=SEARCH, RFC 5267: search-updates.ts).
// IMAP4rev2 clients get ESEARCH for every SEARCH (RFC 9051 6.4.4).
import { defineCommand, SELECTED, type CommandResult, type SessionContext } from '../command.js';
import { ImapParseError, isAtom, list, type Arg } from '../parser.js';
import { untagged, quote, type ImapValue } from '../response.js';
import { parseSearch, CharsetError, type ParsedSearch } from '../search.js';
import { matchingMessages } from './matching.js';
import { searchUpdatesOf } from './search-updates.js';
import { formatSequenceSet } from '../sequence.js';
import { formatPartialRange, parsePartialRange, partialSlice, type PartialRange } from '../partial-range.js';

interface SearchArgs {
  byUid: boolean;
  search: ParsedSearch | undefined;
  /** ESEARCH return options; undefined for a plain SEARCH. */
  ret: Set<string> | undefined;
  /** RETURN (PARTIAL range): a page of the result (RFC 9394 3.1). */
  partial: PartialRange | undefined;
  charsetError: boolean;
}

const RETURN_OPTIONS = new Set(['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE', 'UPDATE']);

const parser = (byUid: boolean) => (args: Arg[]): SearchArgs => {
  let rest = args;
  let ret: Set<string> | undefined;
  let partial: PartialRange | undefined;
  if (isAtom(rest[0], 'RETURN')) {
    ret = new Set();
    const options = list(rest[1], 'return options');
    for (let i = 0; i < options.length; i++) {
      const o = options[i];
      const v = isAtom(o) ? o.value.toUpperCase() : '';
      if (v === 'PARTIAL') {
        // One PARTIAL or one ALL, never both (RFC 9394 3.1).
        if (partial !== undefined) throw new ImapParseError('PARTIAL can be used only once');
        partial = parsePartialRange(options[++i]);
        continue;
      }
      if (!RETURN_OPTIONS.has(v)) throw new ImapParseError('Unknown SEARCH return option');
      if (v === 'UPDATE' && ret.has(v)) throw new ImapParseError('UPDATE can be used only once');
      ret.add(v);
    }
    if (partial !== undefined && ret.has('ALL')) throw new ImapParseError('PARTIAL conflicts with ALL');
    if (ret.size === 0 && partial === undefined) ret.add('ALL');
    rest = rest.slice(2);
  }
  try {
    return { byUid, search: parseSearch(rest), ret, partial, charsetError: false };
  } catch (err) {
    if (err instanceof CharsetError) return { byUid, search: undefined, ret, partial, charsetError: true };
    throw err;
  }
};

/**
 * Which of the matches (ascending) a SEARCH returns, for SAVE and MODSEQ:
 * every one with ALL or COUNT or with none of MIN, MAX and PARTIAL; else the
 * PARTIAL page and the MIN and MAX messages (RFC 5182 2.1, RFC 9394 3.2).
 */
function returnedPart<T>(ret: Set<string>, partial: PartialRange | undefined, matches: T[]): T[] {
  if (matches.length === 0 || ret.has('ALL') || ret.has('COUNT')) return matches;
  if (!ret.has('MIN') && !ret.has('MAX') && partial === undefined) return matches;
  const keep = new Set<number>();
  if (ret.has('MIN')) keep.add(0);
  if (partial !== undefined) for (const i of partialSlice(matches.map((_, at) => at), partial)) keep.add(i);
  if (ret.has('MAX')) keep.add(matches.length - 1);
  return [...keep].sort((x, y) => x - y).map((i) => matches[i]!);
}

async function run(ctx: SessionContext, a: SearchArgs): Promise<CommandResult> {
  const sel = ctx.selected!;
  const saving = a.ret?.has('SAVE') === true;
  const updating = a.ret?.has('UPDATE') === true;
  // A tag names one updated search at a time (RFC 5267 4.2).
  if (updating && searchUpdatesOf(ctx).has(ctx.tag)) throw new ImapParseError('Duplicate search update tag');
  if (a.charsetError || a.search === undefined) {
    if (saving) sel.savedSearch = [];
    return { status: 'NO', code: 'BADCHARSET (UTF-8 US-ASCII)', text: 'Unsupported charset' };
  }
  if (a.search.usesModseq) ctx.enable('CONDSTORE');
  const hits: number[] = [];
  const uids: number[] = [];
  const modseqs: number[] = [];
  let highestModseq = 0;
  for await (const m of matchingMessages(ctx, a.search.key)) {
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
  let refused: CommandResult = {};
  if (updating) {
    const updates = searchUpdatesOf(ctx);
    // Past the limit the answer stands but is not followed (RFC 5267 4.2).
    if (updates.full) refused = { status: 'OK', code: `NOUPDATE ${quote(ctx.tag)}`, text: 'Too many updated searches' };
    else updates.add(ctx.tag, a.byUid, a.search.key, uids);
  }
  if (saving) {
    sel.savedSearch = returnedPart(ret, a.partial, uids);
    // SAVE alone asks for no answer but the tagged OK.
    if (ret.size === 1 && a.partial === undefined) return refused;
  }
  const values: ImapValue[] = ['ESEARCH', `(TAG ${quote(ctx.tag)})`];
  if (a.byUid) values.push('UID');
  if (hits.length > 0) {
    if (ret.has('MIN')) values.push('MIN', hits[0]!);
    if (ret.has('MAX')) values.push('MAX', hits[hits.length - 1]!);
    if (ret.has('ALL')) values.push('ALL', formatSequenceSet(hits));
  }
  if (a.partial !== undefined) {
    // The range as asked, and NIL when it names no result (RFC 9394 3.1).
    const page = partialSlice(hits, a.partial);
    values.push(`PARTIAL (${formatPartialRange(a.partial)} ${page.length === 0 ? 'NIL' : formatSequenceSet(page)})`);
  }
  if (ret.has('COUNT')) values.push('COUNT', hits.length);
  if (a.search.usesModseq && hits.length > 0) {
    // The highest MODSEQ of the messages returned (RFC 7162 3.1.5): with only MIN, MAX and/or PARTIAL, just those.
    let highest = 0;
    for (const m of returnedPart(ret, a.partial, modseqs)) if (m > highest) highest = m;
    if (highest > 0) values.push('MODSEQ', highest);
  }
  return { ...refused, untagged: [untagged(...values)] };
}

export const searchCommand = defineCommand({ name: 'SEARCH', states: SELECTED, parse: parser(false), run, allowExpunge: false });
export const uidSearchCommand = defineCommand({ name: 'UID SEARCH', states: SELECTED, parse: parser(true), run });
