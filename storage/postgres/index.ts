// The PostgreSQL backend: every storage port over one database, for
// several Postino nodes sharing it. Opening applies the schema steps
// (storage/schema/postgres.ts) under an advisory lock (migrations.ts).
// Units of work are PostgreSQL transactions (storage/postgres/db.ts); in front of the
// port classes sit the same asynchronous ports as the other backends
// (storage/unit-of-work.ts): within one process units run one at a time and
// outside calls wait for an open unit, as the contract asks; across nodes
// PostgreSQL's own locks and isolation keep writers apart.
import type { ChangeFeed, MailImport, MailMaintenance, MailPort, Storage } from '../ports.js';
import { UnitGate, portsWithUnits } from '../unit-of-work.js';
import { PgDatabase } from './db.js';
import { sharedSecret } from './shared-secrets.js';
import { migrate } from './migrations.js';
import { PgDirectory } from './directory.js';
import { PgMailStore, type MessageIndexer } from './mail-store.js';
import { PgScriptStore } from './scripts.js';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { PgQueue } from './queue.js';
import { PgDeliveryMemory } from './delivery-memory.js';
import { CHANGE_CHANNEL, PgChangeFeed } from './change-feed.js';
import { RunnerLease } from './runner-lease.js';
import { PgAdminStore } from './admin.js';
import type { BlobStore } from './blobs.js';
import { TableBlobStore } from './blobs-table.js';
import { DirectoryBlobStore, checkBlobDirectory, type DirectoryBlobStoreOptions } from './blobs-directory.js';

export interface OpenPostgresOptions {
  indexer?: MessageIndexer;
  feed?: ChangeFeed;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /**
   * Bodies as files in this directory (absolute; shared by every node:
   * `storage.blobs`), instead of in the database. It must exist.
   */
  blobs?: string;
  /** Tuning of the directory store (tests). */
  blobOptions?: DirectoryBlobStoreOptions;
  /** This node's name (node.name) in the queue's lease rows; default the host name. */
  nodeName?: string;
}

/** A PostgreSQL storage; `end` closes the pool and resolves when it has (close() starts it). */
export type PostgresStorage = Storage & { end(): Promise<void> };

export async function openPostgresStorage(url: string, options: OpenPostgresOptions = {}): Promise<PostgresStorage> {
  // Before anything else: an unmounted share must stop the node, not fill its local disk.
  if (options.blobs !== undefined) await checkBlobDirectory(options.blobs);
  const db = new PgDatabase(url, options.poolSize === undefined ? {} : { max: options.poolSize });
  try {
    await migrate(db.pool);
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
  const gate = new UnitGate();
  // This node in the queue's lease rows and the blob store's temporary names.
  const me = { node: options.nodeName ?? hostname(), holder: randomUUID() };
  const directory = new PgDirectory(db);
  // The other nodes' changes reach this node's subscribers once watchExternalChanges starts listening.
  const feed: PgChangeFeed = new PgChangeFeed(url, async (mailboxId, uid) => (await mail.getMessage(mailboxId, uid))?.flags, options.feed);
  const blobs: BlobStore = options.blobs === undefined ? new TableBlobStore(db) : new DirectoryBlobStore(db, options.blobs, { ...options.blobOptions, nodeName: me.node });
  const mail: PgMailStore = new PgMailStore(db, {
    ...(options.indexer ? { indexer: options.indexer } : {}),
    blobs,
    feed,
    announcer: { channel: CHANGE_CHANNEL, payloads: (changes) => feed.payloads(changes) },
  });
  const scripts = new PgScriptStore(db);
  // Every node sends the outbound queue, entry by entry under leases; the
  // local-retry queue (whose runner does not claim) one node at a time.
  const lease = new RunnerLease(url);
  const queue = new PgQueue(db, 'outbound', me);
  const localRetry = new PgQueue(db, 'local', me, lease);
  const memory = new PgDeliveryMemory(db);
  const admin = new PgAdminStore(db);

  // As the other backends: appends and copies are not part of a unit of work.
  const notInUnit = 'appending and copying are not part of a unit of work';
  const maintenance = 'recovery and draining are not part of a unit of work';
  const importing = 'an import batch is not part of a unit of work';
  const refusedInUnit = {
    append: notInUnit,
    appendMany: notInUnit,
    copy: notInUnit,
    recoverAccount: maintenance,
    drain: maintenance,
    importFolder: importing,
  };
  const target = Object.assign(mail, {
    // The index and the bodies change in one transaction: a crash leaves nothing to adopt or drop.
    recoverAccount: async () => ({ adopted: 0, dropped: 0 }),
  });
  const { outside, transaction } = portsWithUnits({ directory, mail: target, scripts, queue, localRetry, memory, admin }, gate, (body) => db.runUnit(body), refusedInUnit);

  let ended: Promise<void> | undefined;
  const end = () => (ended ??= (async () => {
    await feed.unwatch();
    await lease.close();
    await mail.drain();
    await db.close();
  })());
  return {
    ...outside,
    // Other nodes' changes reach the feed through LISTEN/NOTIFY; starting the watch answers at once (it connects meanwhile).
    mail: Object.assign(outside.mail as MailPort & MailMaintenance & MailImport, {
      watchExternalChanges: () => {
        feed.watch().catch(() => {});
        return () => {
          feed.unwatch().catch(() => {});
        };
      },
    }),
    files: { setAside: async () => undefined, purge: async () => {} },
    transaction,
    sharedSecret: (name, proposal) => sharedSecret(db, name, proposal),
    close: () => {
      end().catch(() => {});
    },
    end,
  };
}

export type { MessageIndexer };
