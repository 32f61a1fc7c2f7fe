// The mail store: Maildir++ files as the source of truth for messages, the
// SQLite index for UIDs, MODSEQs, flags and cached structure.
//
// Durability: a message is written to tmp/ and fsynced, then, inside one
// SQLite write transaction, renamed into new/ or cur/ with its UID in the
// name, the directory fsynced and the index row committed. Only then does
// append() resolve. Concurrent appends share one transaction and one
// directory fsync (group commit), which is what makes fsync-on fast.
// A crash before the rename leaves only a tmp/ file (never visible); a crash
// between rename and commit leaves a whole file that recover() adopts.
import { readFileSync, rmSync, existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { prepared, type IndexDb, type Statement } from './index/database.js';
import { LookupCache, changingIndex } from './index/lookup-cache.js';
import { IS_DELETED, IS_UNSEEN } from './index/migrations.js';
import type {
  AppendOptions,
  AppendResult,
  ChangeFeed,
  FlagMode,
  MailboxChange,
  MailboxInfo,
  MailStore,
  MessageRecord,
  MailboxSummary,
  MailboxDelta,
  SelectSummary,
  Quota,
  SpecialUse,
} from './ports.js';
import { MailError, isMailError, storageFailure } from './errors.js';
import { TmpWriterPool } from './maildir/tmp-writer.js';
import { removeQuietly, ensureMaildir, fsyncPath, listMessageFiles, cleanTmp, findMessageFile } from './maildir/files.js';
import { FileChanges } from './maildir/file-changes.js';
import {
  baseOfPath,
  flagSuffix,
  folderDir,
  folderNameFromDir,
  messageFileName,
  newFileName,
  parseFileName,
  accountSegment,
  MAX_KEYWORD_LETTERS,
} from './maildir/names.js';
import { META_FILE, folderMetaText, readFolderMeta, type FolderMeta } from './maildir/meta.js';
import { SUBSCRIPTIONS_FILE, readSubscriptions, subscriptionsText } from './maildir/subscriptions.js';
import { normalizeFlags } from './flags.js';
import { InProcessChangeFeed } from './change-feed.js';
import { MailboxMetadata } from './metadata.js';

/** Turns a raw message into the cached structure stored with it (JSON), once, at append. */
export type MessageIndexer = (raw: Buffer) => string | null;

export const DEFAULT_FOLDERS: Array<{ name: string; specialUse: SpecialUse | null }> = [
  { name: 'INBOX', specialUse: null },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' },
];

const MAX_MAILBOX_NAME = 255;
const MAX_MAILBOX_DEPTH = 16;
/** Subscribed names per account: the list is read whole by LSUB and LIST (SUBSCRIBED). */
export const MAX_SUBSCRIPTIONS = 10_000;

/** The \\Deleted messages of a mailbox, ascending (from their partial index). */
const DELETED_UIDS = `SELECT uid FROM messages INDEXED BY messages_deleted WHERE mailbox_id = ? AND ${IS_DELETED} ORDER BY uid`;
const MAX_BATCH = 512;
/** Messages read into memory at once by COPY. */
const COPY_SLICE = 64;
const TMP_MAX_AGE_MS = 36 * 3600 * 1000;
/** A deleted folder's directory is renamed to this (plus a unique part) before it is removed. */
const DELETED_FOLDER_PREFIX = '..deleted.';

interface MailboxRow {
  id: number;
  account_id: number;
  name: string;
  dir: string;
  uidvalidity: number;
  uidnext: number;
  highestmodseq: number;
  special_use: string | null;
  keywords: string;
}

/** What a delivery needs of a mailbox to write into it. */
type MailboxRef = Pick<MailboxRow, 'id' | 'account_id' | 'dir'>;

interface MessageRow {
  mailbox_id: number;
  uid: number;
  modseq: number;
  flags: string;
  internal_date: number;
  size: number;
  path: string;
  mime: string | null;
}

interface PendingAppend {
  mailboxId: number;
  tmpPath: string;
  base: string;
  size: number;
  flags: string[];
  internalDate: number;
  mime: string | null;
  ignoreQuota: boolean;
  /** Appends that commit together or not at all (MULTIAPPEND); queued next to each other. */
  group?: object;
  resolve(result: AppendResult): void;
  reject(err: unknown): void;
}

type Outcome = { item: PendingAppend; result?: AppendResult; error?: unknown; change?: MailboxChange; finalPath?: string };

/** What one batch's transaction has learned so far. */
interface BatchState {
  mailboxes: Map<number, MailboxRow>;
  usage: Map<number, { quota: number | null; used: number; addBytes: number; addCount: number }>;
  touchedDirs: Set<string>;
}

function summary(row: MailboxRow): MailboxSummary {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    uidValidity: row.uidvalidity,
    uidNext: row.uidnext,
    highestModseq: row.highestmodseq,
    specialUse: row.special_use as SpecialUse | null,
  };
}

/** A mailbox's keyword list as stored (JSON); an unreadable one is empty. */
function parseKeywords(json: string): string[] {
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? v.filter((k): k is string => typeof k === 'string') : [];
  } catch {
    return [];
  }
}

function toRecord(row: MessageRow): MessageRecord {
  return {
    mailboxId: row.mailbox_id,
    uid: row.uid,
    modseq: row.modseq,
    flags: row.flags === '' ? [] : row.flags.split(' '),
    internalDate: row.internal_date,
    size: row.size,
    mime: row.mime,
  };
}

export function validateMailboxName(name: string): string {
  if (name.length === 0) throw new MailError('BADINPUT', 'mailbox name is empty');
  if (name.length > MAX_MAILBOX_NAME) throw new MailError('BADINPUT', 'mailbox name is too long');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) throw new MailError('BADINPUT', 'mailbox name has control characters');
  const parts = name.split('/');
  if (parts.some((p) => p === '')) throw new MailError('BADINPUT', 'mailbox name has an empty level');
  if (parts.length > MAX_MAILBOX_DEPTH) throw new MailError('BADINPUT', 'mailbox name is nested too deeply');
  if (parts[0]!.toUpperCase() === 'INBOX') parts[0] = 'INBOX';
  return parts.join('/');
}

export interface MaildirStoreOptions {
  /** DIR/mail */
  mailRoot: string;
  indexer?: MessageIndexer;
  feed?: ChangeFeed;
  /** Told when storing mail starts failing because the disk is full (true), and when a message is stored again (false). */
  onDiskFull?: (full: boolean) => void;
}

export class MaildirStore implements MailStore {
  private runTxCached: ((fn: () => unknown) => unknown) & { immediate(fn: () => unknown): unknown } | undefined;

  /**
   * One write transaction; whatever it changed is no longer cached (mailbox
   * refs, quota limits, and the directory's lookups on the same index).
   */
  private tx<T>(fn: () => T): T {
    return changingIndex(this.db, () => this.withFileChanges(() => this.txKeepingLookups(fn)));
  }

  /** The file changes of the transaction running now (transactions are synchronous: one at a time). */
  private files: FileChanges | undefined;

