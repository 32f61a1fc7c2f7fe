// Bounded concurrency for scanners: at most `maxConcurrent` scans at once,
// at most `maxWaiting` messages waiting for a slot, each waiting no longer
// than its deadline. Whoever cannot get a slot hears 'busy' (the SMTP side
// answers 451): a client is never left hanging and the waiting line (each
// entry holding a message already in memory) never grows without bound.

export class ScanPool {
  private active = 0;
  private readonly waiting: Array<{ wake(): void }> = [];

  constructor(
    readonly maxConcurrent: number,
    readonly maxWaiting: number = maxConcurrent * 8,
  ) {}

  get inUse(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `task` in a slot, or answers 'busy' when none frees up by `waitUntil`. */
  async run<T>(waitUntil: number, task: () => Promise<T>): Promise<T | 'busy'> {
    if (!(await this.acquire(waitUntil))) return 'busy';
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private acquire(waitUntil: number): Promise<boolean> {
    if (this.active < this.maxConcurrent) {
      this.active++;
      return Promise.resolve(true);
    }
    if (this.waiting.length >= this.maxWaiting) return Promise.resolve(false);
    return new Promise((resolve) => {
      const entry = {
        wake: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(false);
      }, Math.max(0, waitUntil - Date.now()));
      this.waiting.push(entry);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next in line: `active` stays the same.
    if (next) next.wake();
    else this.active--;
  }
}
