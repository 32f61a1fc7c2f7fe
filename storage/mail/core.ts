// What the parts of the mail store share: the index handle and its write
// transactions (with the Maildir changes made in them, undone or finished as
// a whole), the cached lookups of accounts and mailboxes, the disk-full
// signal, the blob store and the change publisher. Each part (mailboxes,
// subscriptions, \Recent, messages, the append batcher, recovery) holds one.
import path from 'node:path';
import { prepared, type IndexDb, type Statement } from '../index/database.js';
import { LookupCache, changingIndex, indexChanged } from '../index/lookup-cache.js';
import { UnitGate, afterCommit, commitTeller } from '../unit-of-work.js';
import type { ChangeFeed, MailboxChange, MailboxInfo, Quota } from '../ports.js';
import { MailError, isMailError, storageFailure } from '../errors.js';
import { FileChanges } from '../maildir/file-changes.js';
import { MaildirBlobStore } from '../maildir/blob-store.js';
import { accountSegment } from '../maildir/names.js';
import { withKeywords } from '../flags.js';
import { META_FILE, folderMetaText, type FolderMeta } from '../maildir/meta.js';
import { InProcessChangeFeed } from '../change-feed.js';
import { ChangePublisher } from '../index/change-publisher.js';
import { ExpungedKeep } from './expunged-keep.js';
import { MailboxMetadata } from '../metadata.js';
import { canonicalInbox, summary, type MailboxRef, type MailboxRow, type MessageIndexer, type MessageRow } from '../index/mail-rows.js';

export interface MailCoreOptions {
  /** DIR/mail */
  mailRoot: string;
  indexer?: MessageIndexer;
  feed?: ChangeFeed;
  /** Told when storing mail starts failing because the disk is full (true), and when a message is stored again (false). */
  onDiskFull?: (full: boolean) => void;
  /** Start the body reader threads at once (serve), not at the first read. */
  startReaders?: boolean;
  /** The gate units of work hold (see storage/unit-of-work.ts); the append batcher waits for it. */
  gate?: UnitGate;
}

export class MailCore {
  readonly blobs: MaildirBlobStore;
  readonly publisher: ChangePublisher;
  readonly indexer: MessageIndexer;
  /** IMAP METADATA entries (storage/metadata.ts); their rows follow the mailboxes'. */
  readonly metadata: MailboxMetadata;
  readonly gate: UnitGate;
  /** Expunged messages that IMAP sessions of this process still number (RFC 2180 4.1.1). */
  readonly expunged = new ExpungedKeep();
  private readonly mailRoot: string;
  /** Account directories, mailbox refs and quota limits (see mailboxRef). */
  private readonly lookups: LookupCache;
  private readonly onDiskFull: ((full: boolean) => void) | undefined;
  private diskFull = false;
  /** The file changes of the transaction running now (transactions are synchronous: one at a time). */
  private files: FileChanges | undefined;
  private runTxCached: ((fn: () => unknown) => unknown) & { immediate(fn: () => unknown): unknown } | undefined;
  private runReadCached: ((fn: () => unknown) => unknown) & { deferred(fn: () => unknown): unknown } | undefined;

  constructor(
    readonly db: IndexDb,
    options: MailCoreOptions,
  ) {
    this.mailRoot = options.mailRoot;
    this.lookups = new LookupCache(db);
    this.indexer = options.indexer ?? (() => null);
    this.publisher = new ChangePublisher(db, options.feed ?? new InProcessChangeFeed());
    this.onDiskFull = options.onDiskFull;
    this.blobs = new MaildirBlobStore(options.mailRoot, { startReaders: options.startReaders === true });
    this.gate = options.gate ?? new UnitGate();
    this.metadata = new MailboxMetadata(db, (id) => this.accountDir(id), (fn) => this.withFileChanges(() => fn(this.fileChanges())), this.gate);
  }

  sql(text: string): Statement {
    return prepared(this.db, text);
  }

