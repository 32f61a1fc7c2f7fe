// SEARCH and UID SEARCH (RFC 3501 6.4.4), with ESEARCH return options
// (RFC 4731) and MODSEQ (RFC 7162).
import { defineCommand, SELECTED, type CommandResult, type SessionContext } from '../command.js';
import { ImapParseError, isAtom, list, type Arg } from '../parser.js';
import { untagged, quote, type ImapValue } from '../response.js';
import { parseSearch, matchSearch, CharsetError, type ParsedSearch } from '../search.js';
import { formatSequenceSet } from '../sequence.js';

interface SearchArgs {
  byUid: boolean;
  search: ParsedSearch | undefined;
  /** ESEARCH return options; undefined for a plain SEARCH. */
  ret: Set<string> | undefined;
  charsetError: boolean;
}

const RETURN_OPTIONS = new Set(['MIN', 'MAX', 'ALL', 'COUNT']);
const SLICE = 1000;

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
  const sel = ctx.selected!;
  const user = ctx.user!;
  if (a.search.usesModseq) ctx.enable('CONDSTORE');
  const scope = {
    maxSeq: sel.exists,
    maxUid: sel.uids[sel.uids.length - 1] ?? 0,
    now: Date.now(),
    decodeHeader: (v: string) => ctx.backend.decodeHeader(v),
  };
  const hits: number[] = [];
  let highestModseq = 0;
  // In slices, so a big mailbox's records (with their MIME JSON) are not all in memory at once.
  const all = [...sel.uids];
  for (let at = 0; at < all.length; at += SLICE) {
    for (const rec of ctx.backend.messages(user, sel.mailboxId, all.slice(at, at + SLICE))) {
      const seq = sel.seqOf(rec.uid);
      if (seq === 0) continue;
      let index: ReturnType<typeof ctx.backend.messageIndex> | undefined;
      let raw: Buffer | undefined;
      const candidate = {
        seq,
        record: rec,
        index: () => (index ??= ctx.backend.messageIndex(user, rec)),
        raw: () => (raw ??= ctx.backend.readMessage(user, sel.mailboxId, rec.uid)),
      };
      if (matchSearch(a.search.key, candidate, scope)) {
        hits.push(a.byUid ? rec.uid : seq);
        if (rec.modseq > highestModseq) highestModseq = rec.modseq;
      }
    }
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
