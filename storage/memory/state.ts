// What the in-memory backend holds: one plain object shared by every port
// of one storage, so a unit of work (Storage.transaction) can put all of
// it back, directory and mail alike, when it throws. Message bodies are
// never changed once stored, so a snapshot shares them instead of copying.
import type { AccountRecord, AdminAccountRecord, AuditRecord, CredentialRecord, SpecialUse } from '../ports.js';

/** Held as the port hands it out (callers get copies). */
export type MemAccount = AccountRecord;

export interface MemMessage {
  uid: number;
  modseq: number;
  flags: string[];
  internalDate: number;
  size: number;
  mime: string | null;
  raw: Buffer;
  /** The message's own POP3 UIDL (MessageRecord.pop3Uidl), if any. */
  pop3Uidl?: string;
}

export interface MemMailbox {
  id: number;
  accountId: number;
  name: string;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  specialUse: SpecialUse | null;
  /** Keywords ever used in the mailbox (the list only grows, as the SQLite one). */
  keywords: string[];
  /** By UID; UIDs only grow, so insertion order is UID order. */
  messages: Map<number, MemMessage>;
  /** Expunged UID -> the MODSEQ of its expunge. */
  expunged: Map<number, number>;
  /** UIDs at or above this have not been claimed as \Recent. */
  firstRecentUid: number;
}

export interface MemScript {
  text: string;
  active: boolean;
}

export interface MemoryState {
  /** Lower-cased names. */
  domains: Set<string>;
  accounts: Map<number, MemAccount>;
  /** Ids are never handed out twice (as SQLite's AUTOINCREMENT). */
  lastAccountId: number;
  /** Lower-cased alias address -> lower-cased targets. */
  aliases: Map<string, Set<string>>;
  mailboxes: Map<number, MemMailbox>;
  lastMailboxId: number;
  /** The highest UIDVALIDITY each account was given. */
  uidValidityHigh: Map<number, number>;
  subscriptions: Map<number, Set<string>>;
  scripts: Map<number, Map<string, MemScript>>;
  /** `${accountId}\0${sender lower-cased}\0${handle}` -> expiry (ms). */
  vacations: Map<string, number>;
  /** `${accountId}\0${handle}\0${id}` -> expiry (ms). */
  duplicates: Map<string, number>;
  /** IMAP METADATA: `${accountId}\0${mailboxId or 0 for the server}` -> entry -> value. */
  metadata: Map<string, Map<string, Buffer>>;
  /** The admin port's records (storage/admin.ts); admins by lower-cased username, credentials by id. */
  admin: { admins: Map<string, AdminAccountRecord>; credentials: Map<string, CredentialRecord>; audit: AuditRecord[]; lastAuditId: number };
}

export function emptyState(): MemoryState {
  return {
    domains: new Set(),
    accounts: new Map(),
    lastAccountId: 0,
    aliases: new Map(),
    mailboxes: new Map(),
    lastMailboxId: 0,
    uidValidityHigh: new Map(),
    subscriptions: new Map(),
    scripts: new Map(),
    vacations: new Map(),
    duplicates: new Map(),
    metadata: new Map(),
    admin: { admins: new Map(), credentials: new Map(), audit: [], lastAuditId: 0 },
  };
}

/** A deep copy of maps, sets, arrays and plain objects; anything else (Buffers) is shared. */
function copy<T>(value: T): T {
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, copy(v)])) as T;
  if (value instanceof Set) return new Set([...value].map(copy)) as T;
  if (Array.isArray(value)) return value.map(copy) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)])) as T;
  }
  return value;
}

/**
 * Runs body as one unit over the whole state: when it throws, everything it
 * changed is put back. Nested units undo only their own part (as savepoints).
 * The caller keeps everyone else out meanwhile (storage/unit-of-work.ts).
 */
export async function inTransaction<T>(state: MemoryState, body: () => Promise<T>): Promise<T> {
  const saved = copy(state);
  try {
    return await body();
  } catch (err) {
    Object.assign(state, saved);
    throw err;
  }
}