  /**
   * Runs a transaction with the file changes it makes through fileChanges():
   * undone when it fails, finished when it commits, so the Maildir and the
   * index change as a whole. Its errors come out as storage errors (a full
   * disk is NOSPACE). A nested transaction shares the outer one's changes
   * and undoes its own when it fails.
   */
  private withFileChanges<T>(run: () => T): T {
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

  private fileChanges(): FileChanges {
    if (!this.files) throw new Error('a file change outside a transaction');
    return this.files;
  }

  /** A storage error for the caller (see storageFailure); a full disk is noted. */
  private failure(err: unknown): unknown {
    const e = storageFailure(err);
    if (isMailError(e, 'NOSPACE')) this.noteDiskFull(true);
    return e;
  }

  private diskFull = false;

  private noteDiskFull(full: boolean): void {
    if (full === this.diskFull) return;
    this.diskFull = full;
    this.onDiskFull?.(full);
  }

  /**
   * One write transaction (BEGIN IMMEDIATE, reusing one prepared
   * BEGIN/COMMIT) that leaves cached lookups alone: for the append flush,
   * which changes no mailbox ref or quota limit.
   */
  private txKeepingLookups<T>(fn: () => T): T {
    this.runTxCached ??= this.db.transaction((f: () => unknown) => f());
    return this.runTxCached.immediate(fn) as T;
  }

  private sql(text: string): Statement {
    return prepared(this.db, text);
  }

  readonly feed: ChangeFeed;
  private readonly mailRoot: string;
  private readonly indexer: MessageIndexer;
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  /** Account directories, mailbox refs and quota limits (see mailboxRef). */
  private readonly lookups: LookupCache;
  /** Four writer threads: measured 20-25% faster than the libuv pool's hand-offs (bench/store.ts). */
  private readonly tmpWriter = new TmpWriterPool(4);
  private readonly onDiskFull: ((full: boolean) => void) | undefined;
  /** IMAP METADATA entries (storage/metadata.ts); their rows follow the mailboxes' through the hooks below. */
  readonly metadata: MailboxMetadata;

  constructor(
    private readonly db: IndexDb,
    options: MaildirStoreOptions,
  ) {
    this.mailRoot = options.mailRoot;
    this.lookups = new LookupCache(db);
    this.indexer = options.indexer ?? (() => null);
    this.feed = options.feed ?? new InProcessChangeFeed();
    this.onDiskFull = options.onDiskFull;
    this.metadata = new MailboxMetadata(db, (id) => this.accountDir(id));
  }

  // ---- change feed ------------------------------------------------------------

  /** Per mailbox, the highest MODSEQ and UIDNEXT this process has published. */
  private readonly published = new Map<number, { modseq: number; uidNext: number }>();

  private publish(change: MailboxChange): void {
    if (change.kind !== 'mailboxes') {
      const p = this.published.get(change.mailboxId);
      if (p) {
        p.modseq = Math.max(p.modseq, change.modseq);
        if (change.kind === 'append') p.uidNext = Math.max(p.uidNext, change.uid + 1);
      }
    }
    this.feed.publish(change);
  }

  /**
   * Publishes changes committed by other processes (the LDA, the CLI, a
   * second server) to this process's feed. SQLite's data_version tells
   * cheaply when another connection committed; only then are the
   * mailboxes compared. Returns a function that stops watching.
   */
  watchExternalChanges(intervalMs = 250): () => void {
    let version = this.db.pragma('data_version', { simple: true }) as number;
    const snapshot = () => this.sql('SELECT id, account_id, highestmodseq, uidnext FROM mailboxes').all() as Array<{
      id: number;
      account_id: number;
      highestmodseq: number;
      uidnext: number;
    }>;
    for (const m of snapshot()) this.published.set(m.id, { modseq: m.highestmodseq, uidNext: m.uidnext });
    const timer = setInterval(() => {
      let now: number;
      try {
        now = this.db.pragma('data_version', { simple: true }) as number;
      } catch {
        return; // closed
      }
      if (now === version) return;
      version = now;
      const accounts = new Set<number>();
      for (const m of snapshot()) {
        const known = this.published.get(m.id);
        if (!known) {
          this.published.set(m.id, { modseq: m.highestmodseq, uidNext: m.uidnext });
          accounts.add(m.account_id);
          continue;
        }
        if (m.highestmodseq <= known.modseq) continue;
        const changes: MailboxChange[] = [];
        const rows = this.sql('SELECT uid, modseq, flags FROM messages WHERE mailbox_id = ? AND modseq > ?').all(m.id, known.modseq) as Array<{
          uid: number;
          modseq: number;
          flags: string;
        }>;
        for (const r of rows) {
          const flags = r.flags === '' ? [] : r.flags.split(' ');
          const kind = r.uid >= known.uidNext ? 'append' : 'flags';
          changes.push({ kind, accountId: m.account_id, mailboxId: m.id, uid: r.uid, modseq: r.modseq, flags });
        }
        const gone = this.sql('SELECT uid, modseq FROM expunged WHERE mailbox_id = ? AND modseq > ?').all(m.id, known.modseq) as Array<{
          uid: number;
          modseq: number;
        }>;
        // A message that came and went between two looks was never announced: nothing to expunge.
        for (const g of gone) {
          if (g.uid < known.uidNext) changes.push({ kind: 'expunge', accountId: m.account_id, mailboxId: m.id, uid: g.uid, modseq: g.modseq });
        }
        changes.sort((a, b) => (a.kind === 'mailboxes' || b.kind === 'mailboxes' ? 0 : a.modseq - b.modseq));
        for (const c of changes) this.publish(c);
        known.modseq = Math.max(known.modseq, m.highestmodseq);
        known.uidNext = Math.max(known.uidNext, m.uidnext);
      }
      for (const a of accounts) this.publish({ kind: 'mailboxes', accountId: a });
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  // ---- accounts and folders ----------------------------------------------

  /**
   * The account's Maildir, kept like mailbox refs: forgotten at any change
   * to the index, made here or by another process (the CLI). An id never
   * stands for two accounts (migration 6), so an entry goes stale only when
   * its account is removed, and nothing commits through it then: appends
   * look their mailbox up again inside the transaction.
   */
  accountDir(accountId: number): string {
    const dir = this.lookups.get(`dir ${accountId}`, () => {
      const row = this.sql('SELECT domain, localpart FROM accounts WHERE id = ?').get(accountId) as
        | { domain: string; localpart: string }
        | undefined;
      return row && path.join(this.mailRoot, accountSegment(row.domain.toLowerCase()), accountSegment(row.localpart.toLowerCase()));
    });
    if (dir === undefined) throw new MailError('NONEXISTENT', 'no such account');
    return dir;
  }

  provisionAccount(accountId: number): void {
    const root = this.accountDir(accountId);
    ensureMaildir(root);
    for (const f of DEFAULT_FOLDERS) {
      if (!this.mailboxRow(accountId, f.name)) this.createMailbox(accountId, f.name, f.specialUse);
    }
  }

  /**
   * Forgets the account's mailboxes and messages in the index. The files
   * stay: once the removal has committed, the caller sets them aside or
   * deletes them (AccountFiles), so a failure between the two leaves mail
   * on disk, never rows without their files.
   */
  deleteAccountMail(accountId: number): void {
    this.tx(() => {
      const ofAccount = 'SELECT id FROM mailboxes WHERE account_id = ?';
      this.sql(`DELETE FROM messages WHERE mailbox_id IN (${ofAccount})`).run(accountId);
      this.sql(`DELETE FROM expunged WHERE mailbox_id IN (${ofAccount})`).run(accountId);
      this.sql(`DELETE FROM mailbox_recent WHERE mailbox_id IN (${ofAccount})`).run(accountId);
      this.sql('DELETE FROM mailboxes WHERE account_id = ?').run(accountId);
      this.sql('DELETE FROM subscriptions WHERE account_id = ?').run(accountId);
      this.sql('DELETE FROM uidvalidity_high WHERE account_id = ?').run(accountId);
      this.metadata.forgetAccount(accountId);
      this.sql('UPDATE accounts SET used_bytes = 0, used_messages = 0 WHERE id = ?').run(accountId);
    });
  }

  private mailboxRow(accountId: number, name: string): MailboxRow | undefined {
    const slash = name.indexOf('/');
    const first = slash < 0 ? name : name.slice(0, slash);
    const canonical = first.toUpperCase() === 'INBOX' ? 'INBOX' + name.slice(first.length) : name;
    return this.sql('SELECT * FROM mailboxes WHERE account_id = ? AND name = ?').get(accountId, canonical) as
      | MailboxRow
      | undefined;
  }

  /**
   * Which mailbox a name is, for deliveries: asked several times per message
   * (fileinto's target exists? then the append), so kept until the index
   * changes. Only what never changes while the mailbox lives is in it.
   */
  private mailboxRef(accountId: number, name: string): MailboxRef | undefined {
    return this.lookups.get(`mailbox ${accountId} ${name}`, () => {
      const row = this.mailboxRow(accountId, name);
      return row && { id: row.id, account_id: row.account_id, dir: row.dir };
    });
  }

  /** The account's quota in bytes (null: none), kept like mailbox refs. */
  private quotaLimit(accountId: number): number | null {
    const limit = this.lookups.get(`quota ${accountId}`, () =>
      (this.sql('SELECT quota FROM accounts WHERE id = ?').get(accountId) as { quota: number | null } | undefined)?.quota,
    );
    if (limit === undefined) throw new MailError('NONEXISTENT', 'no such account');
    return limit;
  }

  private mailboxById(id: number): MailboxRow {
    const row = this.sql('SELECT * FROM mailboxes WHERE id = ?').get(id) as MailboxRow | undefined;
    if (!row) throw new MailError('NONEXISTENT', 'no such mailbox');
    return row;
  }

  private folderPath(row: MailboxRef): string {
    return path.join(this.accountDir(row.account_id), row.dir);
  }

  private info(row: MailboxRow): MailboxInfo {
    const counts = this.sql(
        `SELECT count(*) AS n, coalesce(sum(size), 0) AS size,
                coalesce(sum(CASE WHEN (' ' || flags || ' ') LIKE '% \\Seen %' THEN 0 ELSE 1 END), 0) AS unseen
         FROM messages WHERE mailbox_id = ?`,
      )
      .get(row.id) as { n: number; size: number; unseen: number };
    return { ...summary(row), messages: counts.n, unseen: counts.unseen, size: counts.size };
  }

  listMailboxes(accountId: number): MailboxInfo[] {
    const rows = this.sql('SELECT * FROM mailboxes WHERE account_id = ? ORDER BY name').all(accountId) as MailboxRow[];
    return rows.map((r) => this.info(r));
  }

  getMailbox(accountId: number, name: string): MailboxInfo | undefined {
    const row = this.mailboxRow(accountId, name);
    return row && this.info(row);
  }

  hasMailbox(accountId: number, name: string): boolean {
    return this.mailboxRef(accountId, name) !== undefined;
  }

  findMailbox(accountId: number, name: string): MailboxSummary | undefined {
    const row = this.mailboxRow(accountId, name);
    return row && summary(row);
  }

  mailboxOwner(mailboxId: number): number | undefined {
    return (this.sql('SELECT account_id FROM mailboxes WHERE id = ?').get(mailboxId) as { account_id: number } | undefined)?.account_id;
  }

  selectSummary(mailboxId: number): SelectSummary {
    return this.readSnapshot(() => {
      // Plucked from the covering index: SELECT must not load rows with their MIME JSON.
      const uids = this.sql('SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid').pluck().all(mailboxId) as number[];
      const firstUnseenUid = this.sql(`SELECT uid FROM messages INDEXED BY messages_unseen WHERE mailbox_id = ? AND ${IS_UNSEEN} ORDER BY uid LIMIT 1`)
        .pluck()
        .get(mailboxId) as number | undefined;
      const mb = this.sql('SELECT keywords, highestmodseq FROM mailboxes WHERE id = ?').get(mailboxId) as
        | { keywords: string; highestmodseq: number }
        | undefined;
      return { uids, firstUnseenUid, keywords: mb ? parseKeywords(mb.keywords) : [], highestModseq: mb?.highestmodseq ?? 0 };
    });
  }

  /**
   * Several reads that must agree with each other: one read transaction,
   * so a commit by another process cannot fall between them.
   */
  private readSnapshot<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    this.runReadCached ??= this.db.transaction((f: () => unknown) => f());
    return this.runReadCached.deferred(fn) as T;
  }

  private runReadCached: ((fn: () => unknown) => unknown) & { deferred(fn: () => unknown): unknown } | undefined;

  changesSince(mailboxId: number, modseq: number, accountId?: number): MailboxDelta | undefined {
    // Asked after every IMAP command: the common answer (nothing new, a mailbox of
    // this account) comes from one row, without a read transaction.
    const head = this.sql('SELECT highestmodseq, account_id FROM mailboxes WHERE id = ?').get(mailboxId) as
      | { highestmodseq: number; account_id: number }
      | undefined;
    if (head === undefined || (accountId !== undefined && head.account_id !== accountId)) return undefined;
    if (head.highestmodseq <= modseq) return { highestModseq: head.highestmodseq, changed: [], expunged: [] };
    return this.readSnapshot(() => {
      const mb = this.sql('SELECT highestmodseq, keywords FROM mailboxes WHERE id = ?').get(mailboxId) as
        | { highestmodseq: number; keywords: string }
        | undefined;
      if (mb === undefined) return undefined;
      const highest = mb.highestmodseq;
      if (highest <= modseq) return { highestModseq: highest, changed: [], expunged: [] };
      // By MODSEQ: the covering index by UID would walk the whole mailbox for a few changes.
      const rows = this.sql('SELECT uid, modseq, flags FROM messages INDEXED BY messages_modseq WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').all(mailboxId, modseq) as Array<{
        uid: number;
        modseq: number;
        flags: string;
      }>;
      const expunged = this.sql('SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').pluck().all(mailboxId, modseq) as number[];
      return {
        highestModseq: highest,
        changed: rows.map((r) => ({ uid: r.uid, modseq: r.modseq, flags: r.flags === '' ? [] : r.flags.split(' ') })),
        expunged,
        keywords: parseKeywords(mb.keywords),
      };
    });
  }

  expungedSince(mailboxId: number, modseq: number): number[] {
    return this.sql('SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').pluck().all(mailboxId, modseq) as number[];
  }

  // ---- \Recent (RFC 3501) and STATUS DELETED -----------------------------

  /** UIDs at or above this have not been claimed by a read-write SELECT (1 when never claimed). */
  firstRecentUid(mailboxId: number): number {
    const row = this.sql(
      `SELECT r.first_recent_uid AS f FROM mailboxes m
       LEFT JOIN mailbox_recent r ON r.mailbox_id = m.id AND r.uidvalidity = m.uidvalidity WHERE m.id = ?`,
    ).get(mailboxId) as { f: number | null } | undefined;
    return row?.f ?? 1;
  }

  /**
   * Claims the messages below uidNext that no session has claimed yet; returns
   * the first UID claimed (uidNext when none). Atomic across sessions and
   * processes, so exactly one session sees each message as \Recent.
   */
  claimRecent(mailboxId: number, uidNext: number): number {
    // Most SELECTs find nothing new: answer those without taking the write lock.
    if (this.firstRecentUid(mailboxId) >= uidNext) return uidNext;
    try {
      return this.tx(() => {
        const first = this.firstRecentUid(mailboxId);
        if (first >= uidNext) return uidNext;
        this.sql(
          `INSERT OR REPLACE INTO mailbox_recent (mailbox_id, uidvalidity, first_recent_uid)
           SELECT id, uidvalidity, ? FROM mailboxes WHERE id = ?`,
        ).run(uidNext, mailboxId);
        return first;
      });
    } catch (err) {
      // \Recent is advisory: when the claim cannot be recorded (a full disk),
      // SELECT still works, and this session sees them without claiming them.
      if (isMailError(err, 'NOSPACE') || isMailError(err, 'TEMPFAIL')) return Math.min(this.firstRecentUid(mailboxId), uidNext);
      throw err;
    }
  }

  /** Messages with a UID at or above `uid` (the unclaimed recent ones, for STATUS RECENT). */
  countFromUid(mailboxId: number, uid: number): number {
    return this.sql('SELECT count(*) FROM messages WHERE mailbox_id = ? AND uid >= ?').pluck().get(mailboxId, uid) as number;
  }

  /** Messages flagged \Deleted (STATUS DELETED, RFC 9051). */
  deletedCount(mailboxId: number): number {
    return this.sql(`SELECT count(*) FROM messages INDEXED BY messages_deleted WHERE mailbox_id = ? AND ${IS_DELETED}`).pluck().get(mailboxId) as number;
  }

  getMailboxById(id: number): MailboxInfo {
    return this.info(this.mailboxById(id));
  }

  createMailbox(accountId: number, name: string, specialUse: SpecialUse | null = null): MailboxInfo {
    const canonical = validateMailboxName(name);
    const dir = folderDir(canonical);
    const root = this.accountDir(accountId);
    const created = this.tx(() => {
        if (this.mailboxRow(accountId, canonical)) throw new MailError('ALREADYEXISTS', `mailbox ${canonical} exists already`);
        const folder = path.join(root, dir);
        const existing = readFolderMeta(folder);
        const meta: FolderMeta = existing ?? {
          uidValidity: this.newUidValidity(accountId),
          uidNext: 1,
          keywords: [],
          specialUse,
        };
        if (existing) this.noteUidValidity(accountId, existing.uidValidity);
        meta.specialUse = specialUse ?? meta.specialUse;
        this.fileChanges().makeMaildir(folder);
        this.saveFolderMeta(folder, meta);
        const info = this.sql(
            `INSERT INTO mailboxes (account_id, name, dir, uidvalidity, uidnext, special_use, keywords)
             VALUES (?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(accountId, canonical, dir, meta.uidValidity, meta.uidNext, meta.specialUse, JSON.stringify(meta.keywords));
        // A new mailbox is subscribed, as before; past the cap it is created unsubscribed.
        if (this.subscriptionCount(accountId) < MAX_SUBSCRIPTIONS) this.changeSubscription(accountId, canonical, true);
        return this.mailboxById(Number(info.lastInsertRowid));
      });
    this.publish({ kind: 'mailboxes', accountId });
    return this.info(created);
  }

  /**
   * A UIDVALIDITY above every one the account ever had (deleted mailboxes
   * included), recorded at once: call inside the transaction that uses it.
   */
  private newUidValidity(accountId: number): number {
    const high = this.sql('SELECT value FROM uidvalidity_high WHERE account_id = ?').pluck().get(accountId) as number | undefined;
    const max = this.sql('SELECT max(uidvalidity) FROM mailboxes WHERE account_id = ?').pluck().get(accountId) as number | null;
    const value = Math.max(Math.floor(Date.now() / 1000), (high ?? 0) + 1, (max ?? 0) + 1);
    this.noteUidValidity(accountId, value);
    return value;
  }

  /** Records a UIDVALIDITY in use (also one adopted from a folder's meta file). */
  private noteUidValidity(accountId: number, value: number): void {
    this.sql(
      `INSERT INTO uidvalidity_high (account_id, value) VALUES (?, ?)
       ON CONFLICT (account_id) DO UPDATE SET value = max(value, excluded.value)`,
    ).run(accountId, value);
  }

  deleteMailbox(accountId: number, name: string): void {
    const row = this.mailboxRow(accountId, name);
    if (!row) throw new MailError('NONEXISTENT', `no such mailbox: ${name}`);
    if (row.name === 'INBOX') throw new MailError('REFUSED', 'INBOX cannot be deleted');
    const folder = this.folderPath(row);
    this.tx(() => {
        const sums = this.sql('SELECT count(*) AS n, coalesce(sum(size),0) AS s FROM messages WHERE mailbox_id = ?').get(row.id) as {
          n: number;
          s: number;
        };
        this.sql('DELETE FROM messages WHERE mailbox_id = ?').run(row.id);
        this.sql('DELETE FROM expunged WHERE mailbox_id = ?').run(row.id);
        this.sql('DELETE FROM mailbox_recent WHERE mailbox_id = ?').run(row.id);
        this.metadata.forgetMailbox(accountId, row.id);
        this.sql('DELETE FROM mailboxes WHERE id = ?').run(row.id);
        this.sql('UPDATE accounts SET used_bytes = used_bytes - ?, used_messages = used_messages - ? WHERE id = ?').run(sums.s, sums.n, accountId);
        // Out of sight now (atomic), removed once the rows are gone for good: a
        // crash leaves a hidden dir (recover() removes it), not a half folder.
        const trash = path.join(path.dirname(folder), `${DELETED_FOLDER_PREFIX}${process.pid}.${Date.now()}`);
        if (existsSync(folder)) this.fileChanges().removeTree(folder, trash);
      });
    this.publish({ kind: 'mailboxes', accountId });
  }

  renameMailbox(accountId: number, from: string, to: string): void {
    const src = this.mailboxRow(accountId, from);
    if (!src) throw new MailError('NONEXISTENT', `no such mailbox: ${from}`);
    const target = validateMailboxName(to);
    if (this.mailboxRow(accountId, target)) throw new MailError('ALREADYEXISTS', `mailbox ${target} exists already`);
    const root = this.accountDir(accountId);
    this.tx(() => {
        if (src.name === 'INBOX') {
          // RFC 3501: renaming INBOX moves its messages to the new name and leaves INBOX empty.
          const dst = this.createMailboxRowOnly(accountId, target);
          this.moveAllMessages(src, dst);
          return;
        }
        const children = this.sql("SELECT * FROM mailboxes WHERE account_id = ? AND (name = ? OR name LIKE ? ESCAPE '\\')")
          .all(accountId, src.name, src.name.replace(/[\\%_]/g, '\\$&') + '/%') as MailboxRow[];
        // Deepest first is not needed: Maildir++ folders are siblings on disk.
        for (const child of children) {
          const newName = target + child.name.slice(src.name.length);
          const newDir = folderDir(newName);
          if (existsSync(path.join(root, newDir))) throw new MailError('ALREADYEXISTS', `mailbox ${newName} exists on disk`);
          this.fileChanges().rename(path.join(root, child.dir), path.join(root, newDir));
          this.sql('UPDATE mailboxes SET name = ?, dir = ? WHERE id = ?').run(newName, newDir, child.id);
        }
      });
    this.publish({ kind: 'mailboxes', accountId });
  }

  private createMailboxRowOnly(accountId: number, name: string): MailboxRow {
    const dir = folderDir(name);
    const root = this.accountDir(accountId);
    const meta: FolderMeta = { uidValidity: this.newUidValidity(accountId), uidNext: 1, keywords: [], specialUse: null };
    this.fileChanges().makeMaildir(path.join(root, dir));
    this.saveFolderMeta(path.join(root, dir), meta);
    const info = this.sql('INSERT INTO mailboxes (account_id, name, dir, uidvalidity) VALUES (?, ?, ?, ?)')
      .run(accountId, name, dir, meta.uidValidity);
    return this.mailboxById(Number(info.lastInsertRowid));
  }

  private moveAllMessages(src: MailboxRow, dst: MailboxRow): void {
    const rows = this.sql('SELECT * FROM messages WHERE mailbox_id = ? ORDER BY uid').all(src.id) as MessageRow[];
    let uid = dst.uidnext;
    let modseq = dst.highestmodseq;
    const dstKeywords = JSON.parse(dst.keywords) as string[];
    for (const r of rows) {
      const flags = r.flags === '' ? [] : r.flags.split(' ');
      const name = messageFileName(baseOfPath(r.path), r.size, uid, flags, dstKeywords);
      this.moveMessageFile(this.folderPath(src), r.path, path.join(this.folderPath(dst), 'cur', name));
      this.sql('INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, path, mime) VALUES (?,?,?,?,?,?,?,?)')
        .run(dst.id, uid, ++modseq, r.flags, r.internal_date, r.size, `cur/${name}`, r.mime);
      uid++;
    }
    this.sql('DELETE FROM messages WHERE mailbox_id = ?').run(src.id);
    this.sql('UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?').run(uid, modseq, dst.id);
    this.sql('UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?').run(src.id);
    fsyncPath(path.join(this.folderPath(dst), 'cur'));
  }

  // ---- subscriptions ---------------------------------------------------------
  //
  // A list of names apart from the mailboxes (RFC 3501 6.3.6, RFC 9051 6.3.7):
  // a name may be subscribed with no mailbox behind it, DELETE and RENAME
  // leave the list alone (as Dovecot does; moving a subscription would remove
  // the old name unilaterally), and only UNSUBSCRIBE takes a name off. The
  // table answers reads; the file at the account's Maildir root, rewritten
  // in the same transaction, lets reindex rebuild the list.

  /** Subscribes a name, whether or not a mailbox has it; the name must be a valid mailbox name. */
  addSubscription(accountId: number, name: string): void {
    const canonical = validateMailboxName(name);
    this.tx(() => {
      if (this.isSubscribed(accountId, canonical)) return;
      if (this.subscriptionCount(accountId) >= MAX_SUBSCRIPTIONS) {
        throw new MailError('LIMIT', `too many subscriptions (at most ${MAX_SUBSCRIPTIONS})`);
      }
      this.changeSubscription(accountId, canonical, true);
    });
    // NOTIFY SubscriptionChange (RFC 5465) listens for this.
    this.publish({ kind: 'mailboxes', accountId });
  }

  /** Takes a name off the list; a name not on it is no error (as Dovecot). */
  removeSubscription(accountId: number, name: string): void {
    const canonical = validateMailboxName(name);
    this.tx(() => this.changeSubscription(accountId, canonical, false));
    this.publish({ kind: 'mailboxes', accountId });
  }

  /** Subscribed names, sorted; some may name no mailbox. */
  listSubscriptions(accountId: number): string[] {
    return this.sql('SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name').pluck().all(accountId) as string[];
  }

  private isSubscribed(accountId: number, name: string): boolean {
    return this.sql('SELECT 1 FROM subscriptions WHERE account_id = ? AND name = ?').get(accountId, name) !== undefined;
  }

  private subscriptionCount(accountId: number): number {
    return this.sql('SELECT count(*) FROM subscriptions WHERE account_id = ?').pluck().get(accountId) as number;
  }

  /** Inside a transaction: changes one row and, when it changed, rewrites the file. */
  private changeSubscription(accountId: number, name: string, subscribed: boolean): void {
    const changed = subscribed
      ? this.sql('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)').run(accountId, name).changes
      : this.sql('DELETE FROM subscriptions WHERE account_id = ? AND name = ?').run(accountId, name).changes;
    if (changed > 0) this.saveSubscriptions(accountId);
  }

  /** A failed write throws and rolls the transaction back (the file too), so table and file agree. */
  private saveSubscriptions(accountId: number): void {
    const root = this.accountDir(accountId);
    ensureMaildir(root);
    this.fileChanges().replace(path.join(root, SUBSCRIPTIONS_FILE), subscriptionsText(this.listSubscriptions(accountId)), true);
  }

  /**
   * Inside recoverAccount's transaction: the file, when there is one, is the
   * list (it is written last, so after a crash it may be newer than the
   * table). Without one (an index from before migration 5, or a lost file)
   * the table's rows and the `subscribed` flags older versions left in
   * folder meta files make the list, and the file is written.
   */
  private recoverSubscriptions(accountId: number, legacy: readonly string[]): void {
    const root = this.accountDir(accountId);
    const fromFile = readSubscriptions(root);
    const insert = this.sql('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)');
    if (fromFile !== undefined) {
      this.sql('DELETE FROM subscriptions WHERE account_id = ?').run(accountId);
      let kept = 0;
      for (const name of fromFile) {
        let canonical: string;
        try {
          canonical = validateMailboxName(name);
        } catch {
          continue; // an edited file: skip what could never have been subscribed
        }
        if (kept >= MAX_SUBSCRIPTIONS) break;
        kept += insert.run(accountId, canonical).changes;
      }
      return;
    }
    for (const name of legacy) insert.run(accountId, name);
    this.saveSubscriptions(accountId);
  }

  private saveMeta(row: MailboxRow): void {
    this.saveFolderMeta(this.folderPath(row), {
      uidValidity: row.uidvalidity,
      uidNext: row.uidnext,
      keywords: JSON.parse(row.keywords) as string[],
      specialUse: row.special_use,
    });
  }

  /** Inside a transaction: the folder's meta file, put back as it was if the transaction fails. */
  private saveFolderMeta(folder: string, meta: FolderMeta): void {
    this.fileChanges().replace(path.join(folder, META_FILE), folderMetaText(meta), false);
  }

  /**
   * Inside a transaction: renames a message file (undone if the transaction
   * fails). A file no longer where the index says (a rename whose index
   * change failed, another process's flag change) is found by its base name.
   */
  private moveMessageFile(folder: string, rel: string, to: string): void {
    const files = this.fileChanges();
    try {
      files.rename(path.join(folder, rel), to);
    } catch (err) {
      const found = (err as NodeJS.ErrnoException).code === 'ENOENT' ? findMessageFile(folder, rel) : undefined;
      if (found === undefined) throw err;
      files.rename(path.join(folder, found), to);
    }
  }

  /**
   * Inside a transaction: takes a message file away (deleted after the
   * commit, back if the transaction fails). Returns the path it had, or
   * undefined when it was gone already.
   */
  private removeMessageFile(folder: string, rel: string): string | undefined {
    const files = this.fileChanges();
    try {
      files.removeMessage(folder, rel);
      return rel;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // Under another name (see moveMessageFile): left there, a rebuild would bring it back.
      const found = findMessageFile(folder, rel);
      if (found !== undefined) files.removeMessage(folder, found);
      return found;
    }
  }

  // ---- append (group commit) ---------------------------------------------

  async append(accountId: number, mailbox: string, raw: Buffer, options: AppendOptions = {}): Promise<AppendResult> {
    const row = this.mailboxRef(accountId, mailbox);
    if (!row) throw new MailError('NONEXISTENT', `no such mailbox: ${mailbox}`);
    return this.appendTo(row, raw, options);
  }

  async appendToMailbox(mailboxId: number, raw: Buffer, options: AppendOptions = {}): Promise<AppendResult> {
    return this.appendTo(this.mailboxById(mailboxId), raw, options);
  }

  private async appendTo(row: MailboxRef, raw: Buffer, options: AppendOptions): Promise<AppendResult> {
    const [result] = await this.appendGroup(row, [{ raw, options }]);
    return result!;
  }

  /**
   * Appends several messages to one mailbox as one unit: all are stored, in
   * order with ascending UIDs, or none is (IMAP MULTIAPPEND, RFC 3502).
   */
  async appendMany(accountId: number, mailbox: string, messages: Array<{ raw: Buffer; options?: AppendOptions }>): Promise<AppendResult[]> {
    const row = this.mailboxRef(accountId, mailbox);
    if (!row) throw new MailError('NONEXISTENT', `no such mailbox: ${mailbox}`);
    return this.appendGroup(row, messages.map((m) => ({ raw: m.raw, options: m.options ?? {} })));
  }

  private async appendGroup(row: MailboxRef, messages: Array<{ raw: Buffer; options: AppendOptions }>): Promise<AppendResult[]> {
    if (messages.length === 0) return [];
    // Refused before anything is written; the commit checks again, exactly.
    const limit = this.quotaLimit(row.account_id);
    const counted = messages.filter((m) => !m.options.ignoreQuota).reduce((n, m) => n + m.raw.length, 0);
    if (counted > 0 && limit !== null && this.quota(row.account_id).usedBytes + counted > limit) {
      throw new MailError('OVERQUOTA', 'mailbox is full');
    }
    const prepared = messages.map(({ raw, options }) => {
      // Index before writing: a message that cannot be indexed is still stored (mime = null).
      let mime: string | null = null;
      try {
        mime = this.indexer(raw);
      } catch {
        mime = null;
      }
      return { raw, options, mime, flags: normalizeFlags(options.flags ?? []), internalDate: options.internalDate ?? Date.now() };
    });
    const written = await Promise.allSettled(prepared.map((m) => this.tmpWriter.write(this.folderPath(row), m.raw, m.options.internalDate)));
    const failed = written.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (failed) {
      for (const w of written) if (w.status === 'fulfilled') removeQuietly(w.value.tmpPath);
      const err = this.failure(failed.reason);
      throw err instanceof MailError ? err : new MailError('TEMPFAIL', 'cannot write the message', { cause: failed.reason });
    }
    const group = messages.length > 1 ? {} : undefined;
    // Queued in one go (no await in between), so a group is never split by other appends.
    return Promise.all(
      prepared.map((m, i) => {
        const tmp = (written[i] as PromiseFulfilledResult<{ tmpPath: string; base: string }>).value;
        return new Promise<AppendResult>((resolve, reject) => {
          this.pending.push({
            mailboxId: row.id,
            tmpPath: tmp.tmpPath,
            base: tmp.base,
            size: m.raw.length,
            flags: m.flags,
            internalDate: m.internalDate,
            mime: m.mime,
            ignoreQuota: m.options.ignoreQuota === true,
            ...(group ? { group } : {}),
            resolve,
            reject,
          });
          this.scheduleFlush();
        });
      }),
    );
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
      if (this.pending.length > 0) this.scheduleFlush();
    });
  }

  /** Commits a batch of written tmp files in one transaction. */
  private flush(): void {
    const batch = this.pending.splice(0, MAX_BATCH);
    if (batch.length === 0) return;
    // Never split a group between two transactions.
    const lastGroup = batch[batch.length - 1]!.group;
    while (lastGroup && this.pending[0]?.group === lastGroup) batch.push(this.pending.shift()!);
    const outcomes: Outcome[] = [];
    const touchedDirs = new Set<string>();
    try {
      this.withFileChanges(() => this.txKeepingLookups(() => {
        outcomes.length = 0;
        touchedDirs.clear();
        const state: BatchState = { mailboxes: new Map(), usage: new Map(), touchedDirs };
        for (let i = 0; i < batch.length; ) {
          const group = batch[i]!.group;
          let end = i + 1;
          while (group && end < batch.length && batch[end]!.group === group) end++;
          outcomes.push(...(group ? this.commitGroup(batch.slice(i, end), state) : [this.commitItem(batch[i]!, state)]));
          i = end;
        }
        for (const mb of state.mailboxes.values()) {
          this.sql('UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?').run(mb.uidnext, mb.highestmodseq, mb.id);
        }
        for (const [accountId, u] of state.usage) {
          if (u.addCount > 0) {
            this.sql('UPDATE accounts SET used_bytes = used_bytes + ?, used_messages = used_messages + ? WHERE id = ?')
              .run(u.addBytes, u.addCount, accountId);
          }
        }
      }));
    } catch (err) {
      // The transaction failed as a whole (the index unavailable, the disk
      // full at COMMIT): nothing was committed, and the renamed files are back
      // in tmp/. They go, so that recover() never adopts a message whose
      // sender was told to retry; every caller is told so.
      for (const o of outcomes) if (o.finalPath) removeQuietly(o.finalPath);
      for (const item of batch) {
        removeQuietly(item.tmpPath);
        item.reject(err instanceof MailError ? err : new MailError('TEMPFAIL', 'cannot commit to the index', { cause: err }));
      }
      return;
    }
    if (outcomes.some((o) => o.result)) this.noteDiskFull(false);
    // The renames (directory fsync) and the index rows (WAL fsync) reach the
    // disk, in the writer threads, before anyone is told the message is stored.
    // A missing WAL means a checkpoint moved the rows into the database file,
    // which SQLite synced itself.
    this.settling++;
    Promise.all([...[...touchedDirs].map((d) => this.tmpWriter.sync(d)), this.tmpWriter.sync(`${this.db.name}-wal`, true)]).then(
      () => this.settle(outcomes),
      (err: unknown) => this.settle(outcomes.map((o) => (o.result ? { item: o.item, error: new MailError('TEMPFAIL', 'cannot sync the mailbox', { cause: err }) } : o))),
    );
  }

  /**
   * Renames one written file into new/ or cur/ and adds its index row (inside
   * the batch's transaction). A MailError fails this message alone; any other
   * error (SQLite's: the transaction may be gone) fails the whole batch.
   */
  private commitItem(item: PendingAppend, state: BatchState): Outcome {
    try {
      let mb = state.mailboxes.get(item.mailboxId);
      if (!mb) {
        mb = this.mailboxById(item.mailboxId);
        state.mailboxes.set(mb.id, mb);
      }
      let u = state.usage.get(mb.account_id);
      if (!u) {
        const a = this.sql('SELECT quota, used_bytes FROM accounts WHERE id = ?').get(mb.account_id) as {
          quota: number | null;
          used_bytes: number;
        };
        u = { quota: a.quota, used: a.used_bytes, addBytes: 0, addCount: 0 };
        state.usage.set(mb.account_id, u);
      }
      if (!item.ignoreQuota && u.quota !== null && u.used + u.addBytes + item.size > u.quota) {
        throw new MailError('OVERQUOTA', 'mailbox is full');
      }
      const keywords = this.ensureKeywords(mb, item.flags);
      const uid = mb.uidnext;
      const modseq = mb.highestmodseq + 1;
      const sub = item.flags.length > 0 ? 'cur' : 'new';
      // Maildir: files in new/ carry no ":2," info; flags live in cur/ names.
      const name = sub === 'new' ? newFileName(item.base, item.size, uid) : messageFileName(item.base, item.size, uid, item.flags, keywords);
      const folder = this.folderPath(mb);
      const finalPath = path.join(folder, sub, name);
      try {
        this.fileChanges().rename(item.tmpPath, finalPath);
      } catch (err) {
        // Its folder went away meanwhile, or no room for the name: this message fails alone.
        const e = this.failure(err);
        throw e instanceof MailError ? e : new MailError('TEMPFAIL', 'cannot store the message', { cause: err });
      }
      state.touchedDirs.add(path.join(folder, sub));
      this.sql('INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, path, mime) VALUES (?,?,?,?,?,?,?,?)')
        .run(mb.id, uid, modseq, item.flags.join(' '), item.internalDate, item.size, `${sub}/${name}`, item.mime);
      mb.uidnext = uid + 1;
      mb.highestmodseq = modseq;
      u.addBytes += item.size;
      u.addCount += 1;
      return {
        item,
        finalPath,
        result: { mailboxId: mb.id, uidValidity: mb.uidvalidity, uid, modseq },
        change: { kind: 'append', accountId: mb.account_id, mailboxId: mb.id, uid, modseq, flags: item.flags },
      };
    } catch (err) {
      // MailErrors come before the rename: nothing of this message to undo.
      if (!(err instanceof MailError)) throw err;
      return { item, error: err };
    }
  }

  /**
   * Commits a group as one: inside a savepoint, and if any member fails the
   * rows roll back, the renamed files go, and every member fails alike.
   */
  private commitGroup(items: PendingAppend[], state: BatchState): Outcome[] {
    const mb = state.mailboxes.get(items[0]!.mailboxId);
    const before = mb ? { uidnext: mb.uidnext, highestmodseq: mb.highestmodseq, keywords: mb.keywords } : undefined;
    const usageBefore = new Map([...state.usage].map(([k, u]) => [k, { ...u }]));
    const outcomes: Outcome[] = [];
    const mark = this.fileChanges().mark();
    let failure: unknown;
    try {
      this.db.transaction(() => {
        for (const item of items) {
          const o = this.commitItem(item, state);
          outcomes.push(o);
          if (!o.result) throw (failure = o.error);
        }
      })();
      return outcomes;
    } catch (err) {
      // Not a MailError: the whole batch fails (see commitItem).
      if (failure === undefined) throw err;
      this.fileChanges().rollback(mark);
      // The savepoint undid the rows; undo what this batch remembered too.
      const current = state.mailboxes.get(items[0]!.mailboxId);
      if (current && before) Object.assign(current, before);
      else if (current) state.mailboxes.delete(current.id);
      state.usage.clear();
      for (const [k, u] of usageBefore) state.usage.set(k, u);
      const error = failure ?? err;
      return items.map((item) => ({ item, error }));
    }
  }

  private settling = 0;

  private settle(outcomes: Outcome[]): void {
    this.settling--;
    for (const o of outcomes) {
      if (o.result) {
        o.item.resolve(o.result);
        if (o.change) this.publish(o.change);
      } else {
        removeQuietly(o.item.tmpPath);
        o.item.reject(o.error instanceof MailError ? o.error : new MailError('TEMPFAIL', 'cannot store the message', { cause: o.error }));
      }
    }
  }

  /** Gives new keywords a letter in the folder's keyword list (and the meta file). */
  private ensureKeywords(mb: MailboxRow, flags: string[]): string[] {
    const keywords = JSON.parse(mb.keywords) as string[];
    let changed = false;
    for (const f of flags) {
      if (f.startsWith('\\') || f === '$Forwarded') continue;
      if (!keywords.includes(f) && keywords.length < MAX_KEYWORD_LETTERS) {
        keywords.push(f);
        changed = true;
      }
    }
    if (changed) {
      mb.keywords = JSON.stringify(keywords);
      this.sql('UPDATE mailboxes SET keywords = ? WHERE id = ?').run(mb.keywords, mb.id);
      this.saveMeta(mb);
    }
    return keywords;
  }

  // ---- reading -------------------------------------------------------------

  listMessages(mailboxId: number, fromUid = 1, toUid = Number.MAX_SAFE_INTEGER): MessageRecord[] {
    const rows = this.sql('SELECT * FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid')
      .all(mailboxId, fromUid, toUid) as MessageRow[];
    return rows.map(toRecord);
  }

  getMessage(mailboxId: number, uid: number): MessageRecord | undefined {
    const row = this.messageRow(mailboxId, uid);
    return row && toRecord(row);
  }

  private messageRow(mailboxId: number, uid: number): MessageRow | undefined {
    return this.sql('SELECT * FROM messages WHERE mailbox_id = ? AND uid = ?').get(mailboxId, uid) as MessageRow | undefined;
  }

  readMessage(mailboxId: number, uid: number): Buffer {
    const folder = this.folderPath(this.mailboxById(mailboxId));
    // Another process may rename the file (flag change) between our read of
    // the row and of the file: look the row up again once; then look for the
    // file by its base name (a rename whose index change failed left it
    // under another name).
    let cause: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const row = this.messageRow(mailboxId, uid);
      if (!row) throw new MailError('NONEXISTENT', 'no such message');
      const rel = attempt < 2 ? row.path : findMessageFile(folder, row.path);
      if (rel === undefined) break;
      try {
        return readFileSync(path.join(folder, rel));
      } catch (err) {
        cause = err;
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') break;
      }
    }
    throw new MailError('TEMPFAIL', 'cannot read the message', { cause });
  }

  /** The message file's absolute path (for streaming large bodies). */
  messagePath(mailboxId: number, uid: number): string {
    const row = this.messageRow(mailboxId, uid);
    if (!row) throw new MailError('NONEXISTENT', 'no such message');
    const folder = this.folderPath(this.mailboxById(mailboxId));
    if (existsSync(path.join(folder, row.path))) return path.join(folder, row.path);
    const found = findMessageFile(folder, row.path);
    return path.join(folder, found ?? row.path);
  }

  // ---- flags, expunge, copy -----------------------------------------------

  setFlags(mailboxId: number, uids: number[], mode: FlagMode, flags: string[], unchangedSince?: number): MessageRecord[] {
    const wanted = normalizeFlags(flags);
    const changed: MessageRecord[] = [];
    const changes: MailboxChange[] = [];
    this.tx(() => {
        const mb = this.mailboxById(mailboxId);
        const keywords = this.ensureKeywords(mb, wanted);
        const folder = this.folderPath(mb);
        let modseq = mb.highestmodseq;
        const touched = new Set<string>();
        for (const uid of uids) {
          const row = this.messageRow(mailboxId, uid);
          if (!row) continue;
          if (unchangedSince !== undefined && row.modseq > unchangedSince) continue;
          const current = row.flags === '' ? [] : row.flags.split(' ');
          let next: string[];
          if (mode === 'replace') next = wanted;
          else if (mode === 'add') next = normalizeFlags([...current, ...wanted]);
          else next = current.filter((f) => !wanted.includes(f));
          if (next.length === current.length && next.every((f) => current.includes(f))) continue;
          modseq += 1;
          let newPath = row.path;
          const oldName = row.path.slice(row.path.indexOf('/') + 1);
          const oldSuffix = oldName.includes(':2,') ? oldName.slice(oldName.indexOf(':2,') + 3) : '';
          const suffix = flagSuffix(next, keywords);
          if (suffix !== oldSuffix || row.path.startsWith('new/')) {
            const mainPart = oldName.includes(':2,') ? oldName.slice(0, oldName.indexOf(':2,')) : oldName;
            newPath = `cur/${mainPart}:2,${suffix}`;
            // Undone if the transaction fails (a full disk at COMMIT): the row keeps naming the file.
            this.moveMessageFile(folder, row.path, path.join(folder, newPath));
            touched.add(path.join(folder, 'cur'));
          }
          this.sql('UPDATE messages SET flags = ?, modseq = ?, path = ? WHERE mailbox_id = ? AND uid = ?')
            .run(next.join(' '), modseq, newPath, mailboxId, uid);
          const rec = toRecord({ ...row, flags: next.join(' '), modseq, path: newPath });
          changed.push(rec);
          changes.push({ kind: 'flags', accountId: mb.account_id, mailboxId, uid, modseq, flags: next });
        }
        this.sql('UPDATE mailboxes SET highestmodseq = ? WHERE id = ?').run(modseq, mailboxId);
        for (const d of touched) fsyncPath(d);
      });
    for (const c of changes) this.publish(c);
    return changed;
  }

  expunge(mailboxId: number, uids?: number[]): number[] {
    const expunged: number[] = [];
    const changes: MailboxChange[] = [];
    this.tx(() => {
        const mb = this.mailboxById(mailboxId);
        const folder = this.folderPath(mb);
        // Without UIDs, only the \\Deleted ones, found in the covering index
        // (a scan of the rows themselves would read every message's MIME index).
        const wanted = uids ?? (this.sql(DELETED_UIDS).pluck().all(mailboxId) as number[]);
        const rows = wanted.map((u) => this.messageRow(mailboxId, u)).filter((r) => r !== undefined);
        let modseq = mb.highestmodseq;
        let bytes = 0;
        const touched = new Set<string>();
        for (const row of rows) {
          // Into tmp/ now, deleted after the commit: a failed commit puts it back.
          const removed = this.removeMessageFile(folder, row.path);
          touched.add(path.join(folder, (removed ?? row.path).slice(0, 3)));
          modseq += 1;
          this.sql('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?').run(mailboxId, row.uid);
          this.sql('INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)').run(mailboxId, row.uid, modseq);
          bytes += row.size;
          expunged.push(row.uid);
          changes.push({ kind: 'expunge', accountId: mb.account_id, mailboxId, uid: row.uid, modseq });
        }
        if (expunged.length === 0) return;
        this.sql('UPDATE mailboxes SET highestmodseq = ? WHERE id = ?').run(modseq, mailboxId);
        this.sql('UPDATE accounts SET used_bytes = used_bytes - ?, used_messages = used_messages - ? WHERE id = ?')
          .run(bytes, expunged.length, mb.account_id);
        for (const d of touched) fsyncPath(d);
        // Record the UID floor beside the files, so a rebuilt index never reuses an expunged UID.
        this.saveMeta(this.mailboxById(mailboxId));
      });
    for (const c of changes) this.publish(c);
    return expunged;
  }

  /**
   * Copies in ascending source UID order, so the copies get ascending UIDs
   * in the same order (RFC 4315 COPYUID); in slices of COPY_SLICE messages,
   * each stored as a unit, so a big COPY never holds every message at once.
   */
  async copy(mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>> {
    const target = this.mailboxById(targetMailboxId);
    const source = this.mailboxById(mailboxId);
    if (source.account_id !== target.account_id) throw new MailError('REFUSED', 'copy across accounts');
    const pairs: Array<[number, number]> = [];
    const sorted = [...new Set(uids)].sort((x, y) => x - y);
    for (let at = 0; at < sorted.length; at += COPY_SLICE) {
      const slice: Array<{ uid: number; raw: Buffer; options: AppendOptions }> = [];
      for (const uid of sorted.slice(at, at + COPY_SLICE)) {
        const rec = this.getMessage(mailboxId, uid);
        if (!rec) continue;
        slice.push({ uid, raw: this.readMessage(mailboxId, uid), options: { flags: rec.flags, internalDate: rec.internalDate } });
      }
      const stored = await this.appendGroup(target, slice);
      stored.forEach((r, i) => pairs.push([slice[i]!.uid, r.uid]));
    }
    return pairs;
  }

  /**
   * MOVE as one transaction: each file is renamed into the target folder
   * under its new UID, and the rows move with it, or (the transaction
   * failing) every rename is undone. A crash before the commit leaves each
   * file either still in the source, or in the target under a name that
   * carries its new UID, which recover() adopts there while dropping the
   * source row whose file is gone: in exactly one of the two either way.
   */
  async move(mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>> {
    const pairs: Array<[number, number]> = [];
    const changes: MailboxChange[] = [];
    const touched = new Set<string>();
    this.tx(() => {
        const source = this.mailboxById(mailboxId);
        const target = this.mailboxById(targetMailboxId);
        if (source.account_id !== target.account_id) throw new MailError('REFUSED', 'move across accounts');
        if (source.id === target.id) throw new MailError('BADINPUT', 'move into the same mailbox');
        const from = this.folderPath(source);
        const to = this.folderPath(target);
        let uid = target.uidnext;
        let targetModseq = target.highestmodseq;
        let sourceModseq = source.highestmodseq;
        for (const oldUid of [...new Set(uids)].sort((x, y) => x - y)) {
          const row = this.messageRow(mailboxId, oldUid);
          if (!row) continue;
          const flags = row.flags === '' ? [] : row.flags.split(' ');
          const keywords = this.ensureKeywords(target, flags);
          const rel = `cur/${messageFileName(baseOfPath(row.path), row.size, uid, flags, keywords)}`;
          // Undone with the transaction (FileChanges); a file under another name is found by its base.
          this.moveMessageFile(from, row.path, path.join(to, rel));
          touched.add(path.join(from, row.path.slice(0, 3)));
          touched.add(path.join(to, 'cur'));
          this.sql('INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, path, mime) VALUES (?,?,?,?,?,?,?,?)')
            .run(target.id, uid, ++targetModseq, row.flags, row.internal_date, row.size, rel, row.mime);
          this.sql('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?').run(source.id, oldUid);
          this.sql('INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)').run(source.id, oldUid, ++sourceModseq);
          changes.push({ kind: 'expunge', accountId: source.account_id, mailboxId: source.id, uid: oldUid, modseq: sourceModseq });
          changes.push({ kind: 'append', accountId: target.account_id, mailboxId: target.id, uid, modseq: targetModseq, flags });
          pairs.push([oldUid, uid]);
          uid++;
        }
        if (pairs.length === 0) return;
        this.sql('UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?').run(uid, targetModseq, target.id);
        this.sql('UPDATE mailboxes SET highestmodseq = ? WHERE id = ?').run(sourceModseq, source.id);
        // The UID floors beside the files, so a rebuilt index reuses neither folder's UIDs.
        this.saveMeta(this.mailboxById(target.id));
        this.saveMeta(this.mailboxById(source.id));
      });
    for (const c of changes) this.publish(c);
    if (pairs.length > 0) {
      await Promise.all([...[...touched].map((d) => this.tmpWriter.sync(d)), this.tmpWriter.sync(`${this.db.name}-wal`, true)]);
    }
    return pairs;
  }

  quota(accountId: number): Quota {
    const row = this.sql('SELECT quota, used_bytes, used_messages FROM accounts WHERE id = ?').get(accountId) as
      | { quota: number | null; used_bytes: number; used_messages: number }
      | undefined;
    if (!row) throw new MailError('NONEXISTENT', 'no such account');
    return { limit: row.quota, usedBytes: row.used_bytes, usedMessages: row.used_messages };
  }

  // ---- recovery and rebuild -----------------------------------------------

  /**
   * Makes the index agree with the Maildir for one account: adopts message
   * files the index does not know (a crash between rename and commit),
   * drops rows whose file is gone, and finds folders on disk. With
   * `rebuild`, forgets every row first and rebuilds from the files, keeping
   * the UIDs and flags they carry.
   */
  recoverAccount(accountId: number, options: { rebuild?: boolean } = {}): { adopted: number; dropped: number } {
    const root = this.accountDir(accountId);
    ensureMaildir(root);
    let adopted = 0;
    let dropped = 0;
    const entries = readdirSync(root);
    // Folders deleted just before a crash (see deleteMailbox).
    for (const d of entries) if (d.startsWith(DELETED_FOLDER_PREFIX)) rmSync(path.join(root, d), { recursive: true, force: true });
    const dirs = ['', ...entries.filter((d) => d.startsWith('.') && d !== '.' && d !== '..' && !d.startsWith('..'))];
    const legacySubscribed: string[] = [];
    this.tx(() => {
        legacySubscribed.length = 0;
        if (options.rebuild) {
          this.sql('DELETE FROM messages WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)').run(accountId);
          this.sql('DELETE FROM expunged WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)').run(accountId);
          this.sql('DELETE FROM mailboxes WHERE account_id = ?').run(accountId);
        }
        for (const dir of dirs) {
          const name = folderNameFromDir(dir);
          if (name === undefined) continue;
          const folder = path.join(root, dir);
          try {
            if (!statSync(folder).isDirectory()) continue;
          } catch {
            continue;
          }
          ensureMaildir(folder);
          cleanTmp(folder, TMP_MAX_AGE_MS);
          if (readFolderMeta(folder)?.legacySubscribed === true) legacySubscribed.push(name);
          let mb = this.mailboxRow(accountId, name);
          if (!mb) mb = this.adoptFolder(accountId, name, dir);
          const r = this.reconcileFolder(mb);
          adopted += r.adopted;
          dropped += r.dropped;
        }
        this.recoverSubscriptions(accountId, legacySubscribed);
        this.metadata.recoverAccount(accountId);
        this.recountUsage(accountId);
      });
    this.publish({ kind: 'mailboxes', accountId });
    return { adopted, dropped };
  }

  private adoptFolder(accountId: number, name: string, dir: string): MailboxRow {
    const folder = path.join(this.accountDir(accountId), dir);
    const meta = readFolderMeta(folder);
    const defaults = DEFAULT_FOLDERS.find((f) => f.name === name);
    const uidValidity = meta?.uidValidity ?? this.newUidValidity(accountId);
    this.noteUidValidity(accountId, uidValidity);
    const info = this.sql(
        `INSERT INTO mailboxes (account_id, name, dir, uidvalidity, uidnext, special_use, keywords)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        accountId,
        name,
        dir,
        uidValidity,
        meta?.uidNext ?? 1,
        meta?.specialUse ?? defaults?.specialUse ?? null,
        JSON.stringify(meta?.keywords ?? []),
      );
    const row = this.mailboxById(Number(info.lastInsertRowid));
    if (!meta) this.saveMeta(row);
    return row;
  }

  private reconcileFolder(mb: MailboxRow): { adopted: number; dropped: number } {
    const folder = this.folderPath(mb);
    const files = listMessageFiles(folder);
    const rows = this.sql('SELECT uid, path FROM messages WHERE mailbox_id = ?').all(mb.id) as Array<{ uid: number; path: string }>;
    const byBase = new Map(rows.map((r) => [baseOfPath(r.path), r]));
    const usedUids = new Set(rows.map((r) => r.uid));
    const keywords = JSON.parse(mb.keywords) as string[];
    let uidnext = mb.uidnext;
    let modseq = mb.highestmodseq;
    let dropped = 0;
    const seenBases = new Set<string>();
    const orphans: Array<{ rel: string; parsed: ReturnType<typeof parseFileName> }> = [];
    for (const rel of files) {
      const base = baseOfPath(rel);
      if (seenBases.has(base)) continue; // a twin left by a crash mid-rename: keep the first
      seenBases.add(base);
      const known = byBase.get(base);
      if (known) {
        if (known.path !== rel) this.sql('UPDATE messages SET path = ? WHERE mailbox_id = ? AND uid = ?').run(rel, mb.id, known.uid);
        continue;
      }
      orphans.push({ rel, parsed: parseFileName(rel.slice(4)) });
    }
    for (const r of rows) {
      if (!seenBases.has(baseOfPath(r.path))) {
        modseq += 1;
        this.sql('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?').run(mb.id, r.uid);
        this.sql('INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)').run(mb.id, r.uid, modseq);
        dropped++;
      }
    }
    // Files that carry a free UID keep it; the rest get new ones above every known UID.
    orphans.sort((a, b) => (a.parsed.uid ?? Infinity) - (b.parsed.uid ?? Infinity) || a.rel.localeCompare(b.rel));
    const keepUid = orphans.filter((o) => o.parsed.uid !== undefined && !usedUids.has(o.parsed.uid));
    for (const o of keepUid) usedUids.add(o.parsed.uid!);
    const maxUid = Math.max(0, ...usedUids);
    uidnext = Math.max(uidnext, maxUid + 1);
    for (const o of orphans) {
      const keep = keepUid.includes(o);
      const uid = keep ? o.parsed.uid! : uidnext++;
      const abs = path.join(folder, o.rel);
      let raw: Buffer;
      let st;
      try {
        raw = readFileSync(abs);
        st = statSync(abs);
      } catch {
        continue;
      }
      const flags = normalizeFlags([
        ...o.parsed.flags,
        ...o.parsed.keywordLetters.map((l) => keywords[l.charCodeAt(0) - 97]).filter((k): k is string => k !== undefined),
      ]);
      let rel = o.rel;
      if (!keep) {
        // Write the new UID into the name so the next rebuild finds it.
        const name = messageFileName(o.parsed.base, raw.length, uid, flags, keywords);
        rel = `${o.rel.slice(0, 3)}/${name}`;
        this.fileChanges().rename(abs, path.join(folder, rel));
      }
      let mime: string | null = null;
      try {
        mime = this.indexer(raw);
      } catch {
        mime = null;
      }
      modseq += 1;
      this.sql('INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, path, mime) VALUES (?,?,?,?,?,?,?,?)')
        .run(mb.id, uid, modseq, flags.join(' '), Math.round(st.mtimeMs), raw.length, rel, mime);
    }
    this.sql('UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?').run(uidnext, modseq, mb.id);
    if (orphans.length > 0) {
      fsyncPath(path.join(folder, 'cur'));
      fsyncPath(path.join(folder, 'new'));
    }
    return { adopted: orphans.length, dropped };
  }

  private recountUsage(accountId: number): void {
    this.sql(
        `UPDATE accounts SET
           used_bytes = (SELECT coalesce(sum(size), 0) FROM messages JOIN mailboxes ON mailboxes.id = messages.mailbox_id WHERE mailboxes.account_id = accounts.id),
           used_messages = (SELECT count(*) FROM messages JOIN mailboxes ON mailboxes.id = messages.mailbox_id WHERE mailboxes.account_id = accounts.id)
         WHERE id = ?`,
      )
      .run(accountId);
  }

  /** Stops the writer threads (the store is being closed). */
  stopWriters(): void {
    void this.tmpWriter.close();
  }

  /** Waits until every append handed to this store has committed or failed. */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.flushScheduled || this.settling > 0) await new Promise((r) => setTimeout(r, 1));
  }
}
