// A queue in PostgreSQL (the outbound one, or the local-retry one: `name`
// tells them apart in one table), as storage/queue.ts keeps one on disk:
// entries by id, listed oldest first, each with its message; holds and
// flush requests beside the entries, so a request from another process
// (the CLI) never rewrites an entry the runner is writing.
//
// An entry a unit of work enqueues is staged: written at once (on a
// connection of its own, not in the unit's transaction) but not published,
// so nobody lists it; the unit publishes it after its commit or discards it.
//
// Who works on an entry. The outbound queue is run by every node: each
// runner sees every entry (listIds) and, before an attempt, claims the
// entry: `SELECT ... FOR UPDATE SKIP LOCKED` picks it when no other live
// process holds it, and the same statement writes the lease (this node's
// name, this process's holder id, an expiry on the database's clock). The
// runner renews the lease while the attempt runs and gives it back after
// recording the outcome; a node that dies leaves its leases to run out, and
// then any node takes the entries again. The holder id is new at each
// start, so a restarted node waits for its old leases like everyone else.
// A queue made with a RunnerLease (the local-retry one, whose runner does
// not claim) is run by one node at a time instead: its runner's looks
// (listIds, flush and rescan requests) answer only on the node holding
// that lease (runner-lease.ts). list, get and the rest answer everywhere
// (the CLI, the admin API).
//
// The runner's feed (watch), as the file queue tells it: an entry made
// whole (enqueued, or published after its unit committed) and a hold
// change are told to the watchers in this process once committed, when
// this node runs the queue; else (no watcher here: the CLI, or another
// node holds the runner lease) a rescan request is left in queue_rescan,
// which a node that runs the queue takes on its next tick. An entry made on
// one node is told to that node's runner only; the others find it on
// their safety pass (they need it only when its node dies). A request lost
// with a crash costs only time: the runner's safety pass finds everything.
import type { QueueStore } from '../ports.js';
import type { EnqueueExtra, QueueEntry, QueueHead, QueueListener, RemoveOptions } from '../queue.js';
import { isEntryId, newEntry, tellWatchers } from '../queue.js';
import { MailError } from '../errors.js';
import { afterCommit } from '../unit-of-work.js';
import type { PgDatabase } from './db.js';
import type { RunnerLease } from './runner-lease.js';

/** Who takes entries here: this node's name (node.name) and this process's own id (new at each start). */
export interface LeaseHolder {
  node: string;
  holder: string;
}

function unknown(id: string): MailError {
  return new MailError('NONEXISTENT', `no such queue entry: ${id}`);
}

/** Staged entries older than this are what a crash between a unit's commit and its publish left. */
const ORPHAN_AGE_MS = 60 * 60 * 1000;

interface EntryRow {
  entry: QueueEntry;
  held: boolean;
  [k: string]: unknown;
}

function view(r: EntryRow): QueueEntry {
  const e = { ...r.entry };
  delete e.held;
  if (r.held) e.held = true;
  return e;
}

function stored(entry: QueueEntry): Omit<QueueEntry, 'held'> {
  const { held: _held, ...rest } = entry;
  return rest;
}

export class PgQueue implements QueueStore {
  private readonly listeners = new Set<QueueListener>();

  constructor(
    private readonly db: PgDatabase,
    private readonly name: string,
    private readonly me: LeaseHolder,
    /** Whether this node runs the queue now; without one, every node does (entry by entry, through claims). */
    private readonly lease?: RunnerLease,
  ) {}

  private async runsHere(): Promise<boolean> {
    return this.lease === undefined || (await this.lease.held());
  }

  async watch(listener: QueueListener): Promise<void> {
    this.listeners.add(listener);
  }

  async unwatch(listener: QueueListener): Promise<void> {
    this.listeners.delete(listener);
  }

  /** Whether another node or process changed the queue since the last call (and forgets it); only where the queues run. */
  async takeRescanRequest(): Promise<boolean> {
    if (!(await this.runsHere())) return false;
    return (await this.db.query('DELETE FROM queue_rescan WHERE queue = $1 RETURNING queue', [this.name])).length > 0;
  }

