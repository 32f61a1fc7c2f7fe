// File operations of Maildir delivery: write to tmp/ with fsync, rename into
// new/ or cur/, fsync the directory. No SQL here.
import {
  promises as fsp,
  mkdirSync,
  openSync,
  fsyncSync,
  closeSync,
  readdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
  renameSync,
  readFileSync,
  writeSync,
  futimesSync,
  fdatasync,
} from 'node:fs';
import path from 'node:path';
import { uniqueBaseName } from './names.js';

export function ensureMaildir(dir: string): void {
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o700 });
}

export interface TmpFile {
  base: string;
  tmpPath: string;
}

/** Messages up to this size are written synchronously: a page-cache write is cheaper than a thread-pool round trip. */
const SYNC_WRITE_LIMIT = 256 * 1024;

function fdatasyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

/** Writes the message to tmp/, sets its mtime to the internal date, and fsyncs it. */
export async function writeTmpFile(maildir: string, raw: Buffer, internalDate: number | undefined): Promise<TmpFile> {
  const base = uniqueBaseName();
  const tmpPath = path.join(maildir, 'tmp', base);
  if (raw.length <= SYNC_WRITE_LIMIT) {
    // Only the fdatasync, which waits on the disk, goes to the thread pool.
    const fd = openSync(tmpPath, 'wx', 0o600);
    try {
      let off = 0;
      while (off < raw.length) off += writeSync(fd, raw, off, raw.length - off);
      if (internalDate !== undefined) futimesSync(fd, internalDate / 1000, internalDate / 1000);
      await fdatasyncAsync(fd);
    } catch (err) {
      closeSync(fd);
      try {
        unlinkSync(tmpPath);
      } catch {
        // nothing to clean
      }
      throw err;
    }
    closeSync(fd);
    return { base, tmpPath };
  }
  const fh = await fsp.open(tmpPath, 'wx', 0o600);
  try {
    await fh.writeFile(raw);
    // The mtime is the internal date (as Dovecot reads it); "now" needs no call.
    if (internalDate !== undefined) await fh.utimes(internalDate / 1000, internalDate / 1000);
    await fh.datasync();
  } catch (err) {
    await fh.close().catch(() => {});
    await fsp.unlink(tmpPath).catch(() => {});
    throw err;
  }
  await fh.close();
  return { base, tmpPath };
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
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

/** Removes tmp/ files older than maxAgeMs (Maildir says 36 hours: a writer may still be at work). */
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
      if (now - statSync(p).mtimeMs > maxAgeMs) unlinkSync(p);
    } catch {
      // gone already
    }
  }
}

/** Replaces a small file atomically (tmp + rename); readers see old or new, never half. */
export function writeFileAtomic(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  renameSync(tmp, file);
}

export function readFileIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
