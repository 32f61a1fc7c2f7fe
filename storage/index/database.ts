// Opens the SQLite index with the settings every process must share.
import Database from 'better-sqlite3';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { pendingSteps } from '../schema/index.js';
import { MailError, isNoSpace } from '../errors.js';

export type IndexDb = Database.Database;

export interface OpenIndexOptions {
  /** Wait this long for another process's write lock before failing (ms). */
  busyTimeoutMs?: number;
  /**
   * When the disk is too full for SQLite's shared-memory file (the -shm
   * beside the index, made when the first process opens it), open the index
   * in exclusive locking mode instead, where SQLite keeps that memory on the
   * heap: this process alone can use the index until it closes it. For
   * `serve`, which must start on a full disk; called when that happens.
   */
  exclusiveWhenDiskFull?: (err: unknown) => void;
}

/** An error's own words for a CLI line: `SQLITE_CANTOPEN: unable to open database file`, `EACCES: permission denied, mkdir '/x'`. */
export function describeCause(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && !message.startsWith(code) ? `${code}: ${message}` : message;
}

/**
 * Why SQLite could not open a database file. SQLITE_CANTOPEN does not say why;
 * the file system does: `... (EACCES: permission denied, access '/x')`.
 */
export function describeOpenFailure(file: string, err: unknown): string {
  const text = describeCause(err);
  if ((err as { code?: unknown } | undefined)?.code !== 'SQLITE_CANTOPEN') return text;
  try {
    if (existsSync(file)) closeSync(openSync(file, 'r+'));
    else accessSync(path.dirname(file), constants.W_OK | constants.X_OK);
  } catch (probe) {
    return `${text} (${describeCause(probe)})`;
  }
  return text;
}

export function openIndex(file: string, options: OpenIndexOptions = {}): IndexDb {
  try {
    return setUp(file, options, false);
  } catch (err) {
    if (!options.exclusiveWhenDiskFull || !isNoSpace(err)) throw err;
    options.exclusiveWhenDiskFull(err);
    return setUp(file, options, true);
  }
}

function setUp(file: string, options: OpenIndexOptions, exclusive: boolean): IndexDb {
  let db: IndexDb;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    db = new Database(file);
  } catch (err) {
    throw new MailError('TEMPFAIL', `cannot open the index ${file}: ${describeOpenFailure(file, err)}`, { cause: err });
  }
  try {
    configure(db, file, options, exclusive);
    return db;
  } catch (err) {
    if (db.open) db.close(); // its locks would keep a second attempt out
    throw err;
  }
}

function configure(db: IndexDb, file: string, options: OpenIndexOptions, exclusive: boolean): void {
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
  // Before the first read: then SQLite never makes the shared-memory file.
  if (exclusive) db.pragma('locking_mode = EXCLUSIVE');
  try {
    // The first statement that touches the file: a directory, a file that is not SQLite
    // or one this user may not write fails here rather than in new Database().
    db.pragma('journal_mode = WAL');
  } catch (err) {
    throw new MailError('TEMPFAIL', `cannot open the index ${file}: ${describeOpenFailure(file, err)}`, { cause: err });
  }
  // NORMAL in WAL mode: a commit does not fsync, so it never blocks the event
  // loop on the disk. Appends make their rows durable themselves, by an fsync
  // of the WAL file in the thread pool before they report success (see
  // AppendBatcher.flush in storage/mail/append-batcher.ts); the Maildir (fsynced files with the UID in their
  // names) stays the source of truth that recover() rebuilds from.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  migrate(db);
}

export function schemaVersion(db: IndexDb): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Reads the schema version of an index file without opening it for writing or migrating it; undefined when there is no file. */
export function peekSchemaVersion(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  let db: IndexDb;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new MailError('TEMPFAIL', `cannot open the index ${file}: ${describeOpenFailure(file, err)}`, { cause: err });
  }
  try {
    return schemaVersion(db);
  } finally {
    db.close();
  }
}

// The rules are storage/schema/index.ts's; the version is PRAGMA user_version.
function migrate(db: IndexDb): void {
  // Refuses an index a newer Postino wrote, before taking the write lock.
  if (pendingSteps('sqlite', schemaVersion(db)).length === 0) return;
  const run = db.transaction(() => {
    // Re-read inside the write transaction: another process may have migrated.
    const pending = pendingSteps('sqlite', schemaVersion(db));
    for (const step of pending) {
      db.exec(step.sql);
      db.pragma(`user_version = ${step.version}`);
    }
    if (pending.length > 0) {
      const broken = db.pragma('foreign_key_check') as Array<{ table: string; parent: string }>;
      if (broken.length > 0) {
        const first = broken[0]!;
        throw new MailError('INTERNAL', `index migration left ${broken.length} row(s) of ${first.table} without their ${first.parent} row`);
      }
    }
  });
  // A migration that rebuilds a table (SQLite cannot alter a column's
  // definition) drops it while other tables still point to it. That works
  // only with enforcement off, which cannot change inside a transaction;
  // the check above makes sure the result is whole before it commits.
  db.pragma('foreign_keys = OFF');
  try {
    run.immediate();
  } finally {
    db.pragma('foreign_keys = ON');
  }
}

/** A prepared statement taking any bind parameters. */
export type Statement = Database.Statement<unknown[], unknown>;

const statementCaches = new WeakMap<IndexDb, Map<string, Statement>>();

/** The statement for this SQL on this database, prepared once: preparing costs more than most of our queries. */
export function prepared(db: IndexDb, text: string): Statement {
  let cache = statementCaches.get(db);
  if (!cache) {
    cache = new Map();
    statementCaches.set(db, cache);
  }
  let st = cache.get(text);
  if (!st) {
    st = db.prepare(text) as Statement;
    cache.set(text, st);
  }
  return st;
}
