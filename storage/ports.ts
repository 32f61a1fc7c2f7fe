// The interfaces the rest of Postino uses to reach stored data. Protocol
// backends and the delivery agent depend on these, never on SQLite or files,
// so another backend (or the in-memory test one) can stand in.

/** IMAP system flags, kept in the Maildir `:2,` suffix; anything else is a keyword. */
export const SYSTEM_FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'] as const;

export type SpecialUse = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive' | '\\All' | '\\Flagged';

export interface DomainRecord {
  name: string;
}

export interface AccountRecord {
  id: number;
  address: string;
  domain: string;
  localpart: string;
  passwordHash: string;
  /** SCRAM-SHA-256 stored credentials, "iterations:salt:storedKey:serverKey" (base64 parts). */
  scramSha256: string | null;
  quota: number | null;
  disabled: boolean;
}

export interface NewAccount {
  address: string;
  passwordHash: string;
  scramSha256: string | null;
  quota: number | null;
}

export interface AliasRecord {
  address: string;
  targets: string[];
}

/**
 * Domains, accounts and aliases. Every method validates nothing about syntax:
 * callers do. Changes that must land together go through a unit of work
 * (Storage.transaction).
 */
export interface Directory {
  addDomain(name: string): Promise<void>;
  removeDomain(name: string): Promise<void>;
  hasDomain(name: string): Promise<boolean>;
  listDomains(): Promise<DomainRecord[]>;

  addAccount(account: NewAccount): Promise<AccountRecord>;
  getAccount(address: string): Promise<AccountRecord | undefined>;
  getAccountById(id: number): Promise<AccountRecord | undefined>;
  listAccounts(): Promise<AccountRecord[]>;
  setPassword(address: string, passwordHash: string, scramSha256: string | null): Promise<void>;
  setDisabled(address: string, disabled: boolean): Promise<void>;
  setQuota(address: string, quota: number | null): Promise<void>;
  removeAccount(address: string): Promise<void>;

  /** Adds targets to an alias, creating it if needed. */
  addAliasTargets(address: string, targets: string[]): Promise<void>;
  /** Removes the given targets, or the whole alias when targets is undefined. */
  removeAliasTargets(address: string, targets?: string[]): Promise<void>;
  getAlias(address: string): Promise<AliasRecord | undefined>;
  listAliases(): Promise<AliasRecord[]>;
}

export interface MailboxInfo {
  id: number;
  accountId: number;
  /** The IMAP name, hierarchy delimiter "/", "INBOX" for the inbox. */
  name: string;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  specialUse: SpecialUse | null;
  messages: number;
  unseen: number;
  size: number;
}

/** A mailbox without its counters (cheap to get). */
export type MailboxSummary = Pick<MailboxInfo, 'id' | 'accountId' | 'name' | 'uidValidity' | 'uidNext' | 'highestModseq' | 'specialUse'>;

/** What SELECT needs: every UID in order, the first unseen, the keywords in use. */
export interface SelectSummary {
  uids: number[];
  firstUnseenUid: number | undefined;
  keywords: string[];
  /** The mailbox's HIGHESTMODSEQ in the same snapshot as the UIDs. */
  highestModseq: number;
}

/**
 * What changed in a mailbox after a MODSEQ, read in one snapshot: every
 * message whose MODSEQ is higher (new ones and flag changes, current flags)
 * and every UID expunged since, each ascending by UID.
 */
export interface MailboxDelta {
  highestModseq: number;
  changed: Array<{ uid: number; modseq: number; flags: string[] }>;
  expunged: number[];
  /** The keywords in use in the mailbox (when anything changed). */
  keywords?: string[];
}