  /**
   * Committed changes not yet told, in commit order. An append batch holds
   * its place from its commit until its files are synced; changes committed
   * after it wait behind it, so the feed always hears a mailbox's changes in
   * the order they were committed (MODSEQ order).
   */
  private readonly held: Array<{ changes: MailboxChange[]; ready: boolean; tell: (tell: () => void) => void }> = [];

  /**
   * A change just committed: told now, or after the held changes before it.
   * Inside a unit of work, it waits for the unit's commit (nothing is told
   * when it rolls back): see afterCommit.
   */
  publish(change: MailboxChange): void {
    afterCommit(() => {
      if (this.held.length === 0) return this.publisher.publish(change);
      this.held.push({ changes: [change], ready: true, tell: (t) => t() });
    });
  }

  /**
   * Keeps a place in commit order for changes told later (call right after
   * the commit); the function returned tells them, once, when they may be.
   */
  holdPlace(): (changes: MailboxChange[]) => void {
    // Inside a unit of work, the changes wait for its commit (see afterCommit).
    const slot = { changes: [] as MailboxChange[], ready: false, tell: commitTeller() };
    this.held.push(slot);
    return (changes) => {
      slot.changes = changes;
      slot.ready = true;
      while (this.held[0]?.ready) {
        const done = this.held.shift()!;
        done.tell(() => {
          for (const c of done.changes) this.publisher.publish(c);
        });
      }
    };
  }

  // ---- transactions ------------------------------------------------------------

  /**
   * One write transaction; whatever it changed is no longer cached (mailbox
   * refs, quota limits, and the directory's lookups on the same index).
   */
  tx<T>(fn: () => T): T {
    return changingIndex(this.db, () => this.withFileChanges(() => this.txKeepingLookups(fn)));
  }

  /**
   * Runs a transaction with the file changes it makes through fileChanges():
   * undone when it fails, finished when it commits, so the Maildir and the
   * index change as a whole. Its errors come out as storage errors (a full
   * disk is NOSPACE). A nested transaction shares the outer one's changes
   * and undoes its own when it fails.
   */
  withFileChanges<T>(run: () => T): T {
    const outer = this.files;
    const files = outer ?? new FileChanges();
    const mark = files.mark();
    this.files = files;
    try {
      const result = run();
      if (!outer) files.commit();
      return result;
    } catch (err) {
      files.rollback(mark);
      throw this.failure(err);
    } finally {
      this.files = outer;
    }
  }

  /** Savepoint names of the units of work open now (0: none). */
  private unitDepth = 0;

  /**
   * A unit of work (hold the gate around it): BEGIN IMMEDIATE, the body,
   * COMMIT; or a savepoint when one is open already. The file changes made
   * inside (every port's, through withFileChanges) are finished at the
   * outermost COMMIT or undone with the rollback. A body's own error comes
   * out as it is; a failing COMMIT as a storage error.
   */
  async unit<T>(body: () => Promise<T>): Promise<T> {
    const nested = this.unitDepth > 0;
    const savepoint = `unit_of_work_${this.unitDepth}`;
    const files = nested ? this.fileChanges() : new FileChanges();
    const mark = files.mark();
    this.db.exec(nested ? `SAVEPOINT ${savepoint}` : 'BEGIN IMMEDIATE');
    this.files = files;
    this.unitDepth++;
    let ran = false;
    try {
      const result = await body();
      ran = true;
      this.db.exec(nested ? `RELEASE ${savepoint}` : 'COMMIT');
      if (!nested) files.commit();
      return result;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec(nested ? `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}` : 'ROLLBACK');
      files.rollback(mark);
      throw ran ? this.failure(err) : err;
    } finally {
      this.unitDepth--;
      if (!nested) this.files = undefined;
      // Lookups made inside may hold what was rolled back.
      indexChanged(this.db);
    }
  }

  fileChanges(): FileChanges {
    if (!this.files) throw new Error('a file change outside a transaction');
    return this.files;
  }

