// A thread that writes new messages into tmp/: create, write, set the mtime,
// fdatasync, close, as one job; and it fsyncs a path (a directory after
// renames, the WAL after a commit) as one job: open, fsync, close. Done with
// the libuv pool instead, each of those steps is a hand-off to a pool thread
// and back to the event loop, and on two cores the context switches cost
// more than the writes.
import { parentPort } from 'node:worker_threads';
import { closeSync, fdatasyncSync, futimesSync, openSync, writeSync } from 'node:fs';
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
  | { id: number; kind: 'sync'; path: string; allowMissing: boolean };

export type TmpWriteReply = { id: number; error?: { message: string; code?: string } };

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