  /**
   * Tells the watchers here of committed changes (entries, or null for a
   * hold change) when this node runs the queues; else leaves the rescan
   * request for the node that does. Call once the change has committed.
   */
  private async announce(entries: Array<QueueEntry | null>): Promise<void> {
    if (this.listeners.size === 0 || !(await this.runsHere())) {
      await this.db.pool.query('INSERT INTO queue_rescan (queue) VALUES ($1) ON CONFLICT DO NOTHING', [this.name]).catch(() => undefined);
      return;
    }
    tellWatchers(this.listeners, entries);
  }

  /** announce, after the enclosing unit of work (if any) commits. */
  private announceAfterCommit(entries: Array<QueueEntry | null>): void {
    afterCommit(() => void this.announce(entries));
  }

  async enqueue(sender: string, recipients: string[], raw: Buffer, reason: string, extra: EnqueueExtra = {}): Promise<QueueEntry> {
    const entry = newEntry(sender, recipients, reason, extra);
    await this.db.query('INSERT INTO queue_entries (queue, id, created, entry, raw, published) VALUES ($1, $2, $3, $4, $5, true)', [
      this.name,
      entry.id,
      entry.created,
      JSON.stringify(entry),
      raw,
    ]);
    this.announceAfterCommit([entry]);
    return entry;
  }

  /** For a unit of work (storage/unit-of-work.ts): written now, outside the unit's transaction, listed once published. */
  async stage(sender: string, recipients: string[], raw: Buffer, reason: string, extra: EnqueueExtra = {}): Promise<QueueEntry> {
    const entry = newEntry(sender, recipients, reason, extra);
    await this.db.pool.query('INSERT INTO queue_entries (queue, id, created, entry, raw, published) VALUES ($1, $2, $3, $4, $5, false)', [
      this.name,
      entry.id,
      entry.created,
      JSON.stringify(entry),
      raw,
    ]);
    return entry;
  }

  async publish(entries: QueueEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.db.pool.query('UPDATE queue_entries SET published = true WHERE queue = $1 AND id = ANY ($2::text[])', [this.name, entries.map((e) => e.id)]);
    await this.announce(entries);
  }

  async discard(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.pool.query('DELETE FROM queue_entries WHERE queue = $1 AND id = ANY ($2::text[]) AND NOT published', [this.name, ids]);
  }

  /** The runner's look: empty on a node that does not run the queues now. */
  async listIds(): Promise<QueueHead[]> {
    if (!(await this.runsHere())) return [];
    return (await this.db.query<{ id: string; held: boolean }>('SELECT id, held FROM queue_entries WHERE queue = $1 AND published ORDER BY created, seq', [this.name])).map(
      (r) => ({ id: r.id, held: r.held }),
    );
  }

  async list(): Promise<QueueEntry[]> {
    return (await this.db.query<EntryRow>('SELECT entry, held FROM queue_entries WHERE queue = $1 AND published ORDER BY created, seq', [this.name])).map(view);
  }

  async get(id: string): Promise<QueueEntry | undefined> {
    if (!isEntryId(id)) return undefined;
    const row = await this.db.one<EntryRow>('SELECT entry, held FROM queue_entries WHERE queue = $1 AND id = $2 AND published', [this.name, id]);
    return row && view(row);
  }

  async message(id: string): Promise<Buffer> {
    const row = await this.db.one<{ raw: Buffer }>('SELECT raw FROM queue_entries WHERE queue = $1 AND id = $2 AND published', [this.name, id]);
    if (!row) throw unknown(id);
    return row.raw;
  }

  async update(entry: QueueEntry): Promise<void> {
    // An entry deleted meanwhile stays deleted.
    const rows = await this.db.query('UPDATE queue_entries SET entry = $3 WHERE queue = $1 AND id = $2 AND published RETURNING id', [
      this.name,
      entry.id,
      JSON.stringify(stored(entry)),
    ]);
    if (rows.length === 0) throw unknown(entry.id);
  }

