// The UID list SELECT hands a session (its sequence-number map), kept per
// mailbox between SELECTs and brought up to date from the MODSEQ log instead
// of read whole: plucking every UID of a large, busy mailbox on each SELECT
// cost more than everything else a shared-mailbox load does.
//
// An entry is only used for the mailbox row it was built from: same id, same
// account and same UIDVALIDITY (ids are reused after a delete; UIDVALIDITY
// only grows within an account), and a MODSEQ it has not passed. Every
// change that adds or removes a message raises the mailbox's HIGHESTMODSEQ
// and leaves a row with a higher MODSEQ (the message, or its `expunged`
// record), so the rows above the entry's MODSEQ are exactly what it lacks.
// Writers in other processes are seen the same way, through the database.

/** Mailboxes smaller than this are read whole: cheap, and not worth the memory. */
const MIN_CACHED = 256;
/** Entries kept (least recently used dropped first). */
const MAX_ENTRIES = 64;

export interface MailboxHead {
  id: number;
  accountId: number;
  uidValidity: number;
  highestModseq: number;
}

/** Reads the database inside the caller's read snapshot. */
export interface UidSource {
  all(mailboxId: number): number[];
  /** UIDs above `afterUid` of messages changed after `modseq`, ascending. */
  addedSince(mailboxId: number, modseq: number, afterUid: number): number[];
  /** UIDs expunged after `modseq`. */
  expungedSince(mailboxId: number, modseq: number): number[];
  /** The smallest and largest UID in the mailbox (from the index, not a scan). */
  bounds(mailboxId: number): { min: number | null; max: number | null };
}

interface Entry {
  accountId: number;
  uidValidity: number;
  modseq: number;
  uids: number[];
}

export class UidLists {
  private readonly entries = new Map<number, Entry>();

  /** The mailbox's UIDs, ascending; a new array the caller may keep. */
  uids(head: MailboxHead, source: UidSource): number[] {
    const entry = this.entries.get(head.id);
    if (entry && entry.accountId === head.accountId && entry.uidValidity === head.uidValidity && entry.modseq <= head.highestModseq) {
      this.entries.delete(head.id);
      if (this.catchUp(entry, head, source)) {
        this.entries.set(head.id, entry);
        return entry.uids.slice();
      }
    } else if (entry) {
      this.entries.delete(head.id);
    }
    const uids = source.all(head.id);
    if (uids.length >= MIN_CACHED) this.remember(head, uids.slice());
    return uids;
  }

  /** Forgets everything (after a rebuild or an account's removal in this process). */
  clear(): void {
    this.entries.clear();
  }

  private catchUp(entry: Entry, head: MailboxHead, source: UidSource): boolean {
    if (entry.modseq < head.highestModseq) {
      const gone = source.expungedSince(head.id, entry.modseq);
      if (gone.length > 0) {
        const goneSet = new Set(gone);
        entry.uids = entry.uids.filter((uid) => !goneSet.has(uid));
      }
      const last = entry.uids.length > 0 ? entry.uids[entry.uids.length - 1]! : 0;
      for (const uid of source.addedSince(head.id, entry.modseq, last)) entry.uids.push(uid);
      entry.modseq = head.highestModseq;
    }
    // A cheap check against what the index holds: a list that drifted is read again.
    const { min, max } = source.bounds(head.id);
    const n = entry.uids.length;
    return n === 0 ? min === null : entry.uids[0] === min && entry.uids[n - 1] === max;
  }

  private remember(head: MailboxHead, uids: number[]): void {
    this.entries.set(head.id, { accountId: head.accountId, uidValidity: head.uidValidity, modseq: head.highestModseq, uids });
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
  }
}
