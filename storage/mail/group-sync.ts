// Group commit's second half: the fsyncs that make committed appends durable
// (their directories after the renames, and the index's WAL), shared by
// every batch that commits while a round of them is running. One round runs
// at a time; batches committed meanwhile wait and are synced together by the
// next round, which starts only after they committed. So under load a round
// covers many batches (with 8 sessions, most deliveries share the WAL and
// directory fsyncs instead of paying their own), and alone a batch is synced
// at once, without waiting for a timer.
//
// What a caller is told: resolved only when a round that began after its
// request has finished (so after its commit); rejected when that round fails.

/** fsyncs these directories and the index's WAL (the blob store's writer threads; injectable for tests). */
export type SyncPaths = (dirs: string[]) => Promise<unknown>;

interface Round {
  dirs: Set<string>;
  done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

export class GroupSync {
  private running = false;
  /** Requests made while a round runs: the next round's. */
  private next: Round | undefined;
  /** Rounds run, for tests and benches. */
  rounds = 0;

  constructor(private readonly syncPaths: SyncPaths) {}

  /** Durable once it resolves: the directories and the WAL were fsynced after this call. */
  sync(dirs: Iterable<string>): Promise<void> {
    const round = (this.next ??= newRound());
    for (const d of dirs) round.dirs.add(d);
    if (!this.running) this.start();
    return round.done;
  }

  /** True while a round runs or waits to. */
  get busy(): boolean {
    return this.running || this.next !== undefined;
  }

  private start(): void {
    const round = this.next;
    if (!round) return;
    this.next = undefined;
    this.running = true;
    this.rounds++;
    let result: Promise<unknown>;
    try {
      result = this.syncPaths([...round.dirs]);
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      () => this.finish(round, undefined),
      (err: unknown) => this.finish(round, err ?? new Error('sync failed')),
    );
  }

  private finish(round: Round, err: unknown): void {
    this.running = false;
    if (err === undefined) round.resolve();
    else round.reject(err);
    this.start();
  }
}

function newRound(): Round {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A round nobody waits on any more (its callers gave up) must not crash the process.
  done.catch(() => {});
  return { dirs: new Set(), done, resolve, reject };
}
