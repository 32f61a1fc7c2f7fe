// Reading one message file synchronously, shared by the reader threads
// (blob-reader-worker.ts, a batch at a time) and the event loop's small
// reads (blob-reader.ts): open, one read of the size the file's name gives
// (and a byte more, to see a longer file), close.
import { closeSync, openSync, readSync } from 'node:fs';

/** Reads up to `want` bytes of the file from its offset `from` (0: its start) into `into` at `at`; how many it got (fewer at its end). */
export function readAll(fd: number, into: Uint8Array, at: number, want: number, from = 0): number {
  let got = 0;
  while (got < want) {
    const n = readSync(fd, into, at + got, want - got, from + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/**
 * Reads `want` bytes from the file's start, and with `checkEnd` looks for a
 * byte more (a file longer than its name says); how many it got. A read of
 * a local file comes back short only at the file's end, so one read of
 * want + 1 bytes that gives `want` is the whole file: no second read to see
 * the end. A read shorter than `want` reads on the careful way.
 */
function readKnown(fd: number, into: Uint8Array, at: number, want: number, checkEnd: boolean): number {
  const ask = checkEnd ? want + 1 : want;
  const n = readSync(fd, into, at, ask, 0);
  return n < want && n > 0 ? n + readAll(fd, into, at + n, ask - n, n) : n;
}

/** Maildir files never change: one that is not the size its name says is read again the slow, exact way (blob-store.ts). */
export function sizeError(): NodeJS.ErrnoException {
  const err = new Error('the file is not the size its name says') as NodeJS.ErrnoException;
  err.code = 'ESIZE';
  return err;
}

/**
 * Small reads share slabs, as Buffer.allocUnsafe's pool does for the
 * smallest buffers: an ArrayBuffer of its own per message of a few KB (and
 * the garbage collector's work for each) cost a POP3 download or a FETCH
 * more than the read. A body kept by a caller keeps its slab alive, so
 * slabs stay small.
 */
const SLAB_BYTES = 64 * 1024;
/** Reads bigger than this get a buffer of their own. */
const SLAB_MAX_READ = 16 * 1024;
let slab: Uint8Array = Buffer.allocUnsafeSlow(0);
let slabAt = 0;

/** Room for n bytes at slab[slabAt..]: a new slab when this one is too full. */
function slabRoom(n: number): void {
  if (slab.length - slabAt >= n) return;
  slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  slabAt = 0;
}

/**
 * The file's first `limit` bytes (all of them when limit < 0), its name
 * giving its size; undefined when there is no such file. Throws ESIZE when
 * the file is not that size.
 */
export function readKnownSize(file: string, size: number, limit: number): Buffer | undefined {
  const fd = openOrNone(file);
  if (fd === undefined) return undefined;
  try {
    const cut = limit >= 0 && limit < size;
    const want = cut ? limit : size;
    // One byte more than the size, to see a file that is longer than its name claims.
    const room = want + 1;
    if (room > SLAB_MAX_READ) {
      const into = Buffer.allocUnsafe(room);
      const n = readKnown(fd, into, 0, want, !cut);
      if (n !== want) throw sizeError();
      return into.subarray(0, want);
    }
    slabRoom(room);
    const at = slabAt;
    const n = readKnown(fd, slab, at, want, !cut);
    if (n !== want) throw sizeError();
    // The byte after the body was not read into (n === want): the next read may start there, 8-aligned.
    slabAt = Math.min(slab.length, (at + want + 7) & ~7);
    return Buffer.from(slab.buffer, slab.byteOffset + at, want);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the whole file, its name giving its size, into `into` at `at`
 * (room for size + 1 bytes there, to see a longer file); false when there
 * is no such file. Throws ESIZE when the file is not that size.
 */
export function readKnownSizeInto(file: string, size: number, into: Uint8Array, at: number): boolean {
  const fd = openOrNone(file);
  if (fd === undefined) return false;
  try {
    if (readKnown(fd, into, at, size, true) !== size) throw sizeError();
    return true;
  } finally {
    closeSync(fd);
  }
}

function openOrNone(file: string): number | undefined {
  try {
    return openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
