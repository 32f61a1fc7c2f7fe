// File operations of Maildir delivery: write to tmp/ with fsync, rename into
// new/ or cur/, fsync the directory. No SQL here.
import {
  mkdirSync,
  openSync,
  fsyncSync,
  closeSync,
  fdatasyncSync,
  futimesSync,
  writeSync,
  readdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
  renameSync,
  readFileSync,
} from 'node:fs';
import path from 'node:path';
import { baseOfPath } from './names.js';

export function ensureMaildir(dir: string): void {
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o700 });
}

export interface TmpFile {
  base: string;
  tmpPath: string;
}

/**
 * Writes a new message file into tmp/ (never over another: 'wx'); its mtime
 * is the internal date when one is given; fdatasynced when `sync`. A failed
 * write leaves nothing behind.
 */
export function writeTmpFile(tmpPath: string, data: Uint8Array, mtime: number | undefined, sync: boolean): void {
  const fd = createTmpFile(tmpPath, data, mtime);
  try {
    if (sync) fdatasyncSync(fd);
  } catch (err) {
    closeSync(fd);
    removeQuietly(tmpPath);
    throw err;
  }
  closeSync(fd);
}

/** Creates and writes a tmp/ file, and returns it still open; a failed write leaves nothing behind. */
function createTmpFile(tmpPath: string, data: Uint8Array, mtime: number | undefined): number {
  const fd = openSync(tmpPath, 'wx', 0o600);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    if (mtime !== undefined) futimesSync(fd, mtime / 1000, mtime / 1000);
  } catch (err) {
    closeSync(fd);
    removeQuietly(tmpPath);
    throw err;
  }
  return fd;
}

/** Files kept open at once by writeTmpFiles (a round may carry hundreds). */
const OPEN_AT_ONCE = 64;

/**
 * Writes several new message files into tmp/, then fdatasyncs them: their
 * data reaches the disk together. Each is synced through the descriptor it
 * was written with (opening it again by name cost an extra path lookup,
 * open and close per message). When any fails, none is left behind.
 */
export function writeTmpFiles(files: Array<{ tmpPath: string; data: Uint8Array; mtime: number | undefined }>): void {
  const done: string[] = [];
  const open: number[] = [];
  try {
    for (let start = 0; start < files.length; start += OPEN_AT_ONCE) {
      for (const f of files.slice(start, start + OPEN_AT_ONCE)) {
        open.push(createTmpFile(f.tmpPath, f.data, f.mtime));
        done.push(f.tmpPath);
      }
      while (open.length > 0) {
        fdatasyncSync(open[0]!);
        closeSync(open.shift()!);
      }
    }
  } catch (err) {
    for (const fd of open) closeQuietly(fd);
    for (const p of done) removeQuietly(p);
    throw err;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // closed already
  }
}

/** fsync of a directory (after renames in it) or a file. */
export function fsyncPath(target: string): void {
  const fd = openSync(target, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Lists message files in new/ and cur/ as paths relative to the maildir. */
export function listMessageFiles(maildir: string): string[] {
  const out: string[] = [];
  for (const sub of ['new', 'cur']) {
    let names: string[];
    try {
      names = readdirSync(path.join(maildir, sub));
    } catch {
      continue;
    }
    for (const n of names) if (!n.startsWith('.')) out.push(`${sub}/${n}`);
  }
  return out;
}

/**
 * Removes tmp/ files older than maxAgeMs (Maildir says 36 hours: a writer
 * may still be at work), and expunged messages left there by a crash between
 * an expunge's commit and the deletion of its files (see FileChanges.remove).
 */
export function cleanTmp(maildir: string, maxAgeMs: number, now = Date.now()): void {
  const dir = path.join(maildir, 'tmp');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const p = path.join(dir, n);
    try {
      if (n.endsWith(REMOVED_SUFFIX) || now - statSync(p).mtimeMs > maxAgeMs) unlinkSync(p);
    } catch {
      // gone already
    }
  }
}

/** What a message file taken out of sight until its removal commits is called in tmp/. */
export const REMOVED_SUFFIX = '.removed';

/**
 * Where a message file is now when it is not at `rel` (relative to the
 * maildir): its name carries the flags, so a flag change renames it, and a
 * rename whose index change failed (or another process's) leaves it under
 * another name with the same base, in new/ or cur/. Undefined when no file
 * has that base.
 */
export function findMessageFile(maildir: string, rel: string): string | undefined {
  const base = baseOfPath(rel);
  return listMessageFiles(maildir).find((f) => f !== rel && baseOfPath(f) === base);
}

/** Replaces a small file atomically (tmp + rename); readers see old or new, never half. */
export function writeFileAtomic(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, content, { mode: 0o600 });
    renameSync(tmp, file);
  } catch (err) {
    removeQuietly(tmp); // a full disk leaves a partial file behind
    throw err;
  }
}

/**
 * Replaces a file through tmp + rename, the new content fsynced before the
 * rename. The rename itself is durable only once the directory is fsynced:
 * writeFileDurable does that; a caller writing several files does it once.
 */
export function writeFileSynced(file: string, content: Buffer | string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeFileSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    removeQuietly(tmp); // a full disk leaves a partial file behind
    throw err;
  }
}

/**
 * Like writeFileAtomic, and on disk when it returns: the new file is fsynced
 * before the rename and the directory after it, so a crash leaves the old
 * content or the new, never an empty file.
 */
export function writeFileDurable(file: string, content: string): void {
  writeFileSynced(file, content);
  fsyncPath(path.dirname(file));
}

/** Removes a file if it is there; one already gone is no error. */
export function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

export function readFileIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
