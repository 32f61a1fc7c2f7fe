// `postino backup DEST` and `postino restore SRC`: a consistent copy of a
// data directory that a running `serve` keeps writing to, and back.
//
// Consistency: the index is copied first with SQLite's online backup API in
// one step (one read transaction: a snapshot). The snapshot then says which
// message files to copy and under which names. A message stored after the
// snapshot is not in the copy (it was not acknowledged before the backup
// began); one whose flags changed since has been renamed, so it is found by
// its unique base name in new/ and cur/ and copied under the name the
// snapshot gives it: the index is the truth for flags, and file names and
// rows agree in the copy. A message expunged since is gone; the restored
// server drops its row at startup (recovery), as after any crash.
//
// Everything else in the data directory (sieve scripts, the queue, TLS, DKIM
// and SRS keys, postino.json, removed accounts) is copied as it is, modes
// kept (keys stay 0600). Every file and directory is fsynced, and the
// manifest is written last: a directory without one is no backup.
import Database from 'better-sqlite3';
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { MailError } from './errors.js';
import { accountSegment } from './maildir/names.js';
import { findMessageFile } from './maildir/files.js';

export const MANIFEST = 'manifest.json';
export const BACKUP_FORMAT = 1;

const INDEX = 'postino.sqlite';
const MAIL = 'mail';
/** Not copied: the index's journal files (the snapshot replaces them) and serve's lock. */
const NOT_COPIED = new Set([INDEX, `${INDEX}-wal`, `${INDEX}-shm`, `${INDEX}-journal`, 'serve.lock', 'serve.pid', MANIFEST]);

export interface BackupManifest {
  format: number;
  /** When the snapshot was taken (ISO 8601). */
  created: string;
  counts: {
    accounts: number;
    mailboxes: number;
    /** Messages in the snapshot. */
    messages: number;
    /** Messages in the snapshot whose file was expunged before it could be copied (dropped at restore). */
    vanished: number;
    /** Files copied, the index and the message files included. */
    files: number;
    bytes: number;
  };
}

interface CopyStats {
  files: number;
  bytes: number;
}

