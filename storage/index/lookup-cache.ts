// Read caches over the SQLite index that need no one to tell them of each
// change. Every message asks the same few questions several times (is the
// domain local, which account, which mailbox, which script), and each SQLite
// read costs two lock syscalls. A cache starts over when the index changes:
// through this connection (the writer goes through changingIndex), or through
// another one (the CLI, `postino deliver`), which SQLite's data_version shows
// and which is looked at most once per RECHECK_MS: that first look after
// other work costs some 11 µs (SQLite's code and pages out of the CPU's
// caches), and a busy server asked it on every turn of its event loop,
// dozens of times per message. Another process's change is seen within
// RECHECK_MS of its commit (it used to be at the next turn, and a turn of a
// busy server can take as long).
import type { IndexDb, Statement } from './database.js';

/** How long a look at data_version holds (ms). */
const RECHECK_MS = 1;

interface VersionWatch {
  dataVersion: Statement;
  /** Bumped by every change seen; caches compare it with the one they were filled at. */
  epoch: number;
  seenDataVersion: number | undefined;
  /** performance.now() of the last look at data_version. */
  checkedAt: number;
}

const watches = new WeakMap<IndexDb, VersionWatch>();

function watchOf(db: IndexDb): VersionWatch {
  let w = watches.get(db);
  if (!w) {
    w = { dataVersion: db.prepare('PRAGMA data_version').pluck(), epoch: 0, seenDataVersion: undefined, checkedAt: -Infinity };
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
  const now = performance.now();
  if (now - w.checkedAt >= RECHECK_MS) {
    w.checkedAt = now;
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
