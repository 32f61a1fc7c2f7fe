// Group commit's fsyncs, shared by the appends of the moment. One round runs
// at a time (or a few: `parallel`); requests made while no more may start
// wait and are synced together by the next round, which starts only after
// they were made. So under load a round covers many messages, and alone a
// request is synced at once, without a timer.
// The append batcher keeps two: the bodies to write into tmp/ and fdatasync
// (before they are named), and, after each commit, the directories the
// renames touched and the index's WAL.
//
// What a caller is told: resolved only when a round that began after its
// request has finished; rejected when that round fails.

/** Does a round's work: fsyncs its paths (in the blob store's writer threads; injectable for tests). */
export type SyncPaths<T = string> = (items: T[]) => Promise<unknown>;

interface Round<T> {
  items: Set<T>;
  done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

export class GroupSync<T = string> {
  /** Rounds running now. */
  private running = 0;
  /** Requests made while a round runs: the next round's. */
  private next: Round<T> | undefined;
  /** Rounds run, for tests and benches. */
  rounds = 0;

  /** `parallel`: rounds that may run at once; requests wait for the next round only when that many run. */
  constructor(
    private readonly syncPaths: SyncPaths<T>,
    private readonly parallel = 1,
  ) {}

  /** Resolves once a round begun after this call, with these items in it (paths: once each), has finished. */
  sync(items: Iterable<T>): Promise<void> {
    const round = (this.next ??= newRound<T>());
    for (const d of items) round.items.add(d);
    if (this.running < this.parallel) this.start();
    return round.done;
  }

  /** True while a round runs or waits to. */
  get busy(): boolean {
    return this.running > 0 || this.next !== undefined;
  }

  private start(): void {
    const round = this.next;
    if (!round) return;
    this.next = undefined;
    this.running++;
    this.rounds++;
    let result: Promise<unknown>;
    try {
      result = this.syncPaths([...round.items]);
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      () => this.finish(round, undefined),
      (err: unknown) => this.finish(round, err ?? new Error('sync failed')),
    );
  }

  private finish(round: Round<T>, err: unknown): void {
    this.running--;
    if (err === undefined) round.resolve();
    else round.reject(err);
    this.start();
  }
}

function newRound<T>(): Round<T> {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A round nobody waits on any more (its callers gave up) must not crash the process.
  done.catch(() => {});
  return { items: new Set(), done, resolve, reject };
}
