// Open sessions per destination (a smarthost, or one MX host's address and
// port): an idle session is reused for the next message to the same place
// (after an RSET that shows it still works), at most `maxPerDestination` are
// open at once to one destination (more senders wait their turn), and an
// idle session is closed after `idleMs`.

export interface PooledSession {
  readonly alive: boolean;
  /** Messages carried so far. */
  readonly messages: number;
  /** Ends a half-done transaction and proves the session answers; rejects when it does not. */
  reset(): Promise<void>;
  close(): void;
}

export interface DestinationPoolOptions {
  maxPerDestination: number;
  /** An idle session is closed after this long (ms). */
  idleMs: number;
  /** A session is closed after carrying this many messages. */
  maxMessagesPerSession: number;
  /** A sender waits at most this long for a free slot (ms). */
  waitMs: number;
}

interface Slot<S> {
  open: number;
  idle: Array<{ session: S; timer: NodeJS.Timeout }>;
  waiters: Array<() => void>;
}

export class PoolClosedError extends Error {
  readonly code = 'ECONNECTION';
  constructor() {
    super('the transport is closed');
  }
}

export class DestinationPool<S extends PooledSession> {
  private readonly slots = new Map<string, Slot<S>>();
  private closed = false;

  constructor(private readonly options: DestinationPoolOptions) {}

  private slot(key: string): Slot<S> {
    let s = this.slots.get(key);
    if (!s) {
      s = { open: 0, idle: [], waiters: [] };
      this.slots.set(key, s);
    }
    return s;
  }

  /** Sessions open to a destination now (idle or busy). */
  openCount(key: string): number {
    return this.slots.get(key)?.open ?? 0;
  }

  /**
   * A working session to `key`: an idle one that answers RSET, else a new one
   * from `open` when under the limit, else the next one released. `open`'s
   * failure is passed on (the slot is freed first).
   */
  async acquire(key: string, open: () => Promise<S>): Promise<{ session: S; reused: boolean }> {
    const deadline = Date.now() + this.options.waitMs;
    for (;;) {
      if (this.closed) throw new PoolClosedError();
      const slot = this.slot(key);
      const idle = slot.idle.pop();
      if (idle) {
        clearTimeout(idle.timer);
        if (idle.session.alive) {
          try {
            await idle.session.reset();
            return { session: idle.session, reused: true };
          } catch {
            // it went away while idle: drop it and look again
          }
        }
        this.retire(key, idle.session);
        continue;
      }
      if (slot.open < this.options.maxPerDestination) {
        slot.open++;
        try {
          return { session: await open(), reused: false };
        } catch (err) {
          slot.open--;
          this.wakeOne(slot);
          this.forgetIfUnused(key);
          throw err;
        }
      }
      await this.waitForTurn(slot, deadline);
    }
  }

  private waitForTurn(slot: Slot<S>, deadline: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const remaining = deadline - Date.now();
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const i = slot.waiters.indexOf(wake);
        if (i >= 0) slot.waiters.splice(i, 1);
        const err = new Error('no free connection to the destination in time') as Error & { code: string };
        err.code = 'ETIMEDOUT';
        reject(err);
      }, Math.max(remaining, 0));
      slot.waiters.push(wake);
    });
  }

  private wakeOne(slot: Slot<S>): void {
    slot.waiters.shift()?.();
  }

  /** Gives a session back: kept for reuse when it is healthy, closed otherwise. */
  release(key: string, session: S, reusable: boolean): void {
    const slot = this.slot(key);
    if (this.closed || !reusable || !session.alive || session.messages >= this.options.maxMessagesPerSession) {
      this.retire(key, session);
      return;
    }
    const timer = setTimeout(() => {
      const i = slot.idle.findIndex((e) => e.session === session);
      if (i >= 0) slot.idle.splice(i, 1);
      this.retire(key, session);
    }, this.options.idleMs);
    timer.unref();
    slot.idle.push({ session, timer });
    this.wakeOne(slot);
  }

  private retire(key: string, session: S): void {
    session.close();
    const slot = this.slots.get(key);
    if (!slot) return;
    slot.open = Math.max(0, slot.open - 1);
    this.wakeOne(slot);
    this.forgetIfUnused(key);
  }

  private forgetIfUnused(key: string): void {
    const slot = this.slots.get(key);
    if (slot && slot.open === 0 && slot.idle.length === 0 && slot.waiters.length === 0) this.slots.delete(key);
  }

  /** Closes idle sessions; busy ones close when released. Waiters fail. */
  close(): void {
    this.closed = true;
    for (const [key, slot] of [...this.slots]) {
      for (const { session, timer } of slot.idle.splice(0)) {
        clearTimeout(timer);
        this.retire(key, session);
      }
      for (const wake of slot.waiters.splice(0)) wake();
    }
  }
}
