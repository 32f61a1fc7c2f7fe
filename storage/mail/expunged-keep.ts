// Messages expunged while an IMAP session of this process still numbers
// them (it may tell its client only at certain points, RFC 3501 7.4.1):
// their records, and for a while their files, stay here so that such a
// session can still FETCH them (RFC 2180 4.1.1), until no view of the
// mailbox numbers them any more (each view was told, or ended). Only what
// some view numbers at the commit is kept; the records in memory and the
// files (left in tmp/ under their removed name, which recovery deletes
// after a crash) are bounded in count, bytes and time.
import { readFile, unlink } from 'node:fs/promises';
import type { ExpungedHold, MessageRecord } from '../ports.js';

/** Records kept at most (in the whole process): past it the oldest go. */
const MAX_RECORDS = 2000;
/** Bytes of records kept at most (the MIME index JSON is most of one). */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;
/** Files whose deletion waits at most, and for how long at most. */
const MAX_FILES = 256;
const FILE_TTL_MS = 60_000;

interface Kept {
  mailboxId: number;
  record: MessageRecord;
  bytes: number;
  /** The removed file, while its deletion waits; undefined once deleted (or never kept). */
  file: string | undefined;
  keptAt: number;
}

/** Whether a view still numbers a UID. */
type Numbers = (uid: number) => boolean;

export class ExpungedKeep {
  private readonly views = new Map<number, Set<Numbers>>();
  /** mailbox -> uid -> kept. */
  private readonly byMailbox = new Map<number, Map<number, Kept>>();
  /** Every kept entry, oldest first (the order in which bounds let them go). */
  private readonly order = new Set<Kept>();
  private bytes = 0;
  private files = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly now: () => number = Date.now,
    /** How long a file's deletion waits at most (tests shorten it). */
    private readonly fileTtlMs = FILE_TTL_MS,
  ) {}

  /** A view of the mailbox that numbers UIDs until it is told of their expunge; close() it when it ends. */
  hold(mailboxId: number, numbers: Numbers): ExpungedHold {
    let set = this.views.get(mailboxId);
    if (set === undefined) this.views.set(mailboxId, (set = new Set()));
    set.add(numbers);
    let open = true;
    return {
      record: (uid) => this.byMailbox.get(mailboxId)?.get(uid)?.record,
      read: (uid) => this.read(mailboxId, uid),
      released: () => {
        if (open) this.prune(mailboxId);
      },
      close: () => {
        if (!open) return;
        open = false;
        const views = this.views.get(mailboxId);
        views?.delete(numbers);
        if (views?.size === 0) this.views.delete(mailboxId);
        this.prune(mailboxId);
      },
    };
  }

  /** Whether some view of the mailbox numbers the UID (then keep() is worth calling). */
  wanted(mailboxId: number, uid: number): boolean {
    const views = this.views.get(mailboxId);
    if (views === undefined) return false;
    for (const numbers of views) if (numbers(uid)) return true;
    return false;
  }

  /**
   * An expunge just committed: keeps the record (and `file`, the removed
   * message file) when a view numbers the UID. True when it took the file:
   * then it deletes it, else the caller does.
   */
  keep(mailboxId: number, record: () => MessageRecord, uid: number, file?: string): boolean {
    if (!this.wanted(mailboxId, uid)) return false;
    let kept = this.byMailbox.get(mailboxId);
    if (kept === undefined) this.byMailbox.set(mailboxId, (kept = new Map()));
    const old = kept.get(uid);
    if (old !== undefined) this.drop(old);
    const rec = record();
    const entry: Kept = { mailboxId, record: rec, bytes: 256 + (rec.mime?.length ?? 0), file, keptAt: this.now() };
    kept.set(uid, entry);
    this.order.add(entry);
    this.bytes += entry.bytes;
    if (file !== undefined) this.files++;
    this.bound();
    return file !== undefined;
  }

  /** What is kept now (tests and metrics). */
  counts(): { records: number; files: number; bytes: number } {
    return { records: this.order.size, files: this.files, bytes: this.bytes };
  }

  private async read(mailboxId: number, uid: number): Promise<Buffer | undefined> {
    const file = this.byMailbox.get(mailboxId)?.get(uid)?.file;
    if (file === undefined) return undefined;
    try {
      return await readFile(file);
    } catch {
      return undefined; // deleted meanwhile (its time was up)
    }
  }

  /** Lets go of what no view of the mailbox numbers any more. */
  private prune(mailboxId: number): void {
    const kept = this.byMailbox.get(mailboxId);
    if (kept === undefined) return;
    for (const [uid, entry] of kept) if (!this.wanted(mailboxId, uid)) this.drop(entry);
  }

  private drop(entry: Kept): void {
    this.dropFile(entry);
    if (!this.order.delete(entry)) return;
    this.bytes -= entry.bytes;
    const kept = this.byMailbox.get(entry.mailboxId);
    if (kept?.get(entry.record.uid) === entry) kept.delete(entry.record.uid);
    if (kept?.size === 0) this.byMailbox.delete(entry.mailboxId);
  }

  private dropFile(entry: Kept): void {
    if (entry.file === undefined) return;
    const file = entry.file;
    entry.file = undefined;
    this.files--;
    // Off the event loop; a crash before it leaves a removed name in tmp/, which recovery deletes.
    unlink(file).catch(() => {});
  }

  /** Keeps within the bounds: the oldest records and files go first; files go after FILE_TTL_MS. */
  private bound(): void {
    for (const entry of this.order) {
      if (this.order.size <= MAX_RECORDS && this.bytes <= MAX_RECORD_BYTES) break;
      this.drop(entry);
    }
    if (this.files > MAX_FILES) {
      for (const entry of this.order) {
        if (this.files <= MAX_FILES) break;
        this.dropFile(entry);
      }
    }
    this.armTimer();
  }

  /** A timer for the oldest waiting file, while there is one. */
  private armTimer(): void {
    if (this.timer !== undefined || this.files === 0) return;
    let oldest = Infinity;
    for (const entry of this.order) {
      if (entry.file !== undefined) {
        oldest = entry.keptAt;
        break;
      }
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const cutoff = this.now() - this.fileTtlMs;
      for (const entry of this.order) if (entry.keptAt <= cutoff) this.dropFile(entry);
      this.armTimer();
    }, Math.max(0, oldest + this.fileTtlMs - this.now()));
    this.timer.unref();
  }

  /** The store closes: every waiting file is deleted now. */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const entry of this.order) this.dropFile(entry);
  }
}
