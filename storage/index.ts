// Opens everything stored under a data directory.
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { describeCause, openIndex, peekSchemaVersion as peekSqliteSchema, type IndexDb } from './index/database.js';
import { MailError } from './errors.js';
import { SqliteDirectory } from './index/directory.js';
import { MaildirStore, type MessageIndexer } from './store.js';
import type { ChangeFeed, MailImport, MailMaintenance, MailPort, Storage } from './ports.js';
import { ScriptStore as SqliteScriptStore } from './scripts.js';
import { QueueStore as FileQueueStore } from './queue.js';
import { DeliveryMemory as SqliteDeliveryMemory } from './index/delivery-memory.js';
import { UnitGate, asyncPort, portsWithUnits } from './unit-of-work.js';
import { AccountFiles } from './account-files.js';
import { SqliteAdminStore } from './index/admin.js';
import { indexMessage } from '../mime/index.js';
import { openPostgresStorage } from './postgres/index.js';
import { peekSchemaVersion as peekPostgresSchema } from './postgres/migrations.js';
import { schemaStatus, type SchemaStatus } from './schema/index.js';

/** The structure cached with every message: ENVELOPE, BODYSTRUCTURE, part offsets, search fields. */
export const defaultIndexer: MessageIndexer = (raw, parsed) => JSON.stringify(indexMessage(parsed?.raw === raw ? parsed : raw));

/** The concrete parts behind a SQLite + Maildir storage: for tests, and the IMAP backend until it awaits the ports. */
export interface SqliteStorageParts {
  dataDir: string;
  db: IndexDb;
  directory: SqliteDirectory;
  mail: MaildirStore;
  scripts: SqliteScriptStore;
  queue: FileQueueStore;
  localRetry: FileQueueStore;
  memory: SqliteDeliveryMemory;
  files: AccountFiles;
  /** The storage these are the parts of (its ports and units of work). */
  ports: Storage;
  close(): void;
}

const parts = new WeakMap<Storage, SqliteStorageParts>();

/** Opens a storage and hands out its concrete parts (tests of this backend). */
export function openSqliteParts(dataDir: string, options: OpenStorageOptions = {}): SqliteStorageParts {
  return sqliteParts(openStorage(dataDir, options));
}

/** The concrete parts of a storage openStorage opened (tests of this backend). */
export function sqliteParts(storage: Storage): SqliteStorageParts {
  const p = parts.get(storage);
  if (!p) throw new Error('not a SQLite + Maildir storage');
  return p;
}

export interface OpenStorageOptions {
  indexer?: MessageIndexer;
  feed?: ChangeFeed;
  /** See OpenIndexOptions.exclusiveWhenDiskFull (for serve). */
  exclusiveWhenDiskFull?: (err: unknown) => void;
  /** See MaildirStoreOptions.onDiskFull. */
  onDiskFull?: (full: boolean) => void;
  /** This node's name (node.name): PostgreSQL keeps it in the queue's lease rows. */
  nodeName?: string;
  /** Start the body reader threads at once (serve: the first FETCH does not wait for them). */
  startReaders?: boolean;
}