export interface MessageRecord {
  mailboxId: number;
  uid: number;
  modseq: number;
  /** System flags and keywords, e.g. ["\\Seen", "$Junk"]. */
  flags: string[];
  internalDate: number;
  size: number;
  /** The stored indexer output (ENVELOPE, BODYSTRUCTURE, search fields), as JSON text. */
  mime: string | null;
  /**
   * A name of the stored body that stays the same for its whole life: across
   * flag changes, MOVE, restarts and a rebuilt index (the Maildir base file
   * name). POP3's UIDL comes from it. Absent when a backend keeps none.
   */
  bodyId?: string;
  /**
   * The POP3 UIDL the message keeps as its own (brought from another server
   * by an import), used instead of the one POP3 derives; kept by MOVE, COPY,
   * backup and restore. Absent for a message that has none.
   */
  pop3Uidl?: string;
}

/** A message as a POP3 login lists it (MailStore.listMaildrop): MessageRecord's fields of those names. */
export interface MaildropEntry {
  uid: number;
  size: number;
  seen: boolean;
  bodyId?: string;
  pop3Uidl?: string;
  /** The stored MIME index says the body has no bare LF (mime/'s `"bareLf":false`). */
  crlfOnly: boolean;
  /** The stored MIME index says no line starts with "." (mime/'s `"dotLines":false`): nothing to dot-stuff. */
  dotFree: boolean;
}

export interface AppendOptions {
  flags?: string[];
  /** Milliseconds since the epoch; default now. */
  internalDate?: number;
  /** Skip the quota check (e.g. for a mailbox the account cannot fill on its own). */
  ignoreQuota?: boolean;
  /**
   * The message as parsed where it arrived (mime/'s ParsedMessage), over
   * exactly the bytes appended: the index is made from it instead of a
   * second parse. Ignored when its bytes are not the ones appended.
   */
  message?: ParsedForIndex;
  /** The message's own POP3 UIDL (COPY passes the source's on; see MessageRecord.pop3Uidl). */
  pop3Uidl?: string;
}

/** What the store needs of the one message model (mime/ParsedMessage) to index a message. */
export interface ParsedForIndex {
  readonly raw: Buffer;
  index(): MessageIndex;
}

export interface AppendResult {
  mailboxId: number;
  uidValidity: number;
  uid: number;
  modseq: number;
}

export type FlagMode = 'add' | 'remove' | 'replace';

export interface Quota {
  limit: number | null;
  usedBytes: number;
  usedMessages: number;
}

/** One change to one mailbox, published after it is committed. */
export type MailboxChange =
  | { kind: 'append'; accountId: number; mailboxId: number; uid: number; modseq: number; flags: string[] }
  | { kind: 'flags'; accountId: number; mailboxId: number; uid: number; modseq: number; flags: string[] }
  | { kind: 'expunge'; accountId: number; mailboxId: number; uid: number; modseq: number }
  | { kind: 'mailboxes'; accountId: number };

/**
 * Committed changes, in commit order per mailbox. In-process today; the
 * interface is what a cross-machine feed (PostgreSQL LISTEN/NOTIFY, a
 * message bus) would also implement.
 */
export interface ChangeFeed {
  /**
   * `missed`, when given, is called when changes of the account may have
   * gone unheard (a cross-node feed whose connection was lost is back):
   * the subscriber reads what changed since the MODSEQ it knows
   * (changesSince). A feed that cannot lose changes never calls it.
   */
  subscribe(accountId: number, listener: (change: MailboxChange) => void, missed?: () => void): () => void;
  publish(change: MailboxChange): void;
}

export interface MailStore {
  readonly feed: ChangeFeed;

  /** Creates the Maildir and the default folders; safe to call again. */
  provisionAccount(accountId: number): Promise<void>;
  /** Forgets every mailbox and message of the account in the index; the files are the caller's (AccountFiles). */
  deleteAccountMail(accountId: number): Promise<void>;

