// Secrets of the outbound side (the SRS key, DKIM private keys) live in the
// data dir, readable by their owner only. A secret is written whole and
// durably before anyone may rely on it, and never replaced by accident: a
// lost SRS key orphans every bounce in flight, a lost DKIM key breaks the
// published record.
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/** Makes dir (and its parents) with mode 700 for the parts it creates. */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * Writes file with mode 600, fsynced with its directory, only if it does not
 * exist yet: true when written, false when it was there already (another
 * process made it first; the caller reads that one). Whole or nothing.
 */
export function writeNewSecretFile(file: string, content: Buffer | string): boolean {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, typeof content === 'string' ? Buffer.from(content) : content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      // link, not rename: it fails rather than replace a file made meanwhile.
      linkSync(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    fsyncDir(path.dirname(file));
    return true;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Replaces file (mode 600) whole and durably: for small state such as the active DKIM selector. */
export function replaceSecretFile(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, Buffer.from(content));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    fsyncDir(path.dirname(file));
  } finally {
    rmSync(tmp, { force: true });
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