export function openStorage(dataDir: string, options: OpenStorageOptions = {}): Storage {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new MailError('TEMPFAIL', `cannot create the data directory ${dataDir}: ${describeCause(err)}`, { cause: err });
  }
  const db = openIndex(path.join(dataDir, 'postino.sqlite'), options.exclusiveWhenDiskFull ? { exclusiveWhenDiskFull: options.exclusiveWhenDiskFull } : {});
  const gate = new UnitGate();
  const directory = new SqliteDirectory(db);
  const mail = new MaildirStore(db, {
    mailRoot: path.join(dataDir, 'mail'),
    indexer: options.indexer ?? defaultIndexer,
    gate,
    ...(options.feed ? { feed: options.feed } : {}),
    ...(options.onDiskFull ? { onDiskFull: options.onDiskFull } : {}),
    ...(options.startReaders ? { startReaders: true } : {}),
  });
  const scripts = new SqliteScriptStore(db, path.join(dataDir, 'sieve'), (fn) => mail.withFileChanges(fn), gate);
  const queue = new FileQueueStore(path.join(dataDir, 'queue'));
  const localRetry = new FileQueueStore(path.join(dataDir, 'queue', 'local'));
  const memory = new SqliteDeliveryMemory(db);
  const admin = new SqliteAdminStore(db);
  const files = new AccountFiles({ mail: path.join(dataDir, 'mail'), sieve: path.join(dataDir, 'sieve'), removed: path.join(dataDir, 'removed') });

  // Appending and copying go through the group commit, which a unit of work must not take in (see unit-of-work.ts).
  const notInUnit = 'appending and copying are not part of a unit of work';
  const maintenance = 'recovery and draining are not part of a unit of work';
  const refusedInUnit = { append: notInUnit, appendMany: notInUnit, copy: notInUnit, recoverAccount: maintenance, drain: maintenance };
  const { outside, transaction } = portsWithUnits({ directory, mail, scripts, queue, localRetry, memory, admin }, gate, (body) => mail.unit(body), refusedInUnit);

  const storage: Storage = {
    ...outside,
    // Starting the watch is not a storage call: it answers at once.
    mail: Object.assign(
      outside.mail as MailPort & MailMaintenance,
      { watchExternalChanges: (ms?: number) => mail.watchExternalChanges(ms) },
      asyncPort<MailImport>(mail.imports, { gate }),
    ),
    files: {
      setAside: async (account) => files.setAside(account),
      purge: async (account) => files.purge(account),
    },
    transaction,
    close: () => {
      mail.stopWriters();
      db.close();
    },
  };
  parts.set(storage, { dataDir, db, directory, mail, scripts, queue, localRetry, memory, files, ports: storage, close: storage.close });
  return storage;
}

/** Which backend to open (the config's storage section). */
export type StorageChoice = { backend: 'sqlite' } | { backend: 'postgres'; url: string; blobs?: string };

/**
 * Opens the configured backend: SQLite + Maildir under the data dir, or a
 * PostgreSQL database (which keeps the bodies too, or a shared directory
 * does: `blobs`; the data dir then keeps only the certificate, keys and
 * the like). A PostgreSQL storage's close()
 * starts closing its pool; `drain` before it waits for work in flight.
 */
export async function openConfiguredStorage(dataDir: string, choice: StorageChoice, options: OpenStorageOptions = {}): Promise<Storage> {
  if (choice.backend === 'sqlite') return openStorage(dataDir, options);
  try {
    return await openPostgresStorage(choice.url, {
      indexer: options.indexer ?? defaultIndexer,
      ...(options.feed ? { feed: options.feed } : {}),
      ...(choice.blobs !== undefined ? { blobs: choice.blobs } : {}),
      ...(options.nodeName !== undefined ? { nodeName: options.nodeName } : {}),
    });
  } catch (err) {
    if (err instanceof MailError) throw err;
    throw new MailError('TEMPFAIL', `cannot open the PostgreSQL storage: ${describeCause(err)}`, { cause: err });
  }
}

/**
 * Where the configured backend's schema stands against this build, read
 * without opening the storage (no step applied, nothing made). `missing`:
 * there is no SQLite index yet.
 */
export async function readSchemaStatus(dataDir: string, choice: StorageChoice): Promise<SchemaStatus & { missing: boolean }> {
  if (choice.backend === 'postgres') return { ...schemaStatus('postgres', await peekPostgresSchema(choice.url)), missing: false };
  const version = peekSqliteSchema(path.join(dataDir, 'postino.sqlite'));
  return { ...schemaStatus('sqlite', version ?? 0), missing: version === undefined };
}

export type { MessageIndexer, SchemaStatus, Storage };