  /** Committed when it resolves (`durable` changes nothing here: a commit is durable). */
  async remove(id: string, _options: RemoveOptions = {}): Promise<void> {
    const rows = await this.db.query('DELETE FROM queue_entries WHERE queue = $1 AND id = $2 AND published RETURNING id', [this.name, id]);
    if (rows.length === 0) throw unknown(id);
    await this.db.query('DELETE FROM queue_flush WHERE queue = $1 AND id = $2', [this.name, id]);
  }

  private async setHeld(id: string, held: boolean): Promise<void> {
    const rows = await this.db.query('UPDATE queue_entries SET held = $3 WHERE queue = $1 AND id = $2 AND published RETURNING id', [this.name, id, held]);
    if (rows.length === 0) throw unknown(id);
    this.announceAfterCommit([null]);
  }

  async hold(id: string): Promise<void> {
    await this.setHeld(id, true);
  }

  async release(id: string): Promise<void> {
    await this.setHeld(id, false);
  }

  async requestFlush(id?: string): Promise<void> {
    if (id !== undefined && !(await this.db.one('SELECT 1 FROM queue_entries WHERE queue = $1 AND id = $2 AND published', [this.name, id]))) throw unknown(id);
    await this.db.query('INSERT INTO queue_flush (queue, id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [this.name, id ?? '']);
    // A flush of one entry is found by a look at the whole queue.
    if (id !== undefined) this.announceAfterCommit([null]);
  }

  /** Left for the node that runs the queues. */
  async takeFlushRequest(): Promise<boolean> {
    if (!(await this.runsHere())) return false;
    return (await this.db.query("DELETE FROM queue_flush WHERE queue = $1 AND id = '' RETURNING id", [this.name])).length > 0;
  }

  async takeFlushedIds(): Promise<string[]> {
    if (!(await this.runsHere())) return [];
    const rows = await this.db.query<{ id: string }>("DELETE FROM queue_flush WHERE queue = $1 AND id <> '' RETURNING id", [this.name]);
    return rows.map((r) => r.id).sort();
  }

  /**
   * The entry as stored now, leased to this process; undefined when it is
   * gone, held, or leased by another process whose lease has not run out
   * (or that is writing the row now: SKIP LOCKED passes it by, no wait).
   */
  async claim(id: string, leaseMs: number): Promise<QueueEntry | undefined> {
    if (!isEntryId(id)) return undefined;
    const row = await this.db.one<EntryRow>(
      `UPDATE queue_entries q
          SET lease_node = $3, lease_holder = $4, lease_until = now() + make_interval(secs => $5)
         FROM (SELECT queue, id FROM queue_entries
                WHERE queue = $1 AND id = $2 AND published AND NOT held
                  AND (lease_until IS NULL OR lease_until < now() OR lease_holder = $4)
                  FOR UPDATE SKIP LOCKED) free
        WHERE q.queue = free.queue AND q.id = free.id
        RETURNING q.entry, q.held`,
      [this.name, id, this.me.node, this.me.holder, leaseMs / 1000],
    );
    return row && view(row);
  }

  async renewClaim(id: string, leaseMs: number): Promise<boolean> {
    const rows = await this.db.query(
      'UPDATE queue_entries SET lease_until = now() + make_interval(secs => $4) WHERE queue = $1 AND id = $2 AND lease_holder = $3 RETURNING id',
      [this.name, id, this.me.holder, leaseMs / 1000],
    );
    return rows.length > 0;
  }

  /** The lease ends; lease_node stays, naming the node that last took the entry. */
  async releaseClaim(id: string): Promise<void> {
    await this.db.query('UPDATE queue_entries SET lease_until = NULL WHERE queue = $1 AND id = $2 AND lease_holder = $3', [this.name, id, this.me.holder]);
  }

  async cleanOrphans(now = Date.now()): Promise<void> {
    await this.db.query('DELETE FROM queue_entries WHERE queue = $1 AND NOT published AND created < $2', [this.name, now - ORPHAN_AGE_MS]);
  }
}
