// Resolves a command's sequence set (numbers or UIDs) against the selected mailbox.
import { ImapParseError, isAtom, type Arg } from './parser.js';
import { parseSequenceSet, selectFromSorted, type SeqRange } from './sequence.js';
import type { SelectedMailbox } from './selected.js';

export interface MessageSetArg {
  ranges: SeqRange[];
  byUid: boolean;
  /** "$": the saved search result (RFC 5182), whether the command is a UID one or not. */
  saved?: boolean;
}

export function parseMessageSet(arg: Arg | undefined, byUid: boolean): MessageSetArg {
  if (!isAtom(arg)) throw new ImapParseError('Expected a sequence set');
  if (arg.value === '$') return { ranges: [], byUid, saved: true };
  return { ranges: parseSequenceSet(arg.value), byUid };
}

/** The UIDs the set names, ascending. Sequence numbers past the end are a client error. */
export function resolveMessageSet(selected: SelectedMailbox, set: MessageSetArg): number[] {
  if (set.saved === true) return selected.savedUids();
  if (set.byUid) return selectFromSorted(set.ranges, selected.uids);
  const n = selected.exists;
  const out = new Set<number>();
  for (const [a0, b0] of set.ranges) {
    if ((a0 > n || b0 > n) && !(a0 === 0 || b0 === 0)) throw new ImapParseError('Invalid message sequence number');
    if (n === 0) continue;
    const a = a0 === 0 ? n : Math.min(a0, n);
    const b = b0 === 0 ? n : Math.min(b0, n);
    for (let s = Math.min(a, b); s <= Math.max(a, b); s++) out.add(selected.uids[s - 1]!);
  }
  return [...out].sort((x, y) => x - y);
}