  /**
   * One write transaction (BEGIN IMMEDIATE, reusing one prepared
   * BEGIN/COMMIT) that leaves cached lookups alone: for the append flush,
   * which changes no mailbox ref or quota limit.
   */
  txKeepingLookups<T>(fn: () => T): T {
    this.runTxCached ??= this.db.transaction((f: () => unknown) => f());
    return this.runTxCached.immediate(fn) as T;
  }

  /**
   * Several reads that must agree with each other: one read transaction,
   * so a commit by another process cannot fall between them.
   */
  readSnapshot<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    this.runReadCached ??= this.db.transaction((f: () => unknown) => f());
    return this.runReadCached.deferred(fn) as T;
  }

  /** A storage error for the caller (see storageFailure); a full disk is noted. */
  failure(err: unknown): unknown {
    const e = storageFailure(err);
    if (isMailError(e, 'NOSPACE')) this.noteDiskFull(true);
    return e;
  }

  noteDiskFull(full: boolean): void {
    if (full === this.diskFull) return;
    this.diskFull = full;
    this.onDiskFull?.(full);
  }

  // ---- accounts and mailboxes -------------------------------------------------

  /**
   * The account's place under the mail root, kept like mailbox refs:
   * forgotten at any change to the index, made here or by another process
   * (the CLI). An id never stands for two accounts (migration 6), so an
   * entry goes stale only when its account is removed, and nothing commits
   * through it then: appends look their mailbox up again inside the
   * transaction.
   */
  private accountLocation(accountId: number): string {
    const dir = this.lookups.get(`dir ${accountId}`, () => {
      const row = this.sql('SELECT domain, localpart FROM accounts WHERE id = ?').get(accountId) as
        | { domain: string; localpart: string }
        | undefined;
      return row && path.join(accountSegment(row.domain.toLowerCase()), accountSegment(row.localpart.toLowerCase()));
    });
    if (dir === undefined) throw new MailError('NONEXISTENT', 'no such account');
    return dir;
  }

  /** The account's Maildir. */
  accountDir(accountId: number): string {
    return path.join(this.mailRoot, this.accountLocation(accountId));
  }

  /** The mailbox's location in the blob store. */
  location(row: MailboxRef): string {
    return path.join(this.accountLocation(row.account_id), row.dir);
  }

  /**
   * The location of a mailbox by id, for body reads (every FETCH BODY and
   * SEARCH BODY message asks). Kept like mailbox refs, so never past a
   * change to the index: a rename or delete (here or by another process)
   * forgets it; and ids are never reused (AUTOINCREMENT).
   */
  locationById(mailboxId: number): string {
    return this.lookups.get(`location ${mailboxId}`, () => this.location(this.mailboxById(mailboxId)));
  }

  /** The mailbox's Maildir folder. */
  folderPath(row: MailboxRef): string {
    return path.join(this.accountDir(row.account_id), row.dir);
  }

  mailboxRow(accountId: number, name: string): MailboxRow | undefined {
    return this.sql('SELECT * FROM mailboxes WHERE account_id = ? AND name = ?').get(accountId, canonicalInbox(name)) as
      | MailboxRow
      | undefined;
  }

  /**
   * Which mailbox a name is, for deliveries: asked several times per message
   * (fileinto's target exists? then the append), so kept until the index
   * changes. Only what never changes while the mailbox lives is in it.
   */
  mailboxRef(accountId: number, name: string): MailboxRef | undefined {
    return this.lookups.get(`mailbox ${accountId} ${name}`, () => {
      const row = this.mailboxRow(accountId, name);
      return row && { id: row.id, account_id: row.account_id, dir: row.dir };
    });
  }

  /** The account's quota in bytes (null: none), kept like mailbox refs. */
  quotaLimit(accountId: number): number | null {
    const limit = this.lookups.get(`quota ${accountId}`, () =>
      (this.sql('SELECT quota FROM accounts WHERE id = ?').get(accountId) as { quota: number | null } | undefined)?.quota,
    );
    if (limit === undefined) throw new MailError('NONEXISTENT', 'no such account');
    return limit;
  }

  mailboxById(id: number): MailboxRow {
    const row = this.sql('SELECT * FROM mailboxes WHERE id = ?').get(id) as MailboxRow | undefined;
    if (!row) throw new MailError('NONEXISTENT', 'no such mailbox');
    return row;
  }

  messageRow(mailboxId: number, uid: number): MessageRow | undefined {
    return this.sql('SELECT * FROM messages WHERE mailbox_id = ? AND uid = ?').get(mailboxId, uid) as MessageRow | undefined;
  }

  info(row: MailboxRow): MailboxInfo {
    const counts = this.sql(
        `SELECT count(*) AS n, coalesce(sum(size), 0) AS size,
                coalesce(sum(CASE WHEN (' ' || flags || ' ') LIKE '% \\Seen %' THEN 0 ELSE 1 END), 0) AS unseen
         FROM messages WHERE mailbox_id = ?`,
      )
      .get(row.id) as { n: number; size: number; unseen: number };
    return { ...summary(row), messages: counts.n, unseen: counts.unseen, size: counts.size };
  }

  quota(accountId: number): Quota {
    const row = this.sql('SELECT quota, used_bytes, used_messages FROM accounts WHERE id = ?').get(accountId) as
      | { quota: number | null; used_bytes: number; used_messages: number }
      | undefined;
    if (!row) throw new MailError('NONEXISTENT', 'no such account');
    return { limit: row.quota, usedBytes: row.used_bytes, usedMessages: row.used_messages };
  }

  // ---- folder state kept beside the files (inside a transaction) ------------------

  saveMeta(row: MailboxRow): void {
    this.saveFolderMeta(this.folderPath(row), {
      uidValidity: row.uidvalidity,
      uidNext: row.uidnext,
      keywords: JSON.parse(row.keywords) as string[],
      specialUse: row.special_use,
    });
  }

  /** The folder's meta file, put back as it was if the transaction fails. */
  saveFolderMeta(folder: string, meta: FolderMeta): void {
    // Every expunge and append batch writes it: the old copy's second name is deleted off the event loop
    // (a synchronous unlink in the commit was 9% of the serve process's CPU under bench/imap-shared).
    this.fileChanges().replace(path.join(folder, META_FILE), folderMetaText(meta), false, true);
  }

  /**
   * Gives new keywords a letter in the folder's keyword list (and the meta file);
   * returns the list. A keyword that found no letter (all 26 taken) is not
   * stored: see storableFlags.
   */
  ensureKeywords(mb: MailboxRow, flags: string[]): string[] {
    const listed = JSON.parse(mb.keywords) as string[];
    const keywords = withKeywords(listed, flags);
    if (keywords.length !== listed.length) {
      mb.keywords = JSON.stringify(keywords);
      this.sql('UPDATE mailboxes SET keywords = ? WHERE id = ?').run(mb.keywords, mb.id);
      this.saveMeta(mb);
    }
    return keywords;
  }

  /**
   * A UIDVALIDITY above every one the account ever had (deleted mailboxes
   * included), recorded at once: call inside the transaction that uses it.
   */
  newUidValidity(accountId: number): number {
    const high = this.sql('SELECT value FROM uidvalidity_high WHERE account_id = ?').pluck().get(accountId) as number | undefined;
    const max = this.sql('SELECT max(uidvalidity) FROM mailboxes WHERE account_id = ?').pluck().get(accountId) as number | null;
    const value = Math.max(Math.floor(Date.now() / 1000), (high ?? 0) + 1, (max ?? 0) + 1);
    this.noteUidValidity(accountId, value);
    return value;
  }

  /** Records a UIDVALIDITY in use (also one adopted from a folder's meta file). */
  noteUidValidity(accountId: number, value: number): void {
    this.sql(
      `INSERT INTO uidvalidity_high (account_id, value) VALUES (?, ?)
       ON CONFLICT (account_id) DO UPDATE SET value = max(value, excluded.value)`,
    ).run(accountId, value);
  }

  /** The index's WAL, fsynced after a commit that must be durable (when missing, a checkpoint moved it into the database file, which SQLite synced). */
  get walPath(): string {
    return `${this.db.name}-wal`;
  }
}
