// Group commit's fsyncs, shared by the appends of the moment. One round runs
// at a time; requests made meanwhile wait and are synced together by the next
// round, which starts only after they were made. So under load a round covers
// many messages, and alone a request is synced at once, without a timer.
// The append batcher keeps two: the bodies written to tmp/ (fdatasynced
// before they are named), and, after each commit, the directories the
// renames touched and the index's WAL.
//
// What a caller is told: resolved only when a round that began after its
// request has finished; rejected when that round fails.

/** fsyncs a round's paths (in the blob store's writer threads; injectable for tests). */
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

  /** Resolves once a round begun after this call, with these paths in it, has finished. */
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
