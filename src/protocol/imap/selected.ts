// The selected mailbox as this session sees it: its own sequence number <->
// UID map, which changes only when this session is told (RFC 3501 5.5,
// 7.4.1). After a command, and at once during IDLE, the view catches up
// with the store from one snapshot of what changed since the MODSEQ it last
// reached (MailboxDelta): expunges (held back while a FETCH, STORE or
// SEARCH by sequence number would be renumbered), new messages (always
// above every UID it has, so sequence numbers of known messages never
// move), and flag changes. The store is the one authority; the change feed
// only wakes the session, so changes that reach it late, twice or out of
// order cannot bend its numbering. It also holds what is this session's
// alone: the messages it sees as \Recent and the saved search ($, RFC 5182).
import type { MailboxDelta, MailboxRef } from './backend.js';
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

/** What changed after a MODSEQ, from one snapshot of the store (undefined: the mailbox is gone). */
export type ChangeSource = (sinceModseq: number) => MailboxDelta | undefined;

const SYSTEM_FLAG = /^\\(answered|flagged|deleted|seen|draft)$/i;

export interface ViewStart {
  /** Every UID at the moment the view starts, ascending. */
  uids: number[];
  /** The MODSEQ of that moment: changes above it are news. */
  highestModseq: number;
}

export class SelectedMailbox {
  readonly mailboxId: number;
  name: string;
  readonly uidValidity: number;
  readonly readOnly: boolean;
  /** uids[seq - 1] is the UID of message seq. Ascending, never reordered. */
  readonly uids: number[];
  /** Highest MODSEQ this session has reported or been told of. */
  highestModseq: number;
  /** The view holds every change up to this MODSEQ (announced or waiting in `gone`). */
  private syncedModseq: number;
  /** UIDs expunged in the store that this session has not announced yet: they keep their numbers. */
  private readonly gone = new Set<number>();
  /** The MODSEQ of flag states this session already reported (its own STOREs and FETCHes). */
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
    start: ViewStart,
    readOnly: boolean,
    private readonly changes: ChangeSource,
    private readonly recentSource?: RecentSource,
  ) {
    this.mailboxId = info.id;
    this.name = info.name;
    this.uidValidity = info.uidValidity;
    this.readOnly = readOnly;
    this.uids = start.uids;
    this.highestModseq = start.highestModseq;
    this.syncedModseq = start.highestModseq;
    if (recentSource) {
      const last = start.uids[start.uids.length - 1] ?? 0;
      this.recent.claimTail(recentSource(Math.max(info.uidNext, last + 1)), start.uids);
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

  /** "* n RECENT" when the count changed since the last one sent (rev1 only). */
  private recentResponse(out: ImapResponse[]): void {
    if (this.recent.size === this.recentReported) return;
    this.recentReported = this.recent.size;
    if (!this.hideRecent) out.push(untagged(this.recent.size, 'RECENT'));
  }

  /** The UIDs "$" names now: the saved result less what was expunged since. */
  savedUids(): number[] {
    return this.savedSearch.filter((uid) => this.seqOf(uid) !== 0 && !this.gone.has(uid));
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

  /** Whether the message was expunged by another session and this one has not announced it yet. */
  isGone(uid: number): boolean {
    return this.gone.has(uid);
  }

  /** This session reported these flags itself; a change at or below modseq is not news. */
  markReported(uid: number, modseq: number): void {
    const prev = this.reported.get(uid) ?? 0;
    if (modseq > prev) this.reported.set(uid, modseq);
    if (modseq > this.highestModseq) this.highestModseq = modseq;
  }

  /**
   * Catches the view up with the store and returns what tells the client:
   * EXPUNGE (or VANISHED with QRESYNC) when `allowExpunge`, else the
   * expunged messages keep their numbers until a later call; EXISTS (and
   * RECENT) for new messages; a FETCH of FLAGS for each message whose flags
   * changed since this session last reported them.
   */
  flush(allowExpunge: boolean, condstore: boolean, qresync = false): ImapResponse[] {
    const delta = this.changes(this.syncedModseq);
    const out: ImapResponse[] = [];
    const fresh: Array<{ uid: number; modseq: number }> = [];
    const flagged: Array<{ uid: number; modseq: number; flags: string[] }> = [];
    if (delta !== undefined && delta.highestModseq > this.syncedModseq) {
      this.syncedModseq = delta.highestModseq;
      if (delta.highestModseq > this.highestModseq) this.highestModseq = delta.highestModseq;
      for (const uid of delta.expunged) if (this.seqOf(uid) !== 0) this.gone.add(uid);
      const last = this.uids[this.uids.length - 1] ?? 0;
      for (const c of delta.changed) {
        // The store gives UIDs in commit order: a message this view has not got is above all it has.
        if (c.uid > last) fresh.push(c);
        else if (this.seqOf(c.uid) !== 0) flagged.push(c);
      }
    }
    if (allowExpunge && this.gone.size > 0) this.announceExpunges(out, qresync);
    if (fresh.length > 0) {
      const newest = fresh[fresh.length - 1]!.uid;
      const firstRecent = this.recentSource ? this.recentSource(newest + 1) : Infinity;
      for (const c of fresh) {
        this.uids.push(c.uid);
        this.reported.set(c.uid, c.modseq);
        if (c.uid >= firstRecent) this.recent.add(c.uid);
      }
      out.push(untagged(this.uids.length, 'EXISTS'));
      this.recentResponse(out);
    }
    for (const c of flagged) {
      if (this.gone.has(c.uid) || (this.reported.get(c.uid) ?? 0) >= c.modseq) continue;
      this.reported.set(c.uid, c.modseq);
      const items: ImapValue[] = ['UID', c.uid, 'FLAGS', this.flagsOf(c.uid, c.flags)];
      if (condstore) items.push('MODSEQ', [c.modseq]);
      out.push(untagged(this.seqOf(c.uid), 'FETCH', items));
    }
    return out;
  }

  /** EXPUNGE for each gone message, numbered as the client's view shrinks; or one VANISHED. */
  private announceExpunges(out: ImapResponse[], qresync: boolean): void {
    const gone = [...this.gone].sort((x, y) => x - y);
    this.gone.clear();
    for (const uid of gone) {
      const seq = this.seqOf(uid);
      this.uids.splice(seq - 1, 1);
      this.reported.delete(uid);
      // The client drops an expunged message's \Recent with it; no RECENT is owed.
      if (this.recent.delete(uid)) this.recentReported--;
      if (!qresync) out.push(untagged(seq, 'EXPUNGE'));
    }
    if (qresync) out.push(untagged('VANISHED', formatSequenceSet(gone)));
  }
}
