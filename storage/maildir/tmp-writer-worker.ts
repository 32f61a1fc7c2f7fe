// A thread that writes new messages into tmp/: create, write, set the mtime,
// fdatasync, close, as one job; it fsyncs a path (a directory after renames,
// the WAL after a commit) as one job: open, fsync, close; and it reads a
// batch of message files as one job. Done with the libuv pool instead, each
// of those steps is a hand-off to a pool thread and back to the event loop,
// and on two cores the context switches cost more than the I/O.
import { parentPort } from 'node:worker_threads';
import { closeSync, fdatasyncSync, fstatSync, futimesSync, openSync, readSync, writeSync } from 'node:fs';
import { fsyncPath, removeQuietly } from './files.js';

export type TmpWriteRequest =
  | {
      id: number;
      kind: 'write';
      tmpPath: string;
      data: Uint8Array;
      /** ms since the epoch, or undefined to keep "now" */
      mtime: number | undefined;
    }
  | { id: number; kind: 'sync'; path: string; allowMissing: boolean }
  | { id: number; kind: 'read'; paths: string[] };

/** A read file's bytes, null when there is no such file, or why it could not be read. */
export type ReadResult = Uint8Array | null | { message: string; code?: string };

export type TmpWriteReply = { id: number; error?: { message: string; code?: string }; read?: ReadResult[] };

/** Each file whole, in a buffer of its own (moved to the main thread, not copied). */
function read(paths: string[]): { results: ReadResult[]; transfer: ArrayBuffer[] } {
  const results: ReadResult[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const p of paths) {
    let fd: number;
    try {
      fd = openSync(p, 'r');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      results.push(e.code === 'ENOENT' ? null : { message: e.message, ...(e.code ? { code: e.code } : {}) });
      continue;
    }
    try {
      const size = fstatSync(fd).size;
      const data = new Uint8Array(new ArrayBuffer(size));
      let off = 0;
      while (off < size) {
        const n = readSync(fd, data, off, size - off, off);
        if (n === 0) break;
        off += n;
      }
      const whole = off === size ? data : data.slice(0, off);
      results.push(whole);
      transfer.push(whole.buffer as ArrayBuffer);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      results.push({ message: e.message, ...(e.code ? { code: e.code } : {}) });
    } finally {
      closeSync(fd);
    }
  }
  return { results, transfer };
}

function write(req: Extract<TmpWriteRequest, { kind: 'write' }>): void {
  const fd = openSync(req.tmpPath, 'wx', 0o600);
  try {
    let off = 0;
    while (off < req.data.length) off += writeSync(fd, req.data, off, req.data.length - off);
    if (req.mtime !== undefined) futimesSync(fd, req.mtime / 1000, req.mtime / 1000);
    fdatasyncSync(fd);
  } catch (err) {
    closeSync(fd);
    removeQuietly(req.tmpPath);
    throw err;
  }
  closeSync(fd);
}

function sync(req: Extract<TmpWriteRequest, { kind: 'sync' }>): void {
  try {
    fsyncPath(req.path);
  } catch (err) {
    if (!(req.allowMissing && (err as NodeJS.ErrnoException).code === 'ENOENT')) throw err;
  }
}

parentPort!.on('message', (req: TmpWriteRequest) => {
  if (req.kind === 'read') {
    const { results, transfer } = read(req.paths);
    parentPort!.postMessage({ id: req.id, read: results } satisfies TmpWriteReply, transfer);
    return;
  }
  let reply: TmpWriteReply;
  try {
    if (req.kind === 'write') write(req);
    else sync(req);
    reply = { id: req.id };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    reply = { id: req.id, error: { message: e.message, ...(e.code ? { code: e.code } : {}) } };
  }
  parentPort!.postMessage(reply);
});
