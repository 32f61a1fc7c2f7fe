// The selected mailbox as this session sees it: the sequence number <-> UID
// map and the changes other sessions made that it has not been told about.
// RFC 3501 section 7.4.1: EXPUNGE is never sent while a FETCH, STORE or
// SEARCH (the sequence-number forms) runs, so the client's numbering cannot
// shift under it; EXISTS and FETCH may go out at any time. It also holds
// what is this session's alone: the messages it sees as \Recent and the
// saved search result ($, RFC 5182).
import type { MailboxChange, MailboxRef } from './backend.js';
import { untagged, type ImapResponse, type ImapValue } from './response.js';
import { firstAtLeast, formatSequenceSet } from './sequence.js';

/**
 * The UIDs one session sees as \Recent: the tail claimed at SELECT (all of a
 * new mailbox, which may be 100,000 messages: kept as a range, not a set)
 * and the single UIDs claimed as mail arrives. has() and delete() are asked
 * only about UIDs the session has.
 */
class RecentUids {
  private from = Infinity;
  private to = 0;
  private inRange = 0;
  private readonly singles = new Set<number>();

  /** Claims every UID of `uids` (ascending) at or above `first`. */
  claimTail(first: number, uids: readonly number[]): void {
    const l = firstAtLeast(uids, first);
    if (l === uids.length) return;
    this.from = uids[l]!;
    this.to = uids[uids.length - 1]! + 1;
    this.inRange = uids.length - l;
  }

  add(uid: number): void {
    this.singles.add(uid);
  }

  has(uid: number): boolean {
    return (uid >= this.from && uid < this.to) || this.singles.has(uid);
  }

  /** Forgets an expunged UID; true when it was recent. */
  delete(uid: number): boolean {
    if (uid >= this.from && uid < this.to) {
      this.inRange--;
      return true;
    }
    return this.singles.delete(uid);
  }

  get size(): number {
    return this.inRange + this.singles.size;
  }
}

/** Finds the first recent UID below uidNext for this session (claiming them when read-write). */
export type RecentSource = (uidNext: number) => number;

const SYSTEM_FLAG = /^\\(answered|flagged|deleted|seen|draft)$/i;

export class SelectedMailbox {
  readonly mailboxId: number;
  name: string;
  readonly uidValidity: number;
  readonly readOnly: boolean;
  /** uids[seq - 1] is the UID of message seq. Ascending. */
  uids: number[];
  /** Highest MODSEQ this session has reported or been told of. */
  highestModseq: number;
  private pending: MailboxChange[] = [];
  /** The MODSEQ of flag states this session already reported (its own STOREs). */
  private readonly reported = new Map<number, number>();
  /** UIDs this session sees as \Recent. */
  private readonly recent = new RecentUids();
  private recentReported = 0;
  /** IMAP4rev2 has no \Recent: nothing of it is shown. */
  hideRecent = false;
  /** SEARCH RETURN (SAVE): the UIDs "$" stands for (expunged ones are skipped when it is used). */
  savedSearch: number[] = [];

  constructor(
    info: MailboxRef,
    uids: number[],
    readOnly: boolean,
    private readonly recentSource?: RecentSource,
  ) {
    this.mailboxId = info.id;
    this.name = info.name;
    this.uidValidity = info.uidValidity;
    this.readOnly = readOnly;
    this.uids = uids;
    this.highestModseq = info.highestModseq;
    if (recentSource) {
      const last = uids[uids.length - 1] ?? 0;
      this.addRecent(recentSource(Math.max(info.uidNext, last + 1)), uids);
      this.recentReported = this.recent.size;
    }
  }

  /** The \Recent count as SELECT and STATUS report it. */
  get recentCount(): number {
    return this.hideRecent ? 0 : this.recent.size;
  }

  isRecent(uid: number): boolean {
    return !this.hideRecent && this.recent.has(uid);
  }

  /** Flags as this session shows them: \Recent after the system flags when the message is recent to it. */
  flagsOf(uid: number, flags: string[]): string[] {
    if (!this.isRecent(uid)) return flags;
    let at = flags.length;
    while (at > 0 && !SYSTEM_FLAG.test(flags[at - 1]!)) at--;
    return [...flags.slice(0, at), '\\Recent', ...flags.slice(at)];
  }

  private addRecent(first: number, uids: readonly number[]): void {
    this.recent.claimTail(first, uids);
  }

  /** "* n RECENT" when the count changed since the last one sent (rev1 only). */
  private recentResponse(out: ImapResponse[]): void {
    if (this.recent.size === this.recentReported) return;
    this.recentReported = this.recent.size;
    if (!this.hideRecent) out.push(untagged(this.recent.size, 'RECENT'));
  }

  /** The UIDs "$" names now: the saved result less what was expunged since. */
  savedUids(): number[] {
    return this.savedSearch.filter((uid) => this.seqOf(uid) !== 0);
  }

