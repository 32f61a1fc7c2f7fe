// A few threads that write message files into tmp/ and fsync directories and
// the WAL (see tmp-writer-worker.ts). Several run at once so that their
// fsyncs overlap; each request goes to the thread with the fewest in hand.
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { uniqueBaseName } from './names.js';
import type { TmpFile } from './files.js';
import type { TmpWriteReply, TmpWriteRequest } from './tmp-writer-worker.js';

/** A message to write into tmp/ (its mtime the internal date, when given). */
export interface TmpWrite {
  tmpPath: string;
  data: Uint8Array;
  mtime: number | undefined;
}

/** Posting a view clones its whole ArrayBuffer (a pooled Buffer's 8 KB or more): send exactly the message's bytes. */
function exactBytes(raw: Uint8Array): Uint8Array {
  return raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength ? raw : new Uint8Array(raw);
}

interface Lane {
  worker: Worker;
  busy: number;
}

export class TmpWriterPool {
  private readonly lanes: Lane[] = [];
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void; lane: Lane }>();
  private nextId = 1;

  constructor(private readonly size: number) {}

  private lane(): Lane {
    let best: Lane | undefined;
    for (const l of this.lanes) if (!best || l.busy < best.busy) best = l;
    if (best && (best.busy === 0 || this.lanes.length >= this.size)) return best;
    const worker = new Worker(new URL('./tmp-writer-worker.js', import.meta.url));
    worker.unref();
    const lane: Lane = { worker, busy: 0 };
    worker.on('message', (reply: TmpWriteReply) => this.settle(reply));
    worker.on('error', (err) => this.fail(lane, err));
    worker.on('exit', () => this.fail(lane, new Error('tmp writer thread exited')));
    this.lanes.push(lane);
    return lane;
  }

  private settle(reply: TmpWriteReply): void {
    const w = this.waiting.get(reply.id);
    if (!w) return;
    this.waiting.delete(reply.id);
    if (--w.lane.busy === 0) w.lane.worker.unref();
    if (!reply.error) return w.resolve();
    const err = new Error(reply.error.message) as NodeJS.ErrnoException;
    if (reply.error.code) err.code = reply.error.code;
    w.reject(err);
  }

  private fail(lane: Lane, err: Error): void {
    const i = this.lanes.indexOf(lane);
    if (i >= 0) this.lanes.splice(i, 1);
    for (const [id, w] of this.waiting) {
      if (w.lane !== lane) continue;
      this.waiting.delete(id);
      w.reject(err);
    }
  }

  /** Writes the message to tmp/ and fsyncs it; its mtime is the internal date when one is given. */
  async write(maildir: string, raw: Buffer, internalDate: number | undefined): Promise<TmpFile> {
    const base = uniqueBaseName();
    const tmpPath = path.join(maildir, 'tmp', base);
    await this.run({ id: 0, kind: 'write', tmpPath, data: exactBytes(raw), mtime: internalDate });
    return { base, tmpPath };
  }

  /**
   * Writes several messages to tmp/ and fdatasyncs them (see TmpWrite),
   * spread over the threads so that their syncs overlap (the disk serves
   * concurrent flushes together): one hand-off per thread, not per message.
   * Fails when any fails; a thread's files are then gone, the others' stay
   * for the caller to discard.
   */
  writeMany(files: TmpWrite[]): Promise<unknown> {
    const chunks = Math.min(this.size, files.length);
    const jobs: Array<Promise<void>> = [];
    for (let c = 0; c < chunks; c++) {
      const mine = files.filter((_, i) => i % chunks === c).map((f) => ({ tmpPath: f.tmpPath, data: exactBytes(f.data), mtime: f.mtime }));
      jobs.push(this.run({ id: 0, kind: 'write-many', files: mine }));
    }
    return Promise.all(jobs);
  }

  /** fsyncs a file or directory; with allowMissing, one that is not there is no error. */
  sync(target: string, allowMissing = false): Promise<void> {
    return this.run({ id: 0, kind: 'sync', path: target, allowMissing });
  }

  private run(req: TmpWriteRequest): Promise<void> {
    const lane = this.lane();
    req.id = this.nextId++;
    if (lane.busy++ === 0) lane.worker.ref();
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(req.id, { resolve, reject, lane });
      lane.worker.postMessage(req);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.lanes.splice(0).map((l) => l.worker.terminate()));
  }
}
