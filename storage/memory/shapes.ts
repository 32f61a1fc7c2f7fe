// The ports storage/ports.ts does not declare yet, as the public shape of
// the classes that implement them today. The memory backend implements
// these and the contract suite drives them, so a change to one of those
// classes shows up here at compile time.
import type { ScriptStore } from '../scripts.js';
import type { QueueStore } from '../queue.js';
import type { DeliveryMemory } from '../index/delivery-memory.js';
import type { MailboxMetadata } from '../metadata.js';
import type { MailStore } from '../ports.js';

export type ScriptStorePort = Pick<ScriptStore, 'list' | 'get' | 'exists' | 'active' | 'put' | 'activate' | 'remove' | 'rename' | 'removeAll'>;

export type QueuePort = Pick<QueueStore, 'enqueue' | 'list' | 'get' | 'message' | 'update' | 'remove' | 'requestFlush' | 'takeFlushRequest' | 'cleanOrphans'>;

export type DeliveryMemoryPort = Pick<DeliveryMemory, 'vacationSentRecently' | 'recordVacation' | 'checkDuplicate' | 'prune'>;

/** \Recent (RFC 3501) and the counters STATUS asks for, beside the MailStore port. */
export interface RecentPort {
  /** UIDs at or above this have not been claimed by a read-write SELECT (1 when never claimed). */
  firstRecentUid(mailboxId: number): number;
  /** Claims the messages below uidNext no session claimed yet; returns the first claimed (uidNext when none). */
  claimRecent(mailboxId: number, uidNext: number): number;
  /** Messages with a UID at or above `uid`. */
  countFromUid(mailboxId: number, uid: number): number;
  /** Messages flagged \Deleted. */
  deletedCount(mailboxId: number): number;
}

/** IMAP METADATA (RFC 5464) entries, reached today as MaildirStore.metadata. */
export type MetadataPort = Pick<MailboxMetadata, 'read' | 'set'>;

/** The mail store as its users reach it today: the port, \Recent and counters, and METADATA. */
export type MailStoreWithRecent = MailStore & RecentPort & { readonly metadata: MetadataPort };
