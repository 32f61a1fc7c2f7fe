// A thread that writes new messages into tmp/: create, write, set the mtime,
// fdatasync, close, as one job. Done with the libuv pool instead, each of
// those steps is a hand-off to a pool thread and back to the event loop, and
// on two cores the context switches cost more than the writes.
import { parentPort } from 'node:worker_threads';
import { closeSync, fdatasyncSync, futimesSync, openSync, writeSync } from 'node:fs';
import { removeQuietly } from './files.js';

export interface TmpWriteRequest {
  id: number;
  tmpPath: string;
  data: Uint8Array;
  /** ms since the epoch, or undefined to keep "now" */
  mtime: number | undefined;
}

export type TmpWriteReply = { id: number; error?: { message: string; code?: string } };

function write(req: TmpWriteRequest): void {
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

parentPort!.on('message', (req: TmpWriteRequest) => {
  let reply: TmpWriteReply;
  try {
    write(req);
    reply = { id: req.id };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    reply = { id: req.id, error: { message: e.message, ...(e.code ? { code: e.code } : {}) } };
  }
  parentPort!.postMessage(reply);
});
