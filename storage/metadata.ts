// IMAP METADATA (RFC 5464) entries of an account: per mailbox, and for the
// server as a whole (mailbox id 0). The table answers reads; a file per
// mailbox (maildir/metadata-file.ts), put in place inside the same
// transaction (written and fsynced before it, off the event loop: see
// changeWithFile), is what `postino reindex` and start-up recovery rebuild
// the table from.
// Entry names come here checked and lower-cased by the protocol layer; this
// module checks only what keeps the store sane (the prefix, the characters,
// the limits it is given), so an edited file cannot put anything else in.
import path from 'node:path';
import { prepared, type IndexDb, type Statement } from './index/database.js';
import { MailError } from './errors.js';
import { metadataFilePath, metadataFileText, readMetadataFile, type StoredEntry } from './maildir/metadata-file.js';
import type { FileChanges } from './maildir/file-changes.js';
import { changeWithFile } from './maildir/staged-file.js';
import type { UnitGate } from './unit-of-work.js';

export type { StoredEntry as MetadataEntry };

/** Bounds on what an account may store; the IMAP layer passes its own (src/protocol/imap/limits.ts). */
export interface MetadataLimits {
  /** Octets of one value. */
  maxValueSize: number;
  /** Entries of one mailbox (or of the server). */
  maxEntriesPerMailbox: number;
  /** Octets of names and values of one mailbox together. */
  maxBytesPerMailbox: number;
  /** Entries of the account, every mailbox and the server together. */
  maxEntriesPerAccount: number;
  /** Octets of names and values of the account together. */
  maxBytesPerAccount: number;
}

/** A change of one entry: a new value, or null to remove it. */
export interface MetadataChange {
  entry: string;
  value: Buffer | null;
}

export type MetadataSetResult =
  | { ok: true }
  /** A value is longer than maxValueSize: nothing changed. */
  | { ok: false; reason: 'maxsize'; maxSize: number }
  /** The mailbox or the account would hold more than it may: nothing changed. */
  | { ok: false; reason: 'toomany' };

/** The server's entries are kept under this mailbox id (ids of real mailboxes start at 1). */
const SERVER = 0;
/** Longest entry name kept from a file; the IMAP layer's own bound is lower. */
const MAX_STORED_NAME = 4096;
/** Entries read from one file at most (a hand-edited file cannot grow the table without bound). */
const MAX_ENTRIES_PER_FILE = 10_000;

/** What the store keeps: /private or /shared, then levels of printable ASCII without "*", "%" or empty levels. */
export function isStorableEntryName(entry: string): boolean {
  if (entry.length > MAX_STORED_NAME) return false;
  if (!/^\/(private|shared)(\/[^/]+)*$/.test(entry)) return false;
  // eslint-disable-next-line no-control-regex
  return !/[\x00-\x1f\x7f-\uffff*%A-Z]/.test(entry);
}

class LimitReached extends Error {}

export class MailboxMetadata {
  constructor(
    private readonly db: IndexDb,
    /** The account's Maildir root (MaildirStore.accountDir). */
    private readonly accountRoot: (accountId: number) => string,
    /** Runs fn with the file changes of the transaction (or unit of work) it is part of: undone with it. */
    private readonly withFiles: <T>(fn: (files: FileChanges) => T) => T,
    /** The gate units of work hold (a change made after file I/O waits for its turn). */
    private readonly gate: UnitGate,
  ) {}

  private sql(text: string): Statement {
    return prepared(this.db, text);
  }

  /**
   * The entry itself (when it has a value) and, with `descendants`, every
   * entry below it, ordered by name. `mailboxId` null: the server's entries.
   */
  read(accountId: number, mailboxId: number | null, entry: string, descendants: boolean): StoredEntry[] {
    const id = mailboxId ?? SERVER;
    if (!descendants) {
      const value = this.sql('SELECT value FROM mailbox_metadata WHERE account_id = ? AND mailbox_id = ? AND entry = ?').pluck().get(accountId, id, entry) as
        | Buffer
        | undefined;
      return value === undefined ? [] : [{ entry, value }];
    }
    // Names below `entry` sort between "entry/" and "entry0" ("0" follows "/").
    return this.sql(
      `SELECT entry, value FROM mailbox_metadata WHERE account_id = ? AND mailbox_id = ?
         AND (entry = ? OR (entry > ? AND entry < ?)) ORDER BY entry`,
    ).all(accountId, id, entry, entry + '/', entry + '0') as StoredEntry[];
  }

