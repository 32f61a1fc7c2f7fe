// Reads of message files in batches: the reads asked for in one turn of the
// event loop (a FETCH's or a SEARCH's read-ahead asks for dozens at once)
// go to a reader thread together (blob-reader-worker.ts), up to BATCH_FILES
// files or BATCH_BYTES bytes per hand-off, and come back in one buffer. Two
// threads at most, apart from the writer threads so that a read never waits
// behind an fsync.
//
// Small files are read on the event loop itself, while that stays cheap: a
// hand-off costs more than reading a few KB from the page cache (and on a
// busy machine the thread woken for it takes the event loop's core), which
// made FETCH and SEARCH BODY slower than the synchronous reads before the
// threads (bench/imap-read.ts). Bounded: only files of at most
// LOOP_MAX_BYTES, at most LOOP_TURN_MS of them per turn (the rest go to the
// threads), and none for LOOP_PAUSE_MS after one read took LOOP_SLOW_MS (the
// page cache did not have it: the disk is not waited for on the event loop).
// Both times are the event loop thread's own where Linux tells them
// (thread-clock.ts): CPU time for the turn's budget, time blocked for a slow
// read; time another process had the core counts for neither.
import { Worker } from 'node:worker_threads';
import type { BlobReadReply, BlobReadRequest } from './blob-reader-worker.js';
import type { LentBytes } from '../ports.js';
import { readKnownSize, readKnownSizeInto } from './blob-read.js';
import { threadTimes, type ThreadTimes } from './thread-clock.js';
import { ReadArena, type ArenaRegion } from './read-arena.js';

/** Files per hand-off to a reader thread. */
const BATCH_FILES = 128;
/** Bytes per hand-off (one file always goes); a body kept by a caller keeps its batch's buffer alive, so not more. */
const BATCH_BYTES = 512 * 1024;
const THREADS = 2;
/** Largest read made on the event loop. */
const LOOP_MAX_BYTES = 64 * 1024;
/** The arena of lent reads (read-arena.ts): a few downloads' read-ahead. */
const ARENA_BYTES = 8 * 1024 * 1024;
/** Lent reads bigger than this read the ordinary way (a lent region holds up the ones after it). */
const LENT_MAX_BYTES = 64 * 1024;
/** Time spent reading on the event loop per turn at most. */
const LOOP_TURN_MS = 2;
/** A read on the event loop that takes this long came from the disk ... */
const LOOP_SLOW_MS = 20;
/** ... and then reads go to the threads only, for this long. */
const LOOP_PAUSE_MS = 1000;

/** CPU time (ms) this thread ran since `then`. */
function ranMsSince(then: ThreadTimes): number {
  const now = threadTimes();
  return now === undefined ? Infinity : (now.ranNs - then.ranNs) / 1e6;
}

/**
 * Time (ms) this thread neither ran nor waited for a CPU between `then`
 * (taken at `startMs`) and `nowMs`: blocked, on the disk. A read that took
 * long because another process had the core is no sign of a cold cache.
 */
function blockedMsSince(then: ThreadTimes, startMs: number, nowMs: number): number {
  const now = threadTimes();
  if (now === undefined) return nowMs - startMs;
  return nowMs - startMs - (now.ranNs - then.ranNs + now.waitedNs - then.waitedNs) / 1e6;
}

/**
 * What a read gives: the bytes, undefined when there is no such file, or an
 * error (ESIZE: not the size its name says). A lent read goes into its
 * region of the arena.
 */
type Pending =
  | { file: string; size: number; limit: number; region?: undefined; group?: undefined; resolve(raw: Buffer | undefined): void; reject(err: unknown): void }
  | { file: string; size: number; limit: -1; region: ArenaRegion | undefined; group: ReadGroup; index: number };

/** What each read of a readManyLent gives: its bytes, undefined (no such file), or its error. */
export type LentRead = LentBytes | undefined | Error;

/**
 * The reads of one readManyLent: one promise for all of them, not one per
 * file (a download asks for dozens at a time, and a promise with its
 * callbacks per file cost the event loop about as much as the read).
 */
class ReadGroup {
  readonly results: LentRead[];
  private left: number;
  constructor(
    n: number,
    private readonly resolve: (results: LentRead[]) => void,
  ) {
    this.results = new Array<LentRead>(n);
    this.left = n;
    if (n === 0) resolve(this.results);
  }
  settle(index: number, result: LentRead): void {
    this.results[index] = result;
    if (--this.left === 0) this.resolve(this.results);
  }
}

