// The in-memory backend: every storage port over one shared state, for unit
// tests and as the reference the contract suite (test/contract/) holds
// every backend to. Nothing here touches the disk. The classes answer
// synchronously; the ports in front of them (storage/unit-of-work.ts) are
// asynchronous and keep outside calls out of an open unit of work, which
// snapshots the whole state and puts it back when it throws.
import type { ChangeFeed, MailMaintenance, Storage } from '../ports.js';
import { UnitGate, asyncPort, portsWithUnits } from '../unit-of-work.js';
import { emptyState, inTransaction, type MemoryState } from './state.js';
import { MemoryDirectory } from './directory.js';
import { MemoryMailStore, type MessageIndexer } from './mail-store.js';
import { MemoryScriptStore } from './scripts.js';
import { MemoryQueue } from './queue.js';
import { MemoryDeliveryMemory } from './delivery-memory.js';
import { MemoryAdminStore } from './admin.js';

export interface OpenMemoryStorageOptions {
  indexer?: MessageIndexer;
  feed?: ChangeFeed;
}

/** Nothing to recover and no other process: the maintenance a memory store needs. */
const maintenance = {
  recoverAccount: () => ({ adopted: 0, dropped: 0 }),
  watchExternalChanges: () => () => {},
  drain: () => Promise.resolve(),
};

export function openMemoryStorage(options: OpenMemoryStorageOptions = {}): Storage {
  const state: MemoryState = emptyState();
  const gate = new UnitGate();
  const directory = new MemoryDirectory(state);
  const mail = new MemoryMailStore(state, { ...options, gate });
  const scripts = new MemoryScriptStore(state);
  const queue = new MemoryQueue();
  const localRetry = new MemoryQueue();
  const memory = new MemoryDeliveryMemory(state);
  const admin = new MemoryAdminStore(state);

  // As the SQLite backend: appends and copies are not part of a unit of work.
  const notInUnit = 'appending and copying are not part of a unit of work';
  const refusedInUnit = { append: notInUnit, appendMany: notInUnit, copy: notInUnit };
  const { outside, transaction } = portsWithUnits(
    { directory, mail, scripts, queue, localRetry, memory, admin },
    gate,
    (body) => inTransaction(state, body),
    refusedInUnit,
  );
  return {
    ...outside,
    mail: Object.assign(outside.mail, asyncPort<MailMaintenance>(maintenance, { gate }), { watchExternalChanges: maintenance.watchExternalChanges }),
    files: { setAside: async () => undefined, purge: async () => {} },
    transaction,
    close: () => {},
  };
}

export { MemoryDirectory, MemoryMailStore, MemoryScriptStore, MemoryQueue, MemoryDeliveryMemory };
export type { MessageIndexer };
