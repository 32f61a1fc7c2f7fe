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

/** Domains, accounts and aliases. Every method validates nothing about syntax: callers do. */
export interface Directory {
  addDomain(name: string): void;
  removeDomain(name: string): void;
  hasDomain(name: string): boolean;
  listDomains(): DomainRecord[];

  addAccount(account: NewAccount): AccountRecord;
  getAccount(address: string): AccountRecord | undefined;
  getAccountById(id: number): AccountRecord | undefined;
  listAccounts(): AccountRecord[];
  setPassword(address: string, passwordHash: string, scramSha256: string | null): void;
  setDisabled(address: string, disabled: boolean): void;
  setQuota(address: string, quota: number | null): void;
  removeAccount(address: string): void;

  /** Adds targets to an alias, creating it if needed. */
  addAliasTargets(address: string, targets: string[]): void;
  /** Removes the given targets, or the whole alias when targets is undefined. */
  removeAliasTargets(address: string, targets?: string[]): void;
  getAlias(address: string): AliasRecord | undefined;
  listAliases(): AliasRecord[];

  /** Runs fn in one transaction: all its changes land or none do. */
  transaction<T>(fn: () => T): T;
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
}

export interface AppendOptions {
  flags?: string[];
  /** Milliseconds since the epoch; default now. */
  internalDate?: number;
  /** Skip the quota check (e.g. for a mailbox the account cannot fill on its own). */
  ignoreQuota?: boolean;
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
  subscribe(accountId: number, listener: (change: MailboxChange) => void): () => void;
  publish(change: MailboxChange): void;
}

export interface MailStore {
  readonly feed: ChangeFeed;

  /** Creates the Maildir and the default folders; safe to call again. */
  provisionAccount(accountId: number): void;
  /** Forgets every mailbox and message of the account in the index; the files are the caller's (AccountFiles). */
  deleteAccountMail(accountId: number): void;

  listMailboxes(accountId: number): MailboxInfo[];
  getMailbox(accountId: number, name: string): MailboxInfo | undefined;
  /** Cheap existence check (getMailbox also counts messages). */
  hasMailbox(accountId: number, name: string): boolean;
  /** The mailbox without counters. */
  findMailbox(accountId: number, name: string): MailboxSummary | undefined;
  /** The account owning a mailbox id, if the mailbox exists. */
  mailboxOwner(mailboxId: number): number | undefined;
  selectSummary(mailboxId: number): SelectSummary;
  /** UIDs expunged with a MODSEQ above `modseq` (QRESYNC VANISHED), ascending. */
  expungedSince(mailboxId: number, modseq: number): number[];
  /** Changes after `modseq` in one snapshot; undefined when the mailbox is gone (or is not `accountId`'s). */
  changesSince(mailboxId: number, modseq: number, accountId?: number): MailboxDelta | undefined;
  createMailbox(accountId: number, name: string, specialUse?: SpecialUse | null): MailboxInfo;
  deleteMailbox(accountId: number, name: string): void;
  renameMailbox(accountId: number, from: string, to: string): void;
  /**
   * IMAP subscriptions: names, kept apart from the mailboxes (RFC 9051
   * 6.3.7). Subscribing a name no mailbox has is allowed; DELETE and RENAME
   * leave the list alone. BADINPUT for an invalid name, LIMIT past the cap.
   */
  addSubscription(accountId: number, name: string): void;
  /** No error when the name is not subscribed. */
  removeSubscription(accountId: number, name: string): void;
  /** Sorted; may include names with no mailbox. */
  listSubscriptions(accountId: number): string[];

  /** Durable (file and index) when the promise resolves. */
  append(accountId: number, mailbox: string, raw: Buffer, options?: AppendOptions): Promise<AppendResult>;

  /** Several messages as one unit: all stored with ascending UIDs, or none (durable when it resolves). */
  appendMany(accountId: number, mailbox: string, messages: Array<{ raw: Buffer; options?: AppendOptions }>): Promise<AppendResult[]>;

  /** Messages with uid in [fromUid, toUid], in UID order. */
  listMessages(mailboxId: number, fromUid?: number, toUid?: number): MessageRecord[];
  getMessage(mailboxId: number, uid: number): MessageRecord | undefined;
  readMessage(mailboxId: number, uid: number): Buffer;
  /** Returns the records that changed, with their new modseq. */
  setFlags(mailboxId: number, uids: number[], mode: FlagMode, flags: string[], unchangedSince?: number): MessageRecord[];
  /** Removes the messages (all \Deleted ones when uids is undefined); returns the expunged UIDs. */
  expunge(mailboxId: number, uids?: number[]): number[];
  /** Copies into another mailbox of the same account; returns [sourceUid, newUid] pairs. */
  copy(mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>>;
  /**
   * Moves into another mailbox of the same account as one unit: after a
   * crash each message is in exactly one of the two. Returns [sourceUid,
   * newUid] pairs in ascending source order (durable when it resolves).
   */
  move(mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>>;

  quota(accountId: number): Quota;
}
