// The backends the contract suite runs against, each opened empty in a
// scratch place of its own and closed (and removed) after each test.
import type { Storage } from '../../storage/ports.js';
import { openStorage } from '../../storage/index.js';
import { openMemoryStorage } from '../../storage/memory/index.js';
import { openPostgresStorage } from '../../storage/postgres/index.js';
import { scratchDir } from '../support/tmp.js';
import type { PostgresCluster } from '../support/postgres.js';
import type { GapId } from './suite.js';

/** What the contract drives: every port of one storage, and its units of work. */
export type ContractStorage = Omit<Storage, 'close'> & { close(): void | Promise<void> };

export interface Backend {
  name: string;
  open(): Promise<ContractStorage>;
  /**
   * Cases this backend is known to fail, with why: they run as todos (shown,
   * not failing CI) until the backend is fixed. Only for a backend that is
   * wrong against an RFC or against the port's own documented contract.
   */
  knownGaps?: Partial<Record<GapId, string>>;
}

/** The embedded default: SQLite index, Maildir++ bodies, files for scripts and the queue. */
export const sqliteMaildir: Backend = {
  name: 'SQLite + Maildir',
  async open() {
    const scratch = scratchDir('postino-contract-');
    const storage = openStorage(scratch.dir);
    return {
      ...storage,
      close: async () => {
        await storage.mail.drain();
        storage.close();
        scratch.cleanup();
      },
    };
  },
};

export const memory: Backend = {
  name: 'memory',
  async open() {
    return openMemoryStorage();
  },
};

/**
 * PostgreSQL: a fresh database per test in the test file's scratch cluster
 * (test/support/postgres.ts), copied from one migrated once (faster than
 * migrating each).
 */
export function postgres(cluster: () => PostgresCluster, options: { blobDirectory?: boolean } = {}): Backend {
  let template: Promise<string> | undefined;
  const migrated = async () => {
    const url = await cluster().createDatabase();
    await (await openPostgresStorage(url)).end();
    return new URL(url).pathname.slice(1);
  };
  if (options.blobDirectory) {
    // Bodies as files in a scratch directory of the test's own (storage.blobs).
    return {
      name: 'PostgreSQL + blob directory',
      async open() {
        const blobs = scratchDir('postino-blobs-');
        const storage = await openPostgresStorage(await cluster().createDatabase(await (template ??= migrated())), { poolSize: 12, blobs: blobs.dir });
        return {
          ...storage,
          close: async () => {
            await storage.end();
            blobs.cleanup();
          },
        };
      },
    };
  }
  return {
    name: 'PostgreSQL',
    async open() {
      const storage = await openPostgresStorage(await cluster().createDatabase(await (template ??= migrated())), { poolSize: 12 });
      return { ...storage, close: () => storage.end() };
    },
  };
}