function fsyncPath(target: string): void {
  const fd = openSync(target, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A directory that does not exist yet, or exists and is empty; made (0700) if missing. */
function prepareEmptyDir(dir: string, what: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new MailError('BADINPUT', `${what} ${dir} exists and is not a directory`);
    if (readdirSync(dir).length > 0) throw new MailError('BADINPUT', `${what} ${dir} is not empty`);
    return;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  fsyncPath(path.dirname(path.resolve(dir)));
}

/** Copies one file, keeping its mode, and makes the copy durable. */
function copyFile(from: string, to: string, stats: CopyStats): void {
  const st = statSync(from);
  copyFileSync(from, to, constants.COPYFILE_EXCL);
  const fd = openSync(to, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // copyFile keeps the mode on Linux; said again so nothing can widen a key's 0600.
  chmodSync(to, st.mode & 0o7777);
  stats.files++;
  stats.bytes += st.size;
}

/**
 * Copies a tree: directories (modes kept), regular files; symlinks and
 * other special files are skipped, and so are tmp files a writer has not
 * renamed into place yet (".*.tmp" in the queue, Maildir tmp/ contents).
 */
function copyTree(from: string, to: string, stats: CopyStats): void {
  let st;
  let names: string[];
  try {
    st = statSync(from);
    names = readdirSync(from);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // removed by serve meanwhile
    throw err;
  }
  mkdirSync(to, { mode: st.mode & 0o7777 });
  for (const name of names) {
    const src = path.join(from, name);
    let entry;
    try {
      entry = lstatSync(src);
    } catch {
      continue; // removed while we looked (a queue entry sent, a tmp file renamed)
    }
    if (entry.isDirectory()) copyTree(src, path.join(to, name), stats);
    else if (entry.isFile()) {
      if (name.endsWith('.tmp') || path.basename(from) === 'tmp') continue;
      try {
        copyFile(src, path.join(to, name), stats);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
  fsyncPath(to);
}

function writeDurable(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  fsyncPath(path.dirname(file));
}

function ensureDir(dir: string, mode = 0o700): void {
  mkdirSync(dir, { recursive: true, mode });
}

/** Regular files directly in `from` (not in subdirectories) copied to `to`. */
function copyTopFiles(from: string, to: string, stats: CopyStats): void {
  let names: string[];
  try {
    names = readdirSync(from);
  } catch {
    return;
  }
  for (const name of names) {
    const src = path.join(from, name);
    try {
      if (!lstatSync(src).isFile() || name.endsWith('.tmp')) continue;
      copyFile(src, path.join(to, name), stats);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** Copies the index with SQLite's online backup API, all pages in one step: one consistent snapshot. */
async function snapshotIndex(dataDir: string, dest: string): Promise<void> {
  const file = path.join(dataDir, INDEX);
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 10_000 });
  } catch (err) {
    throw new MailError('BADINPUT', `no index to back up at ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    db.pragma('busy_timeout = 10000');
    await db.backup(dest, { progress: () => 0x7fffffff });
  } catch (err) {
    // Busy for long (serve holds the index exclusively while the disk is full) or unreadable.
    throw new MailError('TEMPFAIL', `cannot snapshot the index ${file}: ${(err as Error).message}`, { cause: err });
  } finally {
    db.close();
  }
  // The copy says WAL like its source; a rollback journal instead leaves one self-contained file
  // (the restored serve turns WAL on again when it opens it).
  const copy = new Database(dest, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
  fsyncPath(dest);
}

interface MessageRow {
  path: string;
  dir: string;
  domain: string;
  localpart: string;
}

/** Looks for a message file that keeps being renamed: this many times at once ... */
const FIND_ATTEMPTS = 20;
/**
 * ... then FIND_SLOW_ATTEMPTS more, FIND_PAUSE_MS apart, while the backup has
 * FIND_WAIT_BUDGET_MS of such waiting left: a client flipping a flag on a
 * whole folder renames its files in bursts that twenty quick looks can all
 * fall into. One not found after all that was expunged; the budget keeps
 * many expunges during a backup from slowing it by more than a few seconds.
 */
const FIND_SLOW_ATTEMPTS = 100;
const FIND_PAUSE_MS = 2;
const FIND_WAIT_BUDGET_MS = 5000;

/** Copies the Maildirs as the snapshot describes them; returns the number of messages that vanished. */
function copyMail(dataDir: string, dest: string, snapshot: Database.Database, stats: CopyStats): { messages: number; vanished: number } {
  const srcRoot = path.join(dataDir, MAIL);
  const dstRoot = path.join(dest, MAIL);
  ensureDir(dstRoot);
  const accountDir = (root: string, domain: string, localpart: string) =>
    path.join(root, accountSegment(domain.toLowerCase()), accountSegment(localpart.toLowerCase()));

  const accounts = snapshot.prepare('SELECT id, domain, localpart FROM accounts').all() as Array<{ id: number; domain: string; localpart: string }>;
  const folders = snapshot.prepare('SELECT account_id, dir FROM mailboxes').all() as Array<{ account_id: number; dir: string }>;
  const byId = new Map(accounts.map((a) => [a.id, a]));
  const madeDirs = new Set<string>();
  for (const a of accounts) {
    const dst = accountDir(dstRoot, a.domain, a.localpart);
    ensureDir(dst);
    // Account-wide files (folder meta of INBOX, subscriptions, metadata) sit beside cur/ new/ tmp/.
    copyTopFiles(accountDir(srcRoot, a.domain, a.localpart), dst, stats);
  }
  for (const f of folders) {
    const a = byId.get(f.account_id);
    if (!a) continue;
    const dst = path.join(accountDir(dstRoot, a.domain, a.localpart), f.dir);
    for (const sub of ['cur', 'new', 'tmp']) ensureDir(path.join(dst, sub));
    if (f.dir !== '') copyTopFiles(path.join(accountDir(srcRoot, a.domain, a.localpart), f.dir), dst, stats);
    madeDirs.add(dst);
  }

  let messages = 0;
  let vanished = 0;
  let waitLeftMs = FIND_WAIT_BUDGET_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const rows = snapshot
    .prepare(
      `SELECT m.path AS path, mb.dir AS dir, a.domain AS domain, a.localpart AS localpart
         FROM messages m JOIN mailboxes mb ON mb.id = m.mailbox_id JOIN accounts a ON a.id = mb.account_id`,
    )
    .iterate() as IterableIterator<MessageRow>;
  for (const row of rows) {
    messages++;
    const srcFolder = path.join(accountDir(srcRoot, row.domain, row.localpart), row.dir);
    const dstFolder = path.join(accountDir(dstRoot, row.domain, row.localpart), row.dir);
    const target = path.join(dstFolder, row.path);
    let copied = false;
    // Renamed by a flag change since the snapshot: the same base under another name. Looked for
    // again while it keeps moving (a listing made during a rename may miss the file altogether).
    for (let attempt = 0; attempt < FIND_ATTEMPTS + FIND_SLOW_ATTEMPTS && !copied; attempt++) {
      if (attempt >= FIND_ATTEMPTS) {
        if (waitLeftMs <= 0) break;
        waitLeftMs -= FIND_PAUSE_MS;
        Atomics.wait(pause, 0, 0, FIND_PAUSE_MS);
      }
      const rel = attempt === 0 ? row.path : findMessageFile(srcFolder, row.path);
      if (rel === undefined) continue;
      try {
        copyFile(path.join(srcFolder, rel), target, stats);
        copied = true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    if (!copied) vanished++;
  }
  for (const dir of madeDirs) for (const sub of ['cur', 'new', 'tmp']) fsyncPath(path.join(dir, sub));
  const syncUp = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory() && !['cur', 'new', 'tmp'].includes(name)) syncUp(p);
    }
    fsyncPath(dir);
  };
  syncUp(dstRoot);
  return { messages, vanished };
}

export interface BackupOptions {
  /** Tests: runs between the index snapshot and the file copies (where a running serve changes things). */
  afterSnapshot?: () => Promise<void> | void;
}

/** Makes a backup of dataDir (which a serve may be running on) in dest, a new or empty directory. */
export async function backupDataDir(dataDir: string, dest: string, options: BackupOptions = {}): Promise<BackupManifest> {
  if (!existsSync(path.join(dataDir, INDEX))) throw new MailError('BADINPUT', `${dataDir} is not a Postino data directory (no ${INDEX})`);
  const srcReal = path.resolve(dataDir);
  const dstReal = path.resolve(dest);
  if (dstReal === srcReal || dstReal.startsWith(`${srcReal}${path.sep}`)) throw new MailError('BADINPUT', `the backup cannot go inside the data directory ${dataDir}`);
  prepareEmptyDir(dest, 'backup destination');
  const created = new Date().toISOString();
  const stats: CopyStats = { files: 0, bytes: 0 };

  const indexCopy = path.join(dest, INDEX);
  await snapshotIndex(dataDir, indexCopy);
  stats.files++;
  stats.bytes += statSync(indexCopy).size;
  await options.afterSnapshot?.();

  const snapshot = new Database(indexCopy, { readonly: true, fileMustExist: true });
  let counts: { accounts: number; mailboxes: number; messages: number; vanished: number };
  try {
    const count = (table: string) => (snapshot.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    const mail = copyMail(dataDir, dest, snapshot, stats);
    counts = { accounts: count('accounts'), mailboxes: count('mailboxes'), ...mail };
  } finally {
    snapshot.close();
  }

  for (const name of readdirSync(dataDir)) {
    if (NOT_COPIED.has(name) || name === MAIL) continue;
    const src = path.join(dataDir, name);
    const entry = lstatSync(src);
    if (entry.isDirectory()) copyTree(src, path.join(dest, name), stats);
    else if (entry.isFile() && !name.endsWith('.tmp')) copyFile(src, path.join(dest, name), stats);
  }
  fsyncPath(dest);

  const manifest: BackupManifest = { format: BACKUP_FORMAT, created, counts: { ...counts, files: stats.files, bytes: stats.bytes } };
  writeDurable(path.join(dest, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Reads and checks a backup's manifest; BADINPUT when src is not a complete backup this version can restore. */
export function readBackupManifest(src: string): BackupManifest {
  let text: string;
  try {
    text = readFileSync(path.join(src, MANIFEST), 'utf8');
  } catch {
    throw new MailError('BADINPUT', `${src} is not a Postino backup (no ${MANIFEST})`);
  }
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(text) as BackupManifest;
  } catch {
    throw new MailError('BADINPUT', `${src} is not a Postino backup (${MANIFEST} is not JSON)`);
  }
  if (typeof manifest !== 'object' || manifest === null || manifest.format !== BACKUP_FORMAT) {
    throw new MailError('BADINPUT', `${src}: backup format ${JSON.stringify((manifest as { format?: unknown } | null)?.format ?? null)} is not ${BACKUP_FORMAT}`);
  }
  if (!existsSync(path.join(src, INDEX))) throw new MailError('BADINPUT', `${src} is not a complete backup (no ${INDEX})`);
  return manifest;
}

/** Restores a backup into dataDir, which must be new or empty. */
export function restoreDataDir(src: string, dataDir: string): BackupManifest {
  const manifest = readBackupManifest(src);
  prepareEmptyDir(dataDir, 'data directory');
  const stats: CopyStats = { files: 0, bytes: 0 };
  for (const name of readdirSync(src)) {
    if (name === MANIFEST) continue;
    const from = path.join(src, name);
    const entry = lstatSync(from);
    if (entry.isDirectory()) copyTree(from, path.join(dataDir, name), stats);
    else if (entry.isFile()) copyFile(from, path.join(dataDir, name), stats);
  }
  fsyncPath(dataDir);
  return manifest;
}
