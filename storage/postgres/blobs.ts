// Where the PostgreSQL backend keeps message bodies: one small interface,
// two implementations, chosen at open (storage/postgres/index.ts):
// blobs-table.ts (in PostgreSQL's blobs table, the default) and
// blobs-directory.ts (files in a directory every node mounts,
// `storage.blobs`).
//
// Either way every body has one row in the blobs table, keyed by the
// SHA-256 of its content, and message rows name it (messages.blob_hash, a
// foreign key): the same message to many recipients is stored once. The
// row is also the lock that keeps a delivery and a removal of the same
// content apart, on any node:
// - a change that is about to name a hash takes the row FOR KEY SHARE
//   (making the row first when there is none) and only then makes sure the
//   body is there; it keeps the lock until it commits;
// - a removal takes the row FOR UPDATE (which waits for those holders),
//   looks again whether any message names the hash (a statement after the
//   lock sees every committed change), and removes the body and the row
//   only then, still holding the lock.
// So a body is never removed while a message names it or a change is
// about to, and a change never commits naming a body that is not there.
import type pg from 'pg';
import { MailError } from '../errors.js';
import { asMailError, type PgDatabase } from './db.js';

/** A body about to be named by a new message: its hash (SHA-256) and its bytes. */
export interface NewBody {
  hash: Buffer;
  raw: Buffer;
}

export interface BlobStore {
  /**
   * Before the change's transaction, holding no lock: stores what can be
   * stored ahead (the directory's files), so the transaction does not wait
   * for the disk. Nothing is named yet: what it stores may be removed
   * before attach, which stores it again.
   */
  prepare(bodies: readonly NewBody[]): Promise<void>;
  /**
   * Inside the change's transaction, before its message rows name the
   * hashes: each has its row, locked against removal until the transaction
   * ends, and its body in place.
   */
  attach(bodies: readonly NewBody[]): Promise<void>;
  /** The body of a message (its first maxBytes bytes); NONEXISTENT when there is no such message. */
  read(mailboxId: number, uid: number, maxBytes?: number): Promise<Buffer>;
  /** After the change that dropped messages committed: removes the bodies no message names any more (best effort). */
  collect(hashes: readonly Buffer[]): Promise<void>;
  /** After a change that failed: removes what prepare stored for it, unless a message names it (best effort). */
  discard(hashes: readonly Buffer[]): Promise<void>;
}

/** Each hash once, in byte order (the order rows are locked in, so two lockers never wait for each other in a circle). */
export function distinctBodies<T extends { hash: Buffer }>(items: readonly T[]): T[] {
  const seen = new Map<string, T>();
  for (const i of items) {
    const k = i.hash.toString('hex');
    if (!seen.has(k)) seen.set(k, i);
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

/** Rounds of "make the rows, lock them" before giving up (each lost round is a removal that went first). */
const LOCK_ROUNDS = 5;

/**
 * Makes each body's row exist and holds it FOR KEY SHARE until the
 * transaction ends. A row a removal deletes between the insert and the
 * lock is not returned by the lock: that body is made again.
 * `insert` adds the rows for the given bodies (ON CONFLICT DO NOTHING).
 */
export async function lockBodyRows(db: PgDatabase, bodies: readonly NewBody[], insert: (missing: readonly NewBody[]) => Promise<void>): Promise<void> {
  let missing = distinctBodies(bodies);
  for (let round = 0; round < LOCK_ROUNDS && missing.length > 0; round++) {
    await insert(missing);
    const locked = await db.query<{ hash: Buffer }>('SELECT hash FROM blobs WHERE hash = ANY ($1::bytea[]) ORDER BY hash FOR KEY SHARE', [missing.map((b) => b.hash)]);
    const have = new Set(locked.map((r) => r.hash.toString('hex')));
    missing = missing.filter((b) => !have.has(b.hash.toString('hex')));
  }
  if (missing.length > 0) throw new MailError('TEMPFAIL', 'a message body is being removed and added at once; try again');
}

/** Removes the bodies (files) of the given hashes; returns those removed (a failure keeps its row, to try another time). */
export type RemoveBodies = (hashes: readonly Buffer[]) => Promise<Buffer[]>;

/** Candidates removed per transaction. */
const COLLECT_BATCH = 256;

/**
 * Removes the rows (and with `remove`, the bodies) of the given hashes that
 * no message names, each under its row lock (see the top of this file).
 * On its own connections, never in the caller's transaction: it runs after
 * the change that dropped the messages committed.
 */
export async function collectUnnamed(pool: pg.Pool, hashes: readonly Buffer[], remove?: RemoveBodies): Promise<void> {
  const unique = distinctBodies(hashes.map((hash) => ({ hash }))).map((h) => h.hash);
  if (unique.length === 0) return;
  // A first look without locks: a body still named (the usual case for a shared one) costs one query.
  const candidates = (
    await pool.query<{ hash: Buffer }>(
      'SELECT hash FROM blobs b WHERE hash = ANY ($1::bytea[]) AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob_hash = b.hash) ORDER BY hash',
      [unique],
    )
  ).rows.map((r) => r.hash);
  for (let i = 0; i < candidates.length; i += COLLECT_BATCH) {
    const batch = candidates.slice(i, i + COLLECT_BATCH);
    try {
      await collectBatch(pool, batch, remove);
    } catch {
      // A deadlock or a lost connection: one at a time (one lock held, no circle), each on its own.
      for (const h of batch) await collectBatch(pool, [h], remove).catch(() => {});
    }
  }
}

async function collectBatch(pool: pg.Pool, hashes: Buffer[], remove?: RemoveBodies): Promise<void> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    // Waits for the changes that hold a row FOR KEY SHARE (about to name it), in byte order.
    await client.query('SELECT hash FROM blobs WHERE hash = ANY ($1::bytea[]) ORDER BY hash FOR UPDATE', [hashes]);
    // A new statement: it sees what those changes committed.
    const unnamed = (
      await client.query<{ hash: Buffer }>('SELECT hash FROM blobs b WHERE hash = ANY ($1::bytea[]) AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob_hash = b.hash)', [hashes])
    ).rows.map((r) => r.hash);
    const removed = remove && unnamed.length > 0 ? await remove(unnamed) : unnamed;
    if (removed.length > 0) await client.query('DELETE FROM blobs WHERE hash = ANY ($1::bytea[])', [removed]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw asMailError(err);
  } finally {
    client.release(broken);
  }
}