  listMailboxes(accountId: number): Promise<MailboxInfo[]>;
  getMailbox(accountId: number, name: string): Promise<MailboxInfo | undefined>;
  /** Cheap existence check (getMailbox also counts messages). */
  hasMailbox(accountId: number, name: string): Promise<boolean>;
  /** The mailbox without counters. */
  findMailbox(accountId: number, name: string): Promise<MailboxSummary | undefined>;
  /** The account owning a mailbox id, if the mailbox exists. */
  mailboxOwner(mailboxId: number): Promise<number | undefined>;
  selectSummary(mailboxId: number): Promise<SelectSummary>;
  /** UIDs expunged with a MODSEQ above `modseq` (QRESYNC VANISHED), ascending. */
  expungedSince(mailboxId: number, modseq: number): Promise<number[]>;
  /** Changes after `modseq` in one snapshot; undefined when the mailbox is gone (or is not `accountId`'s). */
  changesSince(mailboxId: number, modseq: number, accountId?: number): Promise<MailboxDelta | undefined>;
  createMailbox(accountId: number, name: string, specialUse?: SpecialUse | null): Promise<MailboxInfo>;
  deleteMailbox(accountId: number, name: string): Promise<void>;
  renameMailbox(accountId: number, from: string, to: string): Promise<void>;
  /**
   * IMAP subscriptions: names, kept apart from the mailboxes (RFC 9051
   * 6.3.7). Subscribing a name no mailbox has is allowed; DELETE and RENAME
   * leave the list alone. BADINPUT for an invalid name, LIMIT past the cap.
   */
  addSubscription(accountId: number, name: string): Promise<void>;
  /** No error when the name is not subscribed. */
  removeSubscription(accountId: number, name: string): Promise<void>;
  /** Sorted; may include names with no mailbox. */
  listSubscriptions(accountId: number): Promise<string[]>;

  /** Durable (file and index) when the promise resolves. */
  append(accountId: number, mailbox: string, raw: Buffer, options?: AppendOptions): Promise<AppendResult>;

  /** Several messages as one unit: all stored with ascending UIDs, or none (durable when it resolves). */
  appendMany(accountId: number, mailbox: string, messages: Array<{ raw: Buffer; options?: AppendOptions }>): Promise<AppendResult[]>;

