// What the IMAP session needs from the rest of Postino. Implemented in
// src/services/imap-backend.ts over the mail store and the authenticator;
// tests can implement it in memory. Errors are MailError (storage/errors.ts):
// the session maps their `code` to IMAP response codes and never shows the
// text of anything else. Everything that reaches storage returns a promise
// (a networked backend must await it); the pure helpers (decodeHeader,
// writtenDay, messageIndex: a function of the record and the raw bytes
// alone) stay synchronous, as the SEARCH matcher calls them per message.
import type { ExpungedHold, FlagMode, MailboxChange, MailboxDelta, MailboxInfo, MessageRecord, Quota, SpecialUse } from '../../../storage/ports.js';
import type { MessageIndex } from '../../../mime/types.js';
import type { MetadataChange, MetadataEntry, MetadataLimits, MetadataSetResult } from '../../../storage/metadata.js';

export type { ExpungedHold, FlagMode, MailboxChange, MailboxDelta, MailboxInfo, MessageRecord, Quota, SpecialUse, MessageIndex };
export type { MetadataChange, MetadataEntry, MetadataLimits, MetadataSetResult };

/** A mailbox without its counters (which cost a scan of its messages). */
export type MailboxRef = Pick<MailboxInfo, 'id' | 'accountId' | 'name' | 'uidValidity' | 'uidNext' | 'highestModseq' | 'specialUse'>;

export interface ImapUser {
  accountId: number;
  address: string;
}

export type ImapSaslStep =
  | { kind: 'challenge'; data: Buffer }
  | { kind: 'success'; user: ImapUser; data?: Buffer | undefined }
  | { kind: 'failure'; error: unknown };

export interface ImapSaslExchange {
  step(response: Buffer | undefined): Promise<ImapSaslStep>;
}

/** What SELECT reports beyond the mailbox counters, without loading every message. */
export interface SelectState {
  /** Every UID, ascending: the sequence number map. */
  uids: number[];
  /** UID of the first message without \\Seen, if any. */
  firstUnseenUid: number | undefined;
  /** Keywords in use in the mailbox (for FLAGS and PERMANENTFLAGS). */
  keywords: string[];
  /** HIGHESTMODSEQ as of the same moment as `uids`: where the session's view starts. */
  highestModseq: number;
}

/** Reads one message of a mailbox: whole, or (maxBytes) at least its first maxBytes bytes. */
export type BodyReader = (uid: number, maxBytes?: number) => Promise<Buffer>;

export interface ImapBackend {
  /** SASL mechanisms offered (upper case). */
  readonly saslMechanisms: readonly string[];
  /** Largest message APPEND accepts (APPENDLIMIT). */
  readonly appendLimit: number;

  login(username: string, password: string, ip: string): Promise<ImapUser>;
  startSasl(mechanism: string, ip: string): ImapSaslExchange;

  listMailboxes(user: ImapUser): Promise<MailboxInfo[]>;
  getMailbox(user: ImapUser, name: string): Promise<MailboxInfo | undefined>;
  getMailboxById(user: ImapUser, id: number): Promise<MailboxInfo | undefined>;
  /** Like getMailbox, without MESSAGES/UNSEEN/SIZE: what SELECT, APPEND and COPY need. */
  findMailbox(user: ImapUser, name: string): Promise<MailboxRef | undefined>;
  createMailbox(user: ImapUser, name: string, specialUse?: SpecialUse | null): Promise<MailboxInfo>;
  deleteMailbox(user: ImapUser, name: string): Promise<void>;
  renameMailbox(user: ImapUser, from: string, to: string): Promise<void>;
  /** SUBSCRIBE / UNSUBSCRIBE: the name need not exist as a mailbox, but must be a valid name. */
  setSubscribed(user: ImapUser, name: string, subscribed: boolean): Promise<void>;
  /** Subscribed names (LSUB, LIST (SUBSCRIBED), RETURN (SUBSCRIBED)); some may name no mailbox. */
  listSubscriptions(user: ImapUser): Promise<string[]>;