  get exists(): number {
    return this.uids.length;
  }

  /** Sequence number of a UID, 0 when not in the map. */
  seqOf(uid: number): number {
    const l = firstAtLeast(this.uids, uid);
    return this.uids[l] === uid ? l + 1 : 0;
  }

  uidAt(seq: number): number | undefined {
    return this.uids[seq - 1];
  }

  enqueue(change: MailboxChange): void {
    if (change.kind === 'mailboxes' || change.mailboxId !== this.mailboxId) return;
    this.pending.push(change);
  }

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** This session reported these flags itself; a feed event at or below modseq is not news. */
  markReported(uid: number, modseq: number): void {
    const prev = this.reported.get(uid) ?? 0;
    if (modseq > prev) this.reported.set(uid, modseq);
    if (modseq > this.highestModseq) this.highestModseq = modseq;
  }

  /** Whether an expunge of this UID is waiting to be announced (the message is gone). */
  isExpungePending(uid: number): boolean {
    return this.pending.some((c) => c.kind === 'expunge' && c.uid === uid);
  }

  /**
   * Untagged responses for the queued changes. With allowExpunge false,
   * expunges stay queued (their messages keep their sequence numbers).
   * `silentExpunge` drops them without telling (CLOSE).
   */
  flush(allowExpunge: boolean, condstore: boolean, qresync = false): ImapResponse[] {
    if (this.pending.length === 0) return [];
    const out: ImapResponse[] = [];
    const keep: MailboxChange[] = [];
    let existsDirty = false;
    // With QRESYNC, expunges are reported as VANISHED UID sets (RFC 7162 3.2.10).
    let vanished: number[] = [];
    const flushVanished = () => {
      if (vanished.length > 0) out.push(untagged('VANISHED', formatSequenceSet(vanished)));
      vanished = [];
    };
    const lastFlags = new Map<number, number>();
    this.pending.forEach((c, i) => {
      if (c.kind === 'flags') lastFlags.set(c.uid, i);
    });
    const deferred = new Set<number>();
    // New messages: claim them as \Recent before announcing them (one claim for the batch).
    let firstRecent = Infinity;
    if (this.recentSource) {
      const last = this.uids[this.uids.length - 1] ?? 0;
      const newest = this.pending.reduce((m, c) => (c.kind === 'append' && c.uid > m ? c.uid : m), last);
      if (newest > last) firstRecent = this.recentSource(newest + 1);
    }
    const announceExists = () => {
      out.push(untagged(this.uids.length, 'EXISTS'));
      this.recentResponse(out);
    };
    this.pending.forEach((c, i) => {
      if (c.kind === 'mailboxes') return;
      if (c.modseq > this.highestModseq) this.highestModseq = c.modseq;
      if (c.kind === 'append') {
        const last = this.uids[this.uids.length - 1] ?? 0;
        if (c.uid >= firstRecent && !this.recent.has(c.uid)) this.recent.add(c.uid);
        if (c.uid > last) {
          this.uids.push(c.uid);
          existsDirty = true;
        } else if (this.seqOf(c.uid) === 0) {
          // out of order (should not happen): insert in place
          const at = this.uids.findIndex((u) => u > c.uid);
          this.uids.splice(at, 0, c.uid);
          existsDirty = true;
        }
        return;
      }
      if (c.kind === 'expunge') {
        const seq = this.seqOf(c.uid);
        if (seq === 0) return;
        if (!allowExpunge) {
          keep.push(c);
          deferred.add(c.uid);
          return;
        }
        if (existsDirty) {
          flushVanished();
          announceExists();
          existsDirty = false;
        }
        this.uids.splice(seq - 1, 1);
        this.reported.delete(c.uid);
        // The client drops an expunged message's \Recent with it; no RECENT is owed.
        if (this.recent.delete(c.uid)) this.recentReported--;
        if (qresync) vanished.push(c.uid);
        else out.push(untagged(seq, 'EXPUNGE'));
        return;
      }
      // flags
      if (lastFlags.get(c.uid) !== i || deferred.has(c.uid)) return;
      const seq = this.seqOf(c.uid);
      if (seq === 0) return;
      if ((this.reported.get(c.uid) ?? 0) >= c.modseq) return;
      this.reported.set(c.uid, c.modseq);
      flushVanished();
      if (existsDirty) {
        announceExists();
        existsDirty = false;
      }
      const items: ImapValue[] = ['UID', c.uid, 'FLAGS', this.flagsOf(c.uid, c.flags)];
      if (condstore) items.push('MODSEQ', [c.modseq]);
      out.push(untagged(seq, 'FETCH', items));
    });
    flushVanished();
    if (existsDirty) announceExists();
    this.pending = keep;
    return out;
  }

  /** Applies queued expunges without announcing them (CLOSE, UNSELECT, or a reselect). */
  dropPending(): void {
    this.pending = [];
  }
}