  /** Messages with uid in [fromUid, toUid], in UID order. */
  listMessages(mailboxId: number, fromUid?: number, toUid?: number): Promise<MessageRecord[]>;
  /**
   * All the mailbox's messages, in UID order, with only what a POP3 login
   * needs (no MIME index: a large maildrop's listing is most of a login).
   * Optional: without it, POP3 derives the same from listMessages.
   */
  listMaildrop?(mailboxId: number): Promise<MaildropEntry[]>;
  getMessage(mailboxId: number, uid: number): Promise<MessageRecord | undefined>;
  /**
   * The stored message, read without blocking the event loop (from the
   * BlobStore). With `maxBytes`, only that much from its start is needed (a
   * FETCH of headers, whose length the index gives): a backend may give
   * more, the whole message included, but never less of what is there.
   */
  readMessage(mailboxId: number, uid: number, maxBytes?: number): Promise<Buffer>;
  /**
   * The whole stored messages, for a caller that copies each out at once and
   * then calls its release() (POP3's RETR): the bytes may be lent from memory
   * the store reuses, so they must not be looked at after release. For each
   * uid, in order, its bytes or its error (as readMessage would reject);
   * read together, in one promise (a download asks for dozens at a time).
   * Optional: without it, such callers use readMessage.
   */
  readMessagesLent?(mailboxId: number, uids: readonly number[]): Promise<Array<LentBytes | Error>>;
  /** Returns the records that changed, with their new modseq. */
  setFlags(mailboxId: number, uids: number[], mode: FlagMode, flags: string[], unchangedSince?: number): Promise<MessageRecord[]>;
  /** Removes the messages (all \Deleted ones when uids is undefined); returns the expunged UIDs. */
  expunge(mailboxId: number, uids?: number[]): Promise<number[]>;
  /** Copies into another mailbox of the same account; returns [sourceUid, newUid] pairs. */
  copy(mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>>;
  /**
   * Moves into another mailbox of the same account as one unit: after a
   * crash each message is in exactly one of the two. Returns [sourceUid,
   * newUid] pairs in ascending source order (durable when it resolves).
   */
  move(mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>>;

  quota(accountId: number): Promise<Quota>;

  /**
   * RFC 2180 4.1.1, for backends that can: an IMAP view of the mailbox that
   * numbers messages until it is told of their expunge (`numbers`) keeps
   * what is expunged meanwhile readable to it (see ExpungedHold).
   */
  holdExpunged?(mailboxId: number, numbers: (uid: number) => boolean): Promise<ExpungedHold>;
}

/**
 * What a view holds of the messages expunged while it numbered them: their
 * records, and their bodies for a while. Kept until no view of the mailbox
 * numbers them any more: call released() after the view dropped UIDs (it
 * told its client of their expunge), close() when it ends.
 */
export interface ExpungedHold {
  record(uid: number): MessageRecord | undefined;
  /** The body, while it is kept; undefined when it is not. */
  read(uid: number): Promise<Buffer | undefined>;
  released(): void;
  close(): void;
}

/**
 * \Recent (RFC 3501 2.3.2) and the counts STATUS asks for beyond
 * MailboxInfo. Apart from MailStore so a backend can add them on its own.
 */
export interface MailboxCounters {
  /** The mailbox with its counters; NONEXISTENT when there is none. */
  getMailboxById(id: number): Promise<MailboxInfo>;
  /** UIDs at or above this have not been claimed by a read-write SELECT (1 when never claimed). */
  firstRecentUid(mailboxId: number): Promise<number>;
  /** Claims the messages below uidNext no session has claimed; returns the first claimed (uidNext when none). */
  claimRecent(mailboxId: number, uidNext: number): Promise<number>;
  /** Messages with a UID at or above `uid` (the unclaimed recent ones, for STATUS RECENT). */
  countFromUid(mailboxId: number, uid: number): Promise<number>;
  /** Messages flagged \Deleted (STATUS DELETED, RFC 9051). */
  deletedCount(mailboxId: number): Promise<number>;
}

/** What the server and the CLI do to a store besides serving it: recovery, the cross-process feed, shutdown. */
export interface MailMaintenance {
  /**
   * Makes the index agree with the stored bodies for one account (after a
   * crash); with `rebuild`, rebuilds the index from them.
   */
  recoverAccount(accountId: number, options?: { rebuild?: boolean }): Promise<{ adopted: number; dropped: number }>;
  /** Publishes to `feed` what other processes commit; returns a function that stops watching. */
  watchExternalChanges(intervalMs?: number): () => void;
  /** Resolves once every append handed to the store has committed or failed. */
  drain(): Promise<void>;
}

/** A folder as the index has it, for an import to compare against its source (see MailImport). */
export interface ImportedFolderState {
  uidValidity: number;
  uidNext: number;
  /** Every message's UID and flags, ascending by UID. */
  messages: Array<{ uid: number; flags: string[] }>;
}

/** One batch of changes to one folder, brought from another server with its UIDs. */
export interface FolderImport {
  name: string;
  /** The folder gets this UIDVALIDITY; a folder that has another is emptied first. */
  uidValidity: number;
  /** The folder's UIDNEXT becomes at least this (and above every UID added). */
  uidNext: number;
  /**
   * New messages, UIDs strictly ascending, each at or above the folder's UIDNEXT.
   * `modseq` keeps the message's MODSEQ from the source (a move between
   * backends), else it gets a new one; `bodyId` keeps its stored name (POP3's
   * UIDL) where the backend names bodies freely (a Maildir backend names them
   * after their files and ignores it).
   */
  add: Array<{ uid: number; raw: Buffer; flags: string[]; internalDate: number; modseq?: number; bodyId?: string; pop3Uidl?: string }>;
  /** The folder's HIGHESTMODSEQ becomes at least this (a move between backends keeps it). */
  highestModseq?: number;
  /**
   * UIDs expunged in the source with the MODSEQ of their expunge (a move
   * between backends): kept in the folder's expunge log for QRESYNC's
   * VANISHED. A UID the folder holds a message under is left out.
   */
  vanished?: Array<{ uid: number; modseq: number }>;
  /** New flags (system flags and keywords, replacing the old) of messages there already; `modseq` keeps the change's MODSEQ from the source. */
  flags: Array<{ uid: number; flags: string[]; modseq?: number }>;
  /** Messages gone from the source. */
  expunge: number[];
}

export interface FolderImportResult {
  created: boolean;
  /** The folder had another UIDVALIDITY: its messages were removed first. */
  replaced: boolean;
  added: number;
  flagsChanged: number;
  expunged: number;
}

/**
 * Bringing folders from another server (postino import dovecot) so that a
 * client's cached UIDVALIDITY, UIDs and flags stay valid: the only way to
 * store a message under a UID of the caller's choosing.
 */
export interface MailImport {
  importedFolder(accountId: number, name: string): Promise<ImportedFolderState | undefined>;
  /** One batch as one unit (all of it or nothing), durable (files and index) when it resolves. Outside units of work. */
  importFolder(accountId: number, batch: FolderImport): Promise<FolderImportResult>;
}

/** Bytes lent by the store (MailPort.readMessagesLent): valid until release(), which may be called more than once. */
export interface LentBytes {
  readonly bytes: Buffer;
  release(): void;
}

/**
 * Message bodies, apart from the index (as maddy keeps its blob store beside
 * its index). A `location` is where one mailbox's bodies live, an opaque key
 * the index derives (the Maildir folder under the mail root); a `ref` is the
 * name of one body there, which the index keeps in its row. Neither can
 * reach outside the store: a location or ref that would is refused.
 */
export interface BlobStore {
  /** Stores a body under a new name; durable (bytes and name) when the promise resolves. Returns its ref. */
  put(location: string, raw: Buffer, options?: { internalDate?: number }): Promise<string>;
  /**
   * The first half of put, for a writer that names the body inside its own
   * unit of work (the index's group commit): the bytes are durable but in no
   * mailbox yet. Give it a name in the unit of work, or discard it.
   */
  stage(location: string, raw: Buffer, options?: { internalDate?: number }): Promise<StagedBlob>;
  /** Drops a staged body that will never be named (its unit of work failed). */
  discard(staged: StagedBlob): void;
  /** The body, or undefined when there is none under that ref. */
  read(location: string, ref: string, maxBytes?: number): Promise<Buffer | undefined>;
  /** Removes a body; one already gone is no error. */
  remove(location: string, ref: string): Promise<void>;
}

export interface StagedBlob {
  location: string;
  /** A unique part of the name, kept by every later name of the body (a Maildir file's base). */
  base: string;
  /** Where the staged bytes are (the Maildir tmp/ file). */
  staged: string;
}

// ---- the other ports ---------------------------------------------------------------

export type { ScriptInfo } from './scripts.js';
export type { QueueEntry, QueueHead, QueueListener, RemoveOptions, EnqueueExtra, RecipientState, RecipientStatus } from './queue.js';
export type { MetadataEntry, MetadataLimits, MetadataChange, MetadataSetResult } from './metadata.js';
export type { AdminStore, AdminAccountRecord, CredentialRecord, PrincipalRef, AuditRecord, NewAuditRecord } from './admin.js';
import type { AdminStore } from './admin.js';
import type { MessageIndex } from '../mime/types.js';
import type { ScriptInfo } from './scripts.js';
import type { QueueEntry, QueueHead, QueueListener, RemoveOptions, EnqueueExtra } from './queue.js';
import type { MetadataEntry, MetadataLimits, MetadataChange, MetadataSetResult } from './metadata.js';

/** Sieve scripts of an account, one of them (at most) active. The caller validates script text. */
export interface ScriptStore {
  list(accountId: number): Promise<ScriptInfo[]>;
  /** The script's text; NONEXISTENT when there is none. */
  get(accountId: number, name: string): Promise<string>;
  exists(accountId: number, name: string): Promise<boolean>;
  /** The active script's name and text, if one is active (asked once per delivery). */
  active(accountId: number): Promise<{ name: string; text: string } | undefined>;
  /** Stores (creates or replaces) a script, durably. */
  put(accountId: number, name: string, text: string): Promise<void>;
  /** Makes `name` the one active script, or deactivates all when name is undefined. */
  activate(accountId: number, name: string | undefined): Promise<void>;
  remove(accountId: number, name: string): Promise<void>;
  rename(accountId: number, from: string, to: string): Promise<void>;
  /** Removes every script of an account (account deletion). */
  removeAll(accountId: number): Promise<void>;
}

/** Messages waiting to be sent (or, for the local-retry queue, delivered again). */
export interface QueueStore {
  /** Durable when it resolves. Inside a unit of work the entry appears when the unit commits, and never if it is undone. */
  enqueue(sender: string, recipients: string[], raw: Buffer, reason: string, extra?: EnqueueExtra): Promise<QueueEntry>;
  /** Oldest first, each with `held` when on hold. */
  list(): Promise<QueueEntry[]>;
  /** The entries' ids, oldest first, and whether each is on hold, without reading them (the runner's frequent look). */
  listIds(): Promise<QueueHead[]>;
  get(id: string): Promise<QueueEntry | undefined>;
  /** The queued message; NONEXISTENT when the entry is gone. */
  message(id: string): Promise<Buffer>;
  /** Durable when it resolves: a crash afterwards finds this state, not the one before. NONEXISTENT when the entry was deleted meanwhile. */
  update(entry: QueueEntry): Promise<void>;
  /** Durable when it resolves, unless `durable: false` (answers once the entry is gone; the fsync follows). NONEXISTENT for an unknown id. */
  remove(id: string, options?: RemoveOptions): Promise<void>;
  /** On hold (like postsuper -h): listed with `held`, not tried until released. NONEXISTENT for an unknown id. */
  hold(id: string): Promise<void>;
  release(id: string): Promise<void>;
  /** Asks whoever runs this queue (another process) to try every entry now, or only `id` (NONEXISTENT when unknown). */
  requestFlush(id?: string): Promise<void>;
  /** Whether a flush of every entry was asked for since the last call (and forgets it). */
  takeFlushRequest(): Promise<boolean>;
  /** The ids a flush of one entry was asked for since the last call (and forgets them). */
  takeFlushedIds(): Promise<string[]>;
  /** Forgets what a crash mid-enqueue left behind. */
  cleanOrphans(now?: number): Promise<void>;
  /** Tells `listener`, in this process, of each entry made whole (once durable) and of hold changes (null): the runner's feed. */
  watch(listener: QueueListener): Promise<void>;
  unwatch(listener: QueueListener): Promise<void>;
  /** Whether another process added entries or changed holds since the last call (and forgets it): the runner then looks at everything. */
  takeRescanRequest(): Promise<boolean>;
  /**
   * Takes an entry for this process's runner before an attempt: the entry
   * as stored now, leased to this process for `leaseMs`. Undefined when it
   * is gone, on hold, or leased by another process whose lease has not run
   * out (a queue shared by several nodes: each entry is worked on by one at
   * a time; a node that dies gives its entries back when their leases end).
   * A queue only one process runs (SQLite, memory) leases nothing.
   */
  claim(id: string, leaseMs: number): Promise<QueueEntry | undefined>;
  /** Extends this process's lease while the attempt goes on; false when it is no longer this process's (ran out and taken, or gone). */
  renewClaim(id: string, leaseMs: number): Promise<boolean>;
  /** Gives the entry back after the attempt (its lease ends now); an entry gone or not leased here is no error. */
  releaseClaim(id: string): Promise<void>;
}

/** What delivery remembers between messages, per account: vacation replies sent (RFC 5230) and duplicate ids (RFC 7352). */
export interface DeliveryMemory {
  /** True if a vacation reply to `sender` under `handle` was sent and has not expired. */
  vacationSentRecently(accountId: number, sender: string, handle: string, now?: number): Promise<boolean>;
  recordVacation(accountId: number, sender: string, handle: string, periodMs: number, now?: number): Promise<void>;
  /** duplicate: was `id` seen under `handle` within its period? Records it (refreshing with `last`). */
  checkDuplicate(accountId: number, handle: string, id: string, periodMs: number, last: boolean, now?: number): Promise<boolean>;
  /** Forgets expired entries. */
  prune(now?: number): Promise<void>;
}

/** IMAP METADATA (RFC 5464) entries of an account: per mailbox, and (mailboxId null) the server's. */
export interface MetadataStore {
  /** The entry itself (when it has a value) and, with `descendants`, every entry below it, by name. */
  read(accountId: number, mailboxId: number | null, entry: string, descendants: boolean): Promise<MetadataEntry[]>;
  /** Every change or none (RFC 5464 4.3), within `limits`. */
  set(accountId: number, mailboxId: number | null, changes: readonly MetadataChange[], limits: MetadataLimits): Promise<MetadataSetResult>;
}

/** The mail index as its users reach it: messages and mailboxes, \Recent and counters, METADATA. */
export type MailPort = MailStore & MailboxCounters & { readonly metadata: MetadataStore };

/** Where a removed account's bodies and scripts go: set aside (for an administrator to look at) or purged. */
export interface AccountFileStore {
  /** Moves the account's files out of the way; returns where they went (undefined: it had none). */
  setAside(account: { domain: string; localpart: string }): Promise<string | undefined>;
  purge(account: { domain: string; localpart: string }): Promise<void>;
}

/** Every port of one storage, as a unit of work sees them. */
export interface StoragePorts {
  directory: Directory;
  mail: MailPort;
  scripts: ScriptStore;
  queue: QueueStore;
  /** Messages stored for some recipients whose other recipients are retried locally. */
  localRetry: QueueStore;
  memory: DeliveryMemory;
  /** Administrators, API tokens and sessions, and the audit log (the admin port). */
  admin: AdminStore;
}

/**
 * The ports bound to one unit of work: calls through them run inside it,
 * and see its changes before they land. Use these, never the storage's own
 * ports, inside the body (those wait for the unit to end). Appending and
 * copying (mail.append, appendMany, copy) are not part of a unit of work.
 * The changes a unit makes reach the change feed (mail.feed) once the
 * outermost unit commits, and never when it rolls back.
 */
export interface UnitOfWork extends StoragePorts {
  /** A unit inside this one: when it throws, only its own changes are undone. */
  transaction<T>(body: (tx: UnitOfWork) => Promise<T>): Promise<T>;
}

/** What a backend opens: its ports, units of work over them, and what the server does besides serving. */
export interface Storage extends StoragePorts {
  mail: MailPort & MailMaintenance & MailImport;
  /** Removed accounts' files (see AccountFileStore). */
  files: AccountFileStore;
  /**
   * Runs body as one unit of work over every port: all its changes (the
   * directory, the mail index, scripts, delivery memory, and the files the
   * backend keeps beside them) land when it resolves, or none do when it
   * throws. Units run one at a time; calls from outside a unit wait while
   * one is open, so they never see its uncommitted changes. Queue entries
   * enqueued inside appear when the outermost unit commits (their messages
   * are written at once, the entries right after the commit).
   */
  transaction<T>(body: (tx: UnitOfWork) => Promise<T>): Promise<T>;
  /**
   * A secret every node on this storage shares (the SRS key): the one kept
   * under name, or `proposal`, kept when there is none yet (the first
   * node's wins; it never changes after). Only where several nodes share
   * the storage (PostgreSQL); on one machine the data dir's file serves.
   */
  sharedSecret?(name: string, proposal: Buffer): Promise<Buffer>;
  close(): void;
}