/** Bytes of the caller's own: nothing to give back. */
export function ownedBytes(bytes: Buffer): LentBytes {
  return { bytes, release() {} };
}

/** A read's own bytes as lent ones that need no giving back; undefined stays undefined (no such file). */
export function ownedIfAny(raw: Buffer | undefined): LentBytes | undefined {
  return raw === undefined ? undefined : ownedBytes(raw);
}

/** Bytes in a region of the arena, given back by release() (twice is harmless: see ReadArena.giveBack). */
class LentRegion implements LentBytes {
  constructor(
    readonly bytes: Buffer,
    private readonly arena: ReadArena,
    private readonly region: ArenaRegion,
  ) {}
  release(): void {
    this.arena.giveBack(this.region);
  }
}

interface Lane {
  worker: Worker;
  busy: number;
}

export class BlobReaderPool {
  private readonly lanes: Lane[] = [];
  private readonly waiting = new Map<number, { batch: Pending[]; lane: Lane }>();
  private queue: Pending[] = [];
  private scheduled = false;
  private nextId = 1;
  /** No reads on the event loop before this time (performance.now()). */
  private loopPausedUntil = 0;
  private readonly loopMaxBytes: number;
  private arena: ReadArena | undefined;

  /** loopMaxBytes: the largest read made on the event loop (0: none, every read goes to a thread). */
  constructor(options: { loopMaxBytes?: number } = {}) {
    this.loopMaxBytes = options.loopMaxBytes ?? LOOP_MAX_BYTES;
  }

  /**
   * Starts the reader threads now rather than at the first read: a thread
   * takes some 50 ms to start, which the first FETCH of a server would wait.
   */
  start(): void {
    while (this.lanes.length < THREADS) this.spawn();
  }

  /** The file's bytes (with `maxBytes`, its first maxBytes); `size` is what its name says (-1: unknown). */
  read(file: string, size: number, maxBytes?: number): Promise<Buffer | undefined> {
    return new Promise((resolve, reject) => this.enqueue({ file, size, limit: maxBytes ?? -1, resolve, reject }));
  }

  /**
   * Whole files (`sizes`: what their names say), each in memory lent from
   * the arena, for a caller that copies them out and gives each back soon
   * (release); in memory of its own when the arena is full, or the size is
   * unknown (-1) or too big to lend. All in one promise: for each file, in
   * order, its bytes, undefined when there is no such file, or the error its
   * read met (ESIZE: not the size its name says). A region is given back by
   * the reader on a miss or an error, so it is never written after it was
   * given back.
   */
  readManyLent(files: readonly string[], sizes: readonly number[]): Promise<LentRead[]> {
    return new Promise((resolve) => {
      const group = new ReadGroup(files.length, resolve);
      for (let index = 0; index < files.length; index++) {
        const size = sizes[index]!;
        const arena = size >= 0 && size <= LENT_MAX_BYTES ? (this.arena ??= new ReadArena(ARENA_BYTES)) : undefined;
        this.enqueue({ file: files[index]!, size, limit: -1, region: arena?.lend(size + 1), group, index });
      }
    });
  }

  /** A read is done: its bytes (undefined: no such file), lent in its region for a lent read, whose region goes back on a miss. */
  private deliver(p: Pending, raw: Buffer | undefined): void {
    if (!p.group) return p.resolve(raw);
    if (raw === undefined) {
      if (p.region) this.arena!.giveBack(p.region);
      return p.group.settle(p.index, undefined);
    }
    p.group.settle(p.index, p.region ? new LentRegion(raw, this.arena!, p.region) : ownedBytes(raw));
  }

  /** A read failed; a lent read's region goes back (nothing reads into it any more). */
  private failRead(p: Pending, err: unknown): void {
    if (p.region) this.arena!.giveBack(p.region);
    if (p.group) p.group.settle(p.index, err instanceof Error ? err : new Error(String(err)));
    else p.reject(err);
  }

  private enqueue(p: Pending): void {
    this.queue.push(p);
    if (this.scheduled) return;
    this.scheduled = true;
    // After the current turn's reads have all been asked for.
    setImmediate(() => this.send());
  }

