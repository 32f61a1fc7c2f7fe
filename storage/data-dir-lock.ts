// One `postino serve` per data directory. Two would each recover, cache and
// renumber the same mailboxes behind the other's back.
//
// The lock is a write transaction held open on DIR/serve.lock, a tiny SQLite
// file that holds no data. SQLite takes it with an fcntl lock, which the
// kernel drops when the process ends, however it ends: a lock never outlives
// its holder, so there is no stale lock to detect and no PID to trust after a
// reboot has handed it to another program. DIR/serve.pid names the holder, for
// the refusal message and for the administrator. The CLI never takes this
// lock: its commands share the index with a running serve by design.
import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MailError } from './errors.js';
import { describeCause, describeOpenFailure } from './index/database.js';

export interface DataDirLock {
  /** Lets the next serve in. Never deletes serve.lock: a waiter may have it open. */
  release(): void;
}

export const LOCK_FILE = 'serve.lock';
export const PID_FILE = 'serve.pid';

/** Takes the data directory for this process, or throws REFUSED naming the PID that has it. */
export function lockDataDir(dataDir: string, pid = process.pid): DataDirLock {
  const lockFile = path.join(dataDir, LOCK_FILE);
  const pidFile = path.join(dataDir, PID_FILE);
  let db: Database.Database;
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    db = new Database(lockFile, { timeout: 0 });
  } catch (err) {
    throw new MailError('TEMPFAIL', `cannot open the lock ${lockFile}: ${describeOpenFailure(lockFile, err)}`, { cause: err });
  }
  try {
    // A rollback journal in memory: taking the write lock on a new, empty file
    // makes its first page, and with the journal on disk that needs room, which
    // a full disk does not have (serve must start there). Nothing is ever
    // committed here, so nothing needs the journal.
    db.pragma('journal_mode = MEMORY');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') {
      throw new MailError('TEMPFAIL', `cannot lock ${lockFile}: ${describeCause(err)}`, { cause: err });
    }
    const holder = readHolder(pidFile, pid);
    throw new MailError(
      'REFUSED',
      `${dataDir} is in use by another postino serve (${holder === undefined ? 'PID unknown' : `PID ${holder}`}); ` +
        'stop it first, or give this one another --data',
    );
  }
  try {
    writeFileSync(pidFile, `${pid}\n`);
  } catch {
    // The lock holds without it; only the message of a second serve loses the PID.
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      if (readPid(pidFile) === pid) rmSync(pidFile, { force: true });
      db.close();
    },
  };
}

/** The holder writes its PID just after it takes the lock: give it a moment. */
function readHolder(pidFile: string, self: number): number | undefined {
  const deadline = Date.now() + 1000;
  for (;;) {
    const pid = readPid(pidFile);
    if (pid !== undefined && pid !== self && isAlive(pid)) return pid;
    if (Date.now() > deadline) return undefined;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
}

function readPid(pidFile: string): number | undefined {
  try {
    const text = readFileSync(pidFile, 'utf8').slice(0, 32).trim();
    return /^\d{1,10}$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
