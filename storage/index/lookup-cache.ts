// Read caches over the SQLite index that need no one to tell them of each
// change. Every message asks the same few questions several times (is the
// domain local, which account, which mailbox, which script), and each SQLite
// read costs two lock syscalls. A cache starts over when the index changes:
// through this connection (the writer goes through changingIndex), or through
// another one (the CLI, `postino deliver`), which SQLite's data_version shows
// and which is checked once per event-loop turn.
import type { IndexDb, Statement } from './database.js';

interface VersionWatch {
  dataVersion: Statement;
  /** Bumped by every change seen; caches compare it with the one they were filled at. */
  epoch: number;
  seenDataVersion: number | undefined;
  checkedThisTurn: boolean;
}

const watches = new WeakMap<IndexDb, VersionWatch>();

function watchOf(db: IndexDb): VersionWatch {
  let w = watches.get(db);
  if (!w) {
    w = { dataVersion: db.prepare('PRAGMA data_version').pluck(), epoch: 0, seenDataVersion: undefined, checkedThisTurn: false };
    watches.set(db, w);
  }
  return w;
}

/** Says that something cached may have changed through this connection: every LookupCache on `db` starts over. */
export function indexChanged(db: IndexDb): void {
  watchOf(db).epoch++;
}

/** Runs a change to the index; whatever it did (or undid, when it throws) is no longer cached. */
export function changingIndex<T>(db: IndexDb, fn: () => T): T {
  try {
    return fn();
  } finally {
    indexChanged(db);
  }
}

function currentEpoch(db: IndexDb): number {
  const w = watchOf(db);
  if (!w.checkedThisTurn) {
    w.checkedThisTurn = true;
    setImmediate(() => (w.checkedThisTurn = false)).unref();
    const v = w.dataVersion.get() as number;
    if (v !== w.seenDataVersion) {
      w.seenDataVersion = v;
      w.epoch++;
    }
  }
  return w.epoch;
}

/** Values looked up in the index, kept (frozen) until it changes; past `max` entries it starts over. */
export class LookupCache {
  private readonly entries = new Map<string, unknown>();
  private epoch = -1;

  constructor(
    private readonly db: IndexDb,
    private readonly max = 10_000,
  ) {}

  get<T>(key: string, load: () => T): T {
    const epoch = currentEpoch(this.db);
    if (epoch !== this.epoch) {
      this.entries.clear();
      this.epoch = epoch;
    }
    if (this.entries.has(key)) return this.entries.get(key) as T;
    const value = load();
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(key, typeof value === 'object' && value !== null ? Object.freeze(value) : value);
    return value;
  }
}
