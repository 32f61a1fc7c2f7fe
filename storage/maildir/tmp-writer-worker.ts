// A thread that writes new messages into tmp/: create, write, set the mtime,
// fdatasync, close, as one job; it fsyncs a path (a directory after
// renames, the WAL after a commit) as one job: open, fsync, close; and it
// writes several messages, then fdatasyncs them, as one job. Done with
// the libuv pool instead, each of those steps is a hand-off to a pool thread
// and back to the event loop, and on two cores the context switches cost
// more than the writes.
import { parentPort } from 'node:worker_threads';
import { fsyncPath, writeTmpFile, writeTmpFiles } from './files.js';

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
  | { id: number; kind: 'write-many'; files: Array<{ tmpPath: string; data: Uint8Array; mtime: number | undefined }> };

export type TmpWriteReply = { id: number; error?: { message: string; code?: string } };

function write(req: Extract<TmpWriteRequest, { kind: 'write' }>): void {
  writeTmpFile(req.tmpPath, req.data, req.mtime, true);
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
    else if (req.kind === 'write-many') writeTmpFiles(req.files);
    else sync(req);
    reply = { id: req.id };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    reply = { id: req.id, error: { message: e.message, ...(e.code ? { code: e.code } : {}) } };
  }
  parentPort!.postMessage(reply);
});
