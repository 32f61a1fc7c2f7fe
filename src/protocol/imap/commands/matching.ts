// The messages of the selected mailbox that match a search key, for SEARCH,
// SORT and THREAD. Records are read in slices, so a big mailbox's records
// (with their MIME JSON) are never all in memory at once; the index and the
// raw message are loaded only if a key needs them.
import type { SessionContext } from '../command.js';
import type { MessageIndex, MessageRecord } from '../backend.js';
import { matchSearch, type SearchKey } from '../search.js';

const SLICE = 1000;

export interface MatchingMessage {
  seq: number;
  record: MessageRecord;
  index(): MessageIndex;
}

/** `only`: look at just these UIDs (ascending, all in the view), not the whole mailbox. */
export function* matchingMessages(ctx: SessionContext, key: SearchKey, only?: readonly number[]): Generator<MatchingMessage> {
  const sel = ctx.selected!;
  const user = ctx.user!;
  const scope = {
    maxSeq: sel.exists,
    maxUid: sel.uids[sel.uids.length - 1] ?? 0,
    now: Date.now(),
    decodeHeader: (v: string) => ctx.backend.decodeHeader(v),
    writtenDay: (v: string) => ctx.backend.writtenDay(v),
    isRecent: (uid: number) => sel.isRecent(uid),
    saved: new Set(sel.savedUids()),
  };
  const all = only ?? [...sel.uids];
  for (let at = 0; at < all.length; at += SLICE) {
    for (const rec of ctx.backend.messages(user, sel.mailboxId, all.slice(at, at + SLICE))) {
      const seq = sel.seqOf(rec.uid);
      if (seq === 0) continue;
      let index: MessageIndex | undefined;
      let raw: Buffer | undefined;
      const candidate = {
        seq,
        record: rec,
        index: () => (index ??= ctx.backend.messageIndex(user, rec)),
        raw: () => (raw ??= ctx.backend.readMessage(user, sel.mailboxId, rec.uid)),
      };
      if (matchSearch(key, candidate, scope)) yield { seq, record: rec, index: candidate.index };
    }
  }
}
