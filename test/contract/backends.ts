// The backends the contract suite runs against, each opened empty in a
// scratch place of its own and closed (and removed) after each test.
import type { Directory } from '../../storage/ports.js';
import type { DeliveryMemoryPort, MailStoreWithRecent, QueuePort, ScriptStorePort } from '../../storage/memory/shapes.js';
import { openStorage } from '../../storage/index.js';
import { openMemoryStorage } from '../../storage/memory/index.js';
import { scratchDir } from '../support/tmp.js';

/** What the contract drives: every port of one storage. */
export interface ContractStorage {
  directory: Directory;
  mail: MailStoreWithRecent;
  scripts: ScriptStorePort;
  queue: QueuePort;
  memory: DeliveryMemoryPort;
  close(): void | Promise<void>;
}

export interface Backend {
  name: string;
  open(): Promise<ContractStorage>;
}

/** The embedded default: SQLite index, Maildir++ bodies, files for scripts and the queue. */
export const sqliteMaildir: Backend = {
  name: 'SQLite + Maildir',
  async open() {
    const scratch = scratchDir('postino-contract-');
    const storage = openStorage(scratch.dir);
    return {
      directory: storage.directory,
      mail: storage.mail,
      scripts: storage.scripts,
      queue: storage.queue,
      memory: storage.memory,
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
