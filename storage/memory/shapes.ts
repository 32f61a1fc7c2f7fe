// The ports as the in-memory classes implement them: synchronously (each
// method may return its value or a promise of it). openMemoryStorage puts
// the asynchronous ports (storage/unit-of-work.ts) in front of them.
import type { DeliveryMemory, MailboxCounters, MailStore, MetadataStore, QueueStore, ScriptStore } from '../ports.js';
import type { Either } from '../unit-of-work.js';

export type ScriptStorePort = Either<ScriptStore>;
export type QueuePort = Either<QueueStore>;
export type DeliveryMemoryPort = Either<DeliveryMemory>;
export type MetadataPort = Either<MetadataStore>;
export type MailStorePort = Either<MailStore>;
export type RecentPort = Either<Omit<MailboxCounters, 'getMailboxById'>>;
