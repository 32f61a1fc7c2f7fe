// The messages of the selected mailbox that match a search key, for SEARCH,
// SORT and THREAD. Records are read in slices, so a big mailbox's records
// (with their MIME JSON) are never all in memory at once; the index and the
// raw message are loaded only if a key needs them. Each message is first
// matched without its body; those whose answer needs it are read, a few at a
// time (read-ahead.ts), and matched again, in order.
import type { SessionContext } from '../command.js';
import type { MessageIndex, MessageRecord } from '../backend.js';
import { matchSearch, type SearchKey, type SearchScope } from '../search.js';
import { BODY_NEEDED, bodyNeeded, inOrderChunks, type Settled } from '../read-ahead.js';

const SLICE = 1000;

export interface MatchingMessage {
  seq: number;
  record: MessageRecord;
  /** With `withIndex`, always answers; without, only when the search itself looked at the index. */
  index(): MessageIndex;
}

interface Candidate {
  seq: number;
  record: MessageRecord;
  body: Buffer | undefined;
  idx: MessageIndex | undefined;
  index(): MessageIndex;
  raw(): Buffer;
}

export interface MatchingOptions {
  /** Look at just these UIDs (ascending, all in the view), not the whole mailbox. */
  only?: readonly number[];
  /** Every message yielded has its index at hand (SORT, THREAD). */
  withIndex?: boolean;
}

export async function* matchingMessages(ctx: SessionContext, key: SearchKey, options: MatchingOptions = {}): AsyncGenerator<MatchingMessage> {
  const sel = ctx.selected!;
  const user = ctx.user!;
  const backend = ctx.backend;
  const scope: SearchScope = {
    maxSeq: sel.exists,
    maxUid: sel.uids[sel.uids.length - 1] ?? 0,
    now: Date.now(),
    decodeHeader: (v: string) => backend.decodeHeader(v),
    writtenDay: (v: string) => backend.writtenDay(v),
    isRecent: (uid: number) => sel.isRecent(uid),
    saved: new Set(sel.savedUids()),
  };
  const candidate = (seq: number, record: MessageRecord): Candidate => {
    const c: Candidate = {
      seq,
      record,
      body: undefined,
      idx: undefined,
      index: () => (c.idx ??= backend.messageIndex(user, record, c.body) ?? bodyNeeded()),
      raw: () => c.body ?? bodyNeeded(),
    };
    return c;
  };
  /** Matched or not; BODY_NEEDED when the answer (or the index asked for) needs the body. */
  const decide = (c: Candidate): boolean | typeof BODY_NEEDED => {
    try {
      const hit = matchSearch(key, c, scope);
      if (hit && options.withIndex) c.index();
      return hit;
    } catch (err) {
      if (err === BODY_NEEDED) return BODY_NEEDED;
      throw err;
    }
  };
  // A key that needs every message's body (SEARCH BODY x) is not first tried without it.
  const bodyFirst = needsBody(key);
  const all = options.only ?? [...sel.uids];
  for (let at = 0; at < all.length; at += SLICE) {
    const decided: Array<{ c: Candidate; hit: boolean | typeof BODY_NEEDED }> = [];
    for (const rec of await backend.messages(user, sel.mailboxId, all.slice(at, at + SLICE))) {
      const seq = sel.seqOf(rec.uid);
      if (seq === 0) continue;
      const c = candidate(seq, rec);
      decided.push({ c, hit: bodyFirst ? BODY_NEEDED : decide(c) });
    }
    const waiting = decided.filter((d) => d.hit === BODY_NEEDED).map((d) => d.c);
    const readBody = waiting.length === 0 ? undefined : await backend.bodyReader(user, sel.mailboxId);
    const reads = inOrderChunks(waiting, async (c) => {
      c.body = await readBody!(c.record.uid);
      const hit = decide(c);
      // The index while the body is at hand (cached by the backend); the body itself is not kept.
      if (hit === true && options.withIndex) c.index();
      c.body = undefined;
      return hit === true;
    }, (c) => c.record.size);
    let chunk: Array<Settled<boolean>> = [];
    let inChunk = 0;
    for (const d of decided) {
      let hit = d.hit;
      if (hit === BODY_NEEDED) {
        if (inChunk === chunk.length) {
          chunk = (await reads.next()).value as Array<Settled<boolean>>;
          inChunk = 0;
        }
        const settled = chunk[inChunk++]!;
        if (!settled.ok) throw settled.error;
        hit = settled.value;
      }
      if (hit) yield { seq: d.c.seq, record: d.c.record, index: () => d.c.index() };
    }
  }
}

/**
 * Whether the key asks for the body of every message it looks at: its first
 * test (the one evaluated first, whatever the message) is BODY or TEXT.
 */
function needsBody(key: SearchKey): boolean {
  switch (key.op) {
    case 'body':
      return true;
    case 'and':
      return key.keys.length > 0 && needsBody(key.keys[0]!);
    case 'or':
      return needsBody(key.a);
    case 'not':
      return needsBody(key.key);
    default:
      return false;
  }
}
