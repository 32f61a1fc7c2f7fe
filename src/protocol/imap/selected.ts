// The selected mailbox as this session sees it: its own sequence number <->
// UID map, which changes only when this session is told (RFC 3501 5.5,
// 7.4.1). After a command, and at once during IDLE, the view catches up
// with the store from one snapshot of what changed since the MODSEQ it last
// reached (MailboxDelta): expunges (held back while a FETCH, STORE or
// SEARCH by sequence number would be renumbered), new messages (always
// above every UID it has, so sequence numbers of known messages never
// move), and flag changes. The store is the one authority; the change feed
// only wakes the session, so changes that reach it late, twice or out of
// order cannot bend its numbering. Reading the store is asynchronous
// (catchUp, one at a time); telling the client (flagsUpdate, flush) is not,
// so a caller that caught up reports exactly what it read, in one stretch.
// It also holds what is this session's
// alone: the messages it sees as \Recent and the saved search ($, RFC 5182).
import { OneAtATime } from './one-at-a-time.js';
import type { ExpungedHold, MailboxDelta, MailboxRef, MessageRecord } from './backend.js';
import { statusResponse, untagged, type ImapResponse, type ImapValue } from './response.js';
import { firstAtLeast, formatSequenceSet } from './sequence.js';
import { IMAP_LIMITS } from './limits.js';

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

/**
 * Searches that follow the mailbox (SEARCH RETURN (UPDATE), RFC 5267): told
 * of messages about to be expunged (before their EXPUNGE, while their
 * numbers still hold) and of new or changed ones (after EXISTS and FETCH).
 */
export interface SearchUpdateHook {
  expunged(uids: readonly number[]): ImapResponse[];
  /** Asynchronous: matching may read message bodies (see searchUpdatesDue). */
  changed(uids: readonly number[]): ImapResponse[] | Promise<ImapResponse[]>;
}

/** Finds the first recent UID below uidNext for this session (claiming them when read-write). */
export type RecentSource = (uidNext: number) => Promise<number>;

/** What changed after a MODSEQ, from one snapshot of the store (undefined: the mailbox is gone). */
export type ChangeSource = (sinceModseq: number) => Promise<MailboxDelta | undefined>;

const SYSTEM_FLAG = /^\\(answered|flagged|deleted|seen|draft)$/i;

