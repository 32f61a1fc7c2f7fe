// Opens the SQLite index with the settings every process must share.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { migrations } from './migrations.js';
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

export function openIndex(file: string, options: OpenIndexOptions = {}): IndexDb {
  mkdirSync(path.dirname(file), { recursive: true });
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
    db = new Database(file);
  } catch (err) {
    throw new MailError('TEMPFAIL', `cannot open the index ${file}`, { cause: err });
  }
  try {
    configure(db, options, exclusive);
    return db;
  } catch (err) {
    db.close(); // its locks would keep a second attempt out
    throw err;
  }
}

function configure(db: IndexDb, options: OpenIndexOptions, exclusive: boolean): void {
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
  // Before the first read: then SQLite never makes the shared-memory file.
  if (exclusive) db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit does not fsync, so it never blocks the event
  // loop on the disk. Appends make their rows durable themselves, by an fsync
  // of the WAL file in the thread pool before they report success (see
  // MaildirStore.flush); the Maildir (fsynced files with the UID in their
  // names) stays the source of truth that recover() rebuilds from.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  migrate(db);
}

export function schemaVersion(db: IndexDb): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function migrate(db: IndexDb): void {
  const current = schemaVersion(db);
  if (current > migrations.length) {
    throw new MailError('INTERNAL', `index schema v${current} is newer than this Postino (v${migrations.length})`);
  }
  if (current === migrations.length) return;
  const run = db.transaction(() => {
    // Re-read inside the write transaction: another process may have migrated.
    for (let v = schemaVersion(db); v < migrations.length; v++) {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }
  });
  run.immediate();
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