  private send(): void {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    let batch: Pending[] = [];
    let bytes = 0;
    for (const p of this.readOnLoop(queue)) {
      const b = p.limit >= 0 && p.limit < p.size ? p.limit : Math.max(p.size, 0);
      if (batch.length > 0 && (batch.length >= BATCH_FILES || bytes + b > BATCH_BYTES)) {
        this.post(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(p);
      bytes += b;
    }
    if (batch.length > 0) this.post(batch);
  }

  /**
   * Reads the queue's small files here (see the top of this file), within
   * this turn's time; returns the others, for the threads.
   */
  private readOnLoop(queue: Pending[]): Pending[] {
    const start = performance.now();
    if (this.loopMaxBytes <= 0 || start < this.loopPausedUntil) return queue;
    // The budget is this thread's CPU time, not the wall clock's (see thread-clock.ts): the
    // wall clock is looked at first (cheap), the thread's clock only once it says the budget is
    // spent. One file alone cannot spend it: its turn's clock is not asked for.
    const clock = queue.length > 1 ? threadTimes() : undefined;
    let deadline = start + LOOP_TURN_MS;
    let spent = false;
    const rest: Pending[] = [];
    for (const p of queue) {
      const bytes = p.limit >= 0 && p.limit < p.size ? p.limit : p.size;
      if (p.size < 0 || bytes > this.loopMaxBytes || spent) {
        rest.push(p);
        continue;
      }
      const t0 = performance.now();
      if (t0 >= deadline) {
        const ran = clock === undefined ? t0 - start : ranMsSince(clock);
        if (ran >= LOOP_TURN_MS) {
          spent = true;
          rest.push(p);
          continue;
        }
        deadline = t0 + (LOOP_TURN_MS - ran);
      }
      try {
        if (p.region) this.deliver(p, readKnownSizeInto(p.file, p.size, this.arena!.bytes, p.region.start) ? this.arena!.view(p.region, p.size) : undefined);
        else this.deliver(p, readKnownSize(p.file, p.size, p.limit));
      } catch (err) {
        this.failRead(p, err);
      }
      const t1 = performance.now();
      if (t1 - t0 >= LOOP_SLOW_MS && (clock === undefined || blockedMsSince(clock, start, t1) >= LOOP_SLOW_MS)) {
        this.loopPausedUntil = t1 + LOOP_PAUSE_MS;
        spent = true;
      }
    }
    return rest;
  }

  private lane(): Lane {
    let best: Lane | undefined;
    for (const l of this.lanes) if (!best || l.busy < best.busy) best = l;
    if (best && (best.busy === 0 || this.lanes.length >= THREADS)) return best;
    return this.spawn();
  }

  private spawn(): Lane {
    const worker = new Worker(new URL('./blob-reader-worker.js', import.meta.url));
    worker.unref();
    const lane: Lane = { worker, busy: 0 };
    worker.on('message', (reply: BlobReadReply) => this.settle(reply));
    worker.on('error', (err) => this.fail(lane, err));
    worker.on('exit', () => this.fail(lane, new Error('blob reader thread exited')));
    this.lanes.push(lane);
    return lane;
  }

  private post(batch: Pending[]): void {
    const lane = this.lane();
    const id = this.nextId++;
    if (lane.busy++ === 0) lane.worker.ref();
    this.waiting.set(id, { batch, lane });
    const req: BlobReadRequest = { id, files: batch.map((p) => p.file), sizes: batch.map((p) => p.size), limits: batch.map((p) => p.limit) };
    if (batch.some((p) => p.region)) {
      req.into = batch.map((p) => p.region?.start ?? -1);
      req.arena = this.arena!.memory;
    }
    lane.worker.postMessage(req);
  }

  private settle(reply: BlobReadReply): void {
    const w = this.waiting.get(reply.id);
    if (!w) return;
    this.waiting.delete(reply.id);
    if (--w.lane.busy === 0) w.lane.worker.unref();
    w.batch.forEach((p, i) => {
      const r = reply.results[i];
      if (r === null) this.deliver(p, undefined);
      else if (Array.isArray(r)) this.deliver(p, p.region ? this.arena!.view(p.region, r[1]) : Buffer.from(reply.data, r[0], r[1]));
      else {
        const err = new Error(r?.message ?? 'no answer from the reader thread') as NodeJS.ErrnoException;
        if (r?.code) err.code = r.code;
        this.failRead(p, err);
      }
    });
  }

  private fail(lane: Lane, err: Error): void {
    const i = this.lanes.indexOf(lane);
    if (i >= 0) this.lanes.splice(i, 1);
    for (const [id, w] of this.waiting) {
      if (w.lane !== lane) continue;
      this.waiting.delete(id);
      for (const p of w.batch) this.failRead(p, err);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.lanes.splice(0).map((l) => l.worker.terminate()));
  }
}
