// The in-memory backend: every storage port over one shared state, for unit
// tests and as the reference the contract suite (test/contract/) holds
// every backend to. Nothing here touches the disk.
import type { ChangeFeed } from '../ports.js';
import { emptyState, type MemoryState } from './state.js';
import { MemoryDirectory } from './directory.js';
import { MemoryMailStore, type MessageIndexer } from './mail-store.js';
import { MemoryScriptStore } from './scripts.js';
import { MemoryQueue } from './queue.js';
import { MemoryDeliveryMemory } from './delivery-memory.js';

export interface MemoryStorage {
  directory: MemoryDirectory;
  mail: MemoryMailStore;
  scripts: MemoryScriptStore;
  queue: MemoryQueue;
  localRetry: MemoryQueue;
  memory: MemoryDeliveryMemory;
  close(): void;
}

export interface OpenMemoryStorageOptions {
  indexer?: MessageIndexer;
  feed?: ChangeFeed;
}

export function openMemoryStorage(options: OpenMemoryStorageOptions = {}): MemoryStorage {
  const state: MemoryState = emptyState();
  return {
    directory: new MemoryDirectory(state),
    mail: new MemoryMailStore(state, options),
    scripts: new MemoryScriptStore(state),
    queue: new MemoryQueue(),
    localRetry: new MemoryQueue(),
    memory: new MemoryDeliveryMemory(state),
    close: () => {},
  };
}

export { MemoryDirectory, MemoryMailStore, MemoryScriptStore, MemoryQueue, MemoryDeliveryMemory };
export type { MessageIndexer };