  /** The UID list and first unseen message (SELECT); must stay fast for 100,000 messages. */
  selectState(user: ImapUser, mailboxId: number): Promise<SelectState>;
  /** Records for the given UIDs (missing ones skipped), in UID order. */
  messages(user: ImapUser, mailboxId: number, uids: readonly number[]): Promise<MessageRecord[]>;
  /** The raw message, read without blocking the event loop. */
  readMessage(user: ImapUser, mailboxId: number, uid: number): Promise<Buffer>;
  /**
   * For a command that reads many bodies of one mailbox (FETCH, SEARCH):
   * the owner checked once, then readMessage without asking again. With
   * maxBytes, only that much from the start is needed (it may give more).
   */
  bodyReader(user: ImapUser, mailboxId: number): Promise<BodyReader>;
  /**
   * \Recent (RFC 3501 2.3.2): with `claim`, takes the messages below uidNext
   * that no read-write session has seen yet, for this session alone;
   * without, only looks. Returns the first recent UID (uidNext when none).
   */
  recentFrom(user: ImapUser, mailboxId: number, uidNext: number, claim: boolean): Promise<number>;
  /** Messages no read-write session has seen yet (STATUS RECENT). */
  unclaimedRecent(user: ImapUser, mailboxId: number): Promise<number>;
  /** Messages flagged \Deleted (STATUS DELETED). */
  deletedCount(user: ImapUser, mailboxId: number): Promise<number>;
  /**
   * What changed after `modseq` (new messages, flag changes, expunges), from
   * one snapshot: the session's view catches up from it at the points RFC
   * 3501 7.4.1 allows. Undefined when the mailbox is gone.
   */
  changesSince(user: ImapUser, mailboxId: number, modseq: number): Promise<MailboxDelta | undefined>;
  /**
   * RFC 2180 4.1.1: what is expunged while the view numbers it (`numbers`)
   * stays readable to it (its record, its body for a while) until it lets go
   * (see ExpungedHold). Undefined when the store cannot keep anything.
   */
  holdExpunged?(user: ImapUser, mailboxId: number, numbers: (uid: number) => boolean): Promise<ExpungedHold | undefined>;
  /** UIDs expunged from the mailbox with a MODSEQ above `modseq` (QRESYNC), ascending. */
  expungedSince(user: ImapUser, mailboxId: number, modseq: number): Promise<number[]>;
  /** RFC 2047 encoded words in a raw (latin1 byte string) header value, decoded to text. */
  decodeHeader(value: string): string;
  /** The day a Date header value names as written (UTC midnight of it), null when unreadable (SEARCH SENT*). */
  writtenDay(value: string): number | null;
  /**
   * The MIME index of a message: the stored one, or one made from `raw` (the
   * message, for a record stored without an index) and cached. Undefined
   * when the record has none stored or cached and `raw` is not given: read
   * the message and ask again. Read-only: the same object may be handed to
   * every session (FETCH keeps its renderings per index object).
   */
  messageIndex(user: ImapUser, record: MessageRecord, raw?: Buffer): MessageIndex | undefined;

  append(user: ImapUser, mailbox: string, raw: Buffer, flags: string[], internalDate: number | undefined): Promise<{ uidValidity: number; uid: number }>;
  /** MULTIAPPEND: all the messages, in order, or none of them. */
  appendMany(
    user: ImapUser,
    mailbox: string,
    messages: Array<{ raw: Buffer; flags: string[]; internalDate: number | undefined }>,
  ): Promise<{ uidValidity: number; uids: number[] }>;
  setFlags(user: ImapUser, mailboxId: number, uids: number[], mode: FlagMode, flags: string[], unchangedSince?: number): Promise<MessageRecord[]>;
  expunge(user: ImapUser, mailboxId: number, uids?: number[]): Promise<number[]>;
  copy(user: ImapUser, mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>>;
  /** MOVE as one unit (the source copies are expunged in the same step); [sourceUid, newUid] pairs, ascending. */
  move(user: ImapUser, mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>>;
  quota(user: ImapUser): Promise<Quota>;

  /**
   * METADATA (RFC 5464): the entry (when it has a value) and, with
   * `descendants`, every entry below it, by name. `mailboxId` null: the
   * server's entries (the "" mailbox). Names are lower-cased.
   */
  readMetadata(user: ImapUser, mailboxId: number | null, entry: string, descendants: boolean): Promise<MetadataEntry[]>;
  /** SETMETADATA: every change (a value, or null to remove) or none of them, within `limits`. */
  setMetadata(user: ImapUser, mailboxId: number | null, changes: readonly MetadataChange[], limits: MetadataLimits): Promise<MetadataSetResult>;

  /**
   * Committed changes of the account, until the returned function is
   * called. `missed`: changes may have gone unheard (see
   * ChangeFeed.subscribe): look again at everything the session shows.
   */
  subscribe(user: ImapUser, listener: (change: MailboxChange) => void, missed?: () => void): () => void;
}