  /**
   * Applies every change or none (RFC 5464 4.3): a value over the size limit,
   * or a mailbox or account that would grow past its limits, leaves
   * everything as it was. Changes to one entry apply in order (the last wins).
   */
  async set(accountId: number, mailboxId: number | null, changes: readonly MetadataChange[], limits: MetadataLimits): Promise<MetadataSetResult> {
    for (const c of changes) {
      if (!isStorableEntryName(c.entry)) throw new MailError('BADINPUT', `invalid entry name ${c.entry}`);
      if (c.value !== null && c.value.length > limits.maxValueSize) return { ok: false, reason: 'maxsize', maxSize: limits.maxValueSize };
    }
    const id = mailboxId ?? SERVER;
    // The file is put back if the transaction fails (a full disk at COMMIT), so file and rows agree.
    try {
      await changeWithFile({
        gate: this.gate,
        dryRun: (fn) => this.db.transaction(fn).immediate(),
        transaction: (fn) => this.withFiles((files) => this.db.transaction(() => fn(files)).immediate()),
        // The Maildir's tmp/ (of the folder, or of the account root for the server's entries): recovery cleans what a crash leaves there.
        stageDir: (file) => path.join(path.dirname(file), 'tmp'),
        change: () => {
          const dir = this.folderDir(accountId, id);
          const before = { mailbox: this.usage(accountId, id), account: this.usage(accountId) };
          const put = this.sql('INSERT OR REPLACE INTO mailbox_metadata (account_id, mailbox_id, entry, value) VALUES (?, ?, ?, ?)');
          const remove = this.sql('DELETE FROM mailbox_metadata WHERE account_id = ? AND mailbox_id = ? AND entry = ?');
          for (const c of changes) {
            if (c.value === null) remove.run(accountId, id, c.entry);
            else put.run(accountId, id, c.entry, c.value);
          }
          // A change that does not grow what is over a limit (a removal, a shorter value) is always allowed.
          const grew = (was: Usage, now: Usage, maxEntries: number, maxBytes: number) =>
            (now.entries > maxEntries && now.entries > was.entries) || (now.bytes > maxBytes && now.bytes > was.bytes);
          if (
            grew(before.mailbox, this.usage(accountId, id), limits.maxEntriesPerMailbox, limits.maxBytesPerMailbox) ||
            grew(before.account, this.usage(accountId), limits.maxEntriesPerAccount, limits.maxBytesPerAccount)
          ) {
            throw new LimitReached();
          }
          return { result: undefined, file: this.fileOf(accountId, id, dir) };
        },
      });
    } catch (err) {
      if (err instanceof LimitReached) return { ok: false, reason: 'toomany' };
      throw err;
    }
    return { ok: true };
  }

  // ---- hooks for the mail store, inside its transactions ---------------------

  /** DELETE of a mailbox: its entries go (its file goes with its folder). */
  forgetMailbox(accountId: number, mailboxId: number): void {
    this.sql('DELETE FROM mailbox_metadata WHERE account_id = ? AND mailbox_id = ?').run(accountId, mailboxId);
  }

  /** Removal of an account: every entry goes (the files go with its Maildir). */
  forgetAccount(accountId: number): void {
    this.sql('DELETE FROM mailbox_metadata WHERE account_id = ?').run(accountId);
  }

  /**
   * Recovery and reindex: the files are the entries. They are written inside
   * the transaction that changes the rows, last, so after a crash a file may
   * be newer than its rows, never older; mailbox ids may have changed in a
   * rebuild. So every row of the account is replaced by what the files say.
   */
  recoverAccount(accountId: number): void {
    const root = this.accountRoot(accountId);
    this.forgetAccount(accountId);
    const insert = this.sql('INSERT OR REPLACE INTO mailbox_metadata (account_id, mailbox_id, entry, value) VALUES (?, ?, ?, ?)');
    const load = (id: number, dir: string | undefined) => {
      let kept = 0;
      for (const e of readMetadataFile(metadataFilePath(root, dir))) {
        if (kept >= MAX_ENTRIES_PER_FILE) break;
        if (!isStorableEntryName(e.entry)) continue; // an edited file: skip what could never have been set
        kept += insert.run(accountId, id, e.entry, e.value).changes;
      }
    };
    load(SERVER, undefined);
    const folders = this.sql('SELECT id, dir FROM mailboxes WHERE account_id = ?').all(accountId) as Array<{ id: number; dir: string }>;
    for (const f of folders) load(f.id, f.dir);
  }

  // ---- inside ---------------------------------------------------------------

  /** The folder's directory below the account root (undefined: the server's entries); checks the mailbox is the account's. */
  private folderDir(accountId: number, id: number): string | undefined {
    if (id === SERVER) return undefined;
    const dir = this.sql('SELECT dir FROM mailboxes WHERE id = ? AND account_id = ?').pluck().get(id, accountId) as string | undefined;
    if (dir === undefined) throw new MailError('NONEXISTENT', 'no such mailbox');
    return dir;
  }

  private usage(accountId: number, mailboxId?: number): Usage {
    const row = (
      mailboxId === undefined
        ? this.sql('SELECT count(*) AS entries, coalesce(sum(length(entry) + length(value)), 0) AS bytes FROM mailbox_metadata WHERE account_id = ?').get(accountId)
        : this.sql(
            'SELECT count(*) AS entries, coalesce(sum(length(entry) + length(value)), 0) AS bytes FROM mailbox_metadata WHERE account_id = ? AND mailbox_id = ?',
          ).get(accountId, mailboxId)
    ) as Usage;
    return row;
  }

  /** The mailbox's file as its rows are now. */
  private fileOf(accountId: number, id: number, dir: string | undefined): { path: string; content: string } {
    const rows = this.sql('SELECT entry, value FROM mailbox_metadata WHERE account_id = ? AND mailbox_id = ? ORDER BY entry').all(accountId, id) as StoredEntry[];
    return { path: metadataFilePath(this.accountRoot(accountId), dir), content: metadataFileText(rows) };
  }
}

interface Usage {
  entries: number;
  bytes: number;
}
