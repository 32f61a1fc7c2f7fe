// Opens everything stored under a data directory.
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { describeCause, openIndex, type IndexDb } from './index/database.js';
import { MailError } from './errors.js';
import { SqliteDirectory } from './index/directory.js';
import { MaildirStore, type MessageIndexer } from './store.js';
import type { ChangeFeed } from './ports.js';
import { ScriptStore } from './scripts.js';
import { QueueStore } from './queue.js';
import { DeliveryMemory } from './index/delivery-memory.js';
import { AccountFiles } from './account-files.js';
import { indexMessage } from '../mime/index.js';

/** The structure cached with every message: ENVELOPE, BODYSTRUCTURE, part offsets, search fields. */
export const defaultIndexer: MessageIndexer = (raw) => JSON.stringify(indexMessage(raw));

export interface Storage {
  dataDir: string;
  db: IndexDb;
  directory: SqliteDirectory;
  mail: MaildirStore;
  scripts: ScriptStore;
  queue: QueueStore;
  /** Messages stored for some recipients whose other recipients are retried locally (DIR/queue/local). */
  localRetry: QueueStore;
  memory: DeliveryMemory;
  /** Removed accounts' Maildirs and scripts: set aside under DIR/removed/, or purged. */
  files: AccountFiles;
  close(): void;
}

export interface OpenStorageOptions {
  indexer?: MessageIndexer;
  feed?: ChangeFeed;
  /** See OpenIndexOptions.exclusiveWhenDiskFull (for serve). */
  exclusiveWhenDiskFull?: (err: unknown) => void;
  /** See MaildirStoreOptions.onDiskFull. */
  onDiskFull?: (full: boolean) => void;
}

export function openStorage(dataDir: string, options: OpenStorageOptions = {}): Storage {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new MailError('TEMPFAIL', `cannot create the data directory ${dataDir}: ${describeCause(err)}`, { cause: err });
  }
  const db = openIndex(path.join(dataDir, 'postino.sqlite'), options.exclusiveWhenDiskFull ? { exclusiveWhenDiskFull: options.exclusiveWhenDiskFull } : {});
  const directory = new SqliteDirectory(db);
  const mail = new MaildirStore(db, {
    mailRoot: path.join(dataDir, 'mail'),
    indexer: options.indexer ?? defaultIndexer,
    ...(options.feed ? { feed: options.feed } : {}),
    ...(options.onDiskFull ? { onDiskFull: options.onDiskFull } : {}),
  });
  return {
    dataDir,
    db,
    directory,
    mail,
    scripts: new ScriptStore(db, path.join(dataDir, 'sieve')),
    queue: new QueueStore(path.join(dataDir, 'queue')),
    localRetry: new QueueStore(path.join(dataDir, 'queue', 'local')),
    memory: new DeliveryMemory(db),
    files: new AccountFiles({ mail: path.join(dataDir, 'mail'), sieve: path.join(dataDir, 'sieve'), removed: path.join(dataDir, 'removed') }),
    close: () => {
      mail.stopWriters();
      db.close();
    },
  };
}

export type { MessageIndexer };