export interface ViewStart {
  /** Every UID at the moment the view starts, ascending. */
  uids: number[];
  /** Keywords in use at that moment (FLAGS as SELECT sent it). */
  keywords: string[];
  /** The MODSEQ of that moment: changes above it are news. */
  highestModseq: number;
  /** With a RecentSource: the first UID of `uids` that is \Recent to this session (claimed before the view starts). */
  firstRecent?: number;
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
  /** Keywords this session was told of (FLAGS). */
  private readonly keywords: string[];
  /** SEARCH RETURN (SAVE): the UIDs "$" stands for (expunged ones are skipped when it is used). */
  savedSearch: number[] = [];
  /** CONTEXT=SEARCH updates of this session, while this mailbox is selected. */
  searchUpdates: SearchUpdateHook | undefined;
  /** New or changed UIDs flush() announced, for the search updates that follow them (searchUpdatesDue). */
  private searchTouched: number[] = [];

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
    this.keywords = [...start.keywords];
    if (recentSource && start.firstRecent !== undefined) {
      this.recent.claimTail(start.firstRecent, start.uids);
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

  /** "* n RECENT" when the count changed since the last one sent (rev1 only): not with every EXISTS, but after an expunge of recent messages too. */
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

  /** What the store keeps of messages expunged while this view numbers them (RFC 2180 4.1.1); none without. */
  private expungedHold: ExpungedHold | undefined;

  /** Takes the store's hold on what is expunged while this view numbers it; let go at close(). */
  holdExpunged(hold: ExpungedHold | undefined): void {
    this.expungedHold?.close();
    this.expungedHold = hold;
  }

  /** The record of a message this view numbers that was expunged meanwhile, while the store keeps it. */
  expungedRecord(uid: number): MessageRecord | undefined {
    return this.seqOf(uid) === 0 ? undefined : this.expungedHold?.record(uid);
  }

  /** Its body, while the store keeps it. */
  async readExpunged(uid: number): Promise<Buffer | undefined> {
    return this.seqOf(uid) === 0 ? undefined : await this.expungedHold?.read(uid);
  }

  /** The view ends (another SELECT, CLOSE, logout, a dropped connection): what it held is let go. */
  close(): void {
    this.expungedHold?.close();
    this.expungedHold = undefined;
  }

  /** This session reported these flags itself; a change at or below modseq is not news. */
  markReported(uid: number, modseq: number): void {
    const prev = this.reported.get(uid) ?? 0;
    if (modseq > prev) this.reported.set(uid, modseq);
    if (modseq > this.highestModseq) this.highestModseq = modseq;
  }

  /**
   * Reads what changed since the view's MODSEQ and keeps it pending: gone
   * messages, new ones (always above every UID the view has, \Recent to this
   * session when it claims them), flag changes and the mailbox's keywords.
   * Nothing is told here. One at a time: a second caller (a command's end
   * and an IDLE wake-up) waits for the first, then reads on from where it got.
   */
  catchUp(): Promise<void> {
    return this.catching.run(() => this.catchUpOnce());
  }

  private readonly catching = new OneAtATime();

  private async catchUpOnce(): Promise<void> {
    const since = this.syncedModseq;
    const delta = await this.changes(since);
    if (delta === undefined || delta.highestModseq <= since) return;
    // New messages are claimed as \Recent before the view changes, so what is applied below is applied at once.
    let firstRecent = Infinity;
    let newest = 0;
    for (const c of delta.changed) if (c.uid > newest) newest = c.uid;
    if (this.recentSource && newest > this.newestKnownUid()) {
      try {
        firstRecent = await this.recentSource(newest + 1);
      } catch {
        firstRecent = Infinity; // the mailbox went away meanwhile: nothing is recent
      }
    }
    this.syncedModseq = delta.highestModseq;
    if (delta.highestModseq > this.highestModseq) this.highestModseq = delta.highestModseq;
    for (const uid of delta.expunged) if (this.seqOf(uid) !== 0) this.gone.add(uid);
    const last = this.newestKnownUid();
    for (const c of delta.changed) {
      if (c.uid > last) this.freshUids.push({ uid: c.uid, modseq: c.modseq, recent: c.uid >= firstRecent });
      else if (this.seqOf(c.uid) !== 0) this.changedFlags.set(c.uid, c);
      else {
        // New since the last look but not yet announced: keep its newest flags (they travel with it).
        const f = this.freshUids.find((x) => x.uid === c.uid);
        if (f) f.modseq = c.modseq;
      }
    }
    for (const uid of delta.expunged) {
      const at = this.freshUids.findIndex((x) => x.uid === uid);
      if (at >= 0) this.freshUids.splice(at, 1); // came and went before it was announced
    }
    if (delta.keywords) for (const k of delta.keywords) if (!this.keywords.includes(k)) this.newKeywords.push(k);
  }

  /** The highest UID the view has or will announce. */
  private newestKnownUid(): number {
    return this.freshUids.length > 0 ? this.freshUids[this.freshUids.length - 1]!.uid : (this.uids[this.uids.length - 1] ?? 0);
  }

  private freshUids: Array<{ uid: number; modseq: number; recent: boolean }> = [];
  private readonly changedFlags = new Map<number, { uid: number; modseq: number; flags: string[] }>();
  private newKeywords: string[] = [];

  /**
   * FLAGS and PERMANENTFLAGS when keywords new to this session are in use
   * (RFC 3501 7.2.6): sent before any FETCH that could name them, so the
   * session calls it before a command's own responses. From what the last
   * catchUp() read.
   */
  flagsUpdate(): ImapResponse[] {
    if (this.newKeywords.length === 0) return [];
    this.keywords.push(...this.newKeywords);
    this.newKeywords = [];
    return flagsResponses(this.keywords, this.readOnly);
  }

  /**
   * Moves the view to what the last catchUp() read and returns what tells
   * the client: new FLAGS, EXPUNGE (or VANISHED with QRESYNC) when
   * `allowExpunge`, else the expunged messages keep their numbers until a
   * later call; EXISTS for new messages; RECENT when either changed the
   * count of recent messages; a FETCH of FLAGS for
   * each message whose flags changed since this session last reported them.
   */
  flush(allowExpunge: boolean, condstore: boolean, qresync = false, withUid = qresync): ImapResponse[] {
    const out = this.flagsUpdate();
    if (allowExpunge && this.gone.size > 0) this.announceExpunges(out, qresync);
    const fresh = this.freshUids;
    if (fresh.length > 0) {
      this.freshUids = [];
      for (const c of fresh) {
        this.uids.push(c.uid);
        this.reported.set(c.uid, c.modseq);
        if (c.recent) this.recent.add(c.uid);
      }
      out.push(untagged(this.uids.length, 'EXISTS'));
    }
    // After the EXPUNGEs and EXISTS: the new count when they changed it (as Dovecot 2.3 does, also for an expunge alone).
    this.recentResponse(out);
    for (const c of this.changedFlags.values()) {
      if (this.gone.has(c.uid) || (this.reported.get(c.uid) ?? 0) >= c.modseq) continue;
      this.reported.set(c.uid, c.modseq);
      // UID with QRESYNC (RFC 7162 3.2.4) and in answer to a UID command, as Dovecot.
      const items: ImapValue[] = withUid ? ['UID', c.uid, 'FLAGS', this.flagsOf(c.uid, c.flags)] : ['FLAGS', this.flagsOf(c.uid, c.flags)];
      if (condstore) items.push('MODSEQ', [c.modseq]);
      out.push(untagged(this.seqOf(c.uid), 'FETCH', items));
    }
    if (this.searchUpdates !== undefined) {
      const touched = [...fresh.map((c) => c.uid), ...this.changedFlags.keys()].filter((uid) => !this.gone.has(uid));
      this.searchTouched.push(...touched);
    }
    this.changedFlags.clear();
    return out;
  }

  /**
   * The search updates (ADDTO, REMOVEFROM) for the new and changed messages
   * the last flush() announced: sent right after its responses. Apart from
   * flush() because matching may read message bodies, which is asynchronous.
   */
  async searchUpdatesDue(): Promise<ImapResponse[]> {
    const touched = this.searchTouched;
    this.searchTouched = [];
    if (this.searchUpdates === undefined || touched.length === 0) return [];
    return this.searchUpdates.changed(touched.sort((x, y) => x - y));
  }

  /** Whether searchUpdatesDue() has anything to look at. */
  get searchUpdatesPending(): boolean {
    return this.searchUpdates !== undefined && this.searchTouched.length > 0;
  }

  /** EXPUNGE for each gone message, highest number first (so none of the others moves); or one VANISHED. */
  private announceExpunges(out: ImapResponse[], qresync: boolean): void {
    const gone = [...this.gone].sort((x, y) => y - x);
    if (this.searchUpdates !== undefined) out.push(...this.searchUpdates.expunged(gone));
    this.gone.clear();
    for (const uid of gone) {
      const seq = this.seqOf(uid);
      this.uids.splice(seq - 1, 1);
      this.reported.delete(uid);
      this.changedFlags.delete(uid);
      this.recent.delete(uid);
      if (!qresync) out.push(untagged(seq, 'EXPUNGE'));
    }
    // This view numbers them no more: what the store kept for it may go.
    this.expungedHold?.released();
    if (qresync) out.push(untagged('VANISHED', formatSequenceSet(gone.reverse())));
  }
}

/**
 * The flags every mailbox lists: the system flags, and $Forwarded (RFC 5550),
 * which has its own Maildir letter instead of a place in the mailbox's
 * keyword list, so any message can have it. Listed always, so that no FETCH
 * shows a flag the mailbox's FLAGS does not have.
 */
const ALWAYS_LISTED = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft', '$Forwarded'];

/** FLAGS and PERMANENTFLAGS for a mailbox with these keywords (SELECT, and when new ones appear). */
export function flagsResponses(keywords: readonly string[], readOnly: boolean): ImapResponse[] {
  const flags = [...ALWAYS_LISTED, ...keywords.filter((k) => !ALWAYS_LISTED.includes(k))];
  return [
    untagged('FLAGS', flags),
    statusResponse(
      'OK',
      readOnly ? 'No permanent flags permitted' : 'Flags permitted',
      `PERMANENTFLAGS (${readOnly ? '' : [...flags, ...(keywords.length < IMAP_LIMITS.mailboxKeywords ? ['\\*'] : [])].join(' ')})`,
    ),
  ];
}
