// A thread that reads a batch of message files as one job: for each, open,
// one read of the size its name gives (fstat when it gives none), close;
// all into one buffer that is moved, not copied, to the main thread. On the
// libuv pool each of those steps is a hand-off to a pool thread and back to
// the event loop: three per file, which cost the event loop more than the
// reads themselves (bench/imap-read.ts).
import { parentPort } from 'node:worker_threads';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { readAll, sizeError } from './blob-read.js';

export interface BlobReadRequest {
  id: number;
  files: string[];
  /** The size each file's name gives, -1 when it gives none. */
  sizes: number[];
  /** How much of each file is wanted from its start, -1 for all of it. */
  limits: number[];
  /**
   * Lent reads (read-arena.ts): per file, where in `arena` to read it (room
   * for its size and a byte more), -1 for `data`. Only files whose name
   * gives their size, read whole.
   */
  into?: number[];
  arena?: SharedArrayBuffer;
}

/** Per file: [offset, length] in `data` (in the arena for a lent read), null when there is no such file, or why it could not be read. */
export type BlobReadResult = [number, number] | null | { message: string; code?: string };

export interface BlobReadReply {
  id: number;
  data: ArrayBuffer;
  results: BlobReadResult[];
}

function failure(err: unknown): { message: string; code?: string } {
  const e = err as NodeJS.ErrnoException;
  return { message: e.message, ...(e.code ? { code: e.code } : {}) };
}

function readBatch(req: BlobReadRequest): { reply: BlobReadReply; transfer: ArrayBuffer[] } {
  const fds: Array<number | BlobReadResult> = [];
  const sizes: number[] = [];
  /** Whether each read is cut short by its limit (then the file's size is not checked). */
  const cut: boolean[] = [];
  let total = 0;
  req.files.forEach((file, i) => {
    try {
      const fd = openSync(file, 'r');
      fds.push(fd);
      let size = req.sizes[i]!;
      if (size < 0) {
        try {
          size = fstatSync(fd).size;
        } catch (err) {
          closeSync(fd);
          fds[i] = failure(err);
          size = 0;
        }
      }
      const limit = req.limits[i]!;
      cut.push(limit >= 0 && limit < size);
      if (limit >= 0 && limit < size) size = limit;
      sizes.push(size);
      // One byte more than the size, to see a file that is not the size its name claims.
      if ((req.into?.[i] ?? -1) < 0) total += size + 1;
    } catch (err) {
      fds.push((err as NodeJS.ErrnoException).code === 'ENOENT' ? null : failure(err));
      sizes.push(0);
      cut.push(false);
    }
  });
  const data = new Uint8Array(new ArrayBuffer(total));
  const arena = req.arena ? new Uint8Array(req.arena) : undefined;
  const results: BlobReadResult[] = [];
  let at = 0;
  fds.forEach((fd, i) => {
    if (typeof fd !== 'number') return results.push(fd);
    const size = sizes[i]!;
    const lentAt = req.into?.[i] ?? -1;
    const [into, from] = lentAt >= 0 && arena ? [arena, lentAt] : [data, at];
    try {
      const n = readAll(fd, into, from, cut[i] ? size : size + 1);
      if (n === size) results.push([from, n]);
      else results.push(failure(sizeError()));
    } catch (err) {
      results.push(failure(err));
    } finally {
      closeSync(fd);
    }
    if (into === data) at += size + 1;
  });
  return { reply: { id: req.id, data: data.buffer, results }, transfer: [data.buffer] };
}

parentPort!.on('message', (req: BlobReadRequest) => {
  let out: { reply: BlobReadReply; transfer: ArrayBuffer[] };
  try {
    out = readBatch(req);
  } catch (err) {
    const why = failure(err);
    out = { reply: { id: req.id, data: new ArrayBuffer(0), results: req.files.map(() => why) }, transfer: [] };
  }
  parentPort!.postMessage(out.reply, out.transfer);
});
