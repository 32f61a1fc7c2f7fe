// The mail store over SQLite and Maildir++: one object composing its parts,
// so callers hold one thing that implements the ports (MailStore,
// MailboxCounters, MailMaintenance). The parts, one concern each:
//   mail/core.ts            the index handle, transactions with their file changes, lookups
//   mail/mailboxes.ts       folders: list, create, delete, rename, SELECT and catch-up snapshots
//   mail/subscriptions.ts   the subscription list (table and file)
//   mail/recent.ts          \Recent claims and STATUS counts
//   mail/messages.ts        rows, body reads, flags, expunge, copy, move
//   mail/append-batcher.ts  appends with group commit
//   mail/recovery.ts        making the index agree with the files after a crash
//   maildir/blob-store.ts   the bodies (the BlobStore port)
//   index/change-publisher.ts  publishing commits, this process's and others'
import type {
  AppendOptions,
  AppendResult,
  ChangeFeed,
  ExpungedHold,
  FlagMode,
  MailboxCounters,
  MailboxDelta,
  MailboxInfo,
  MailboxSummary,
  MailMaintenance,
  LentBytes,
  MaildropEntry,
  MailStore,
  MessageRecord,
  Quota,
  SelectSummary,
  SpecialUse,
} from './ports.js';
import type { IndexDb } from './index/database.js';
import { MailError } from './errors.js';
import type { MailboxMetadata } from './metadata.js';
import { MailCore, type MailCoreOptions } from './mail/core.js';
import { Mailboxes } from './mail/mailboxes.js';
import { Subscriptions } from './mail/subscriptions.js';
import { RecentCounts } from './mail/recent.js';
import { Messages } from './mail/messages.js';
import { AppendBatcher } from './mail/append-batcher.js';
import { Recovery } from './mail/recovery.js';
import { FolderImporter } from './mail/import.js';
import type { MailboxRef } from './index/mail-rows.js';
import type { FileChanges } from './maildir/file-changes.js';
import type { Either } from './unit-of-work.js';

export { DEFAULT_FOLDERS, MAX_SUBSCRIPTIONS, validateMailboxName, type MessageIndexer } from './index/mail-rows.js';

export type MaildirStoreOptions = MailCoreOptions;

export class MaildirStore implements Either<MailStore>, Either<MailboxCounters>, Either<MailMaintenance> {
  readonly feed: ChangeFeed;
  /** IMAP METADATA entries (storage/metadata.ts); their rows follow the mailboxes'. */
  readonly metadata: MailboxMetadata;
  private readonly core: MailCore;
  private readonly mailboxes: Mailboxes;
  private readonly subscriptions: Subscriptions;
  private readonly recent: RecentCounts;
  private readonly messages: Messages;
  private readonly batcher: AppendBatcher;
  private readonly recovery: Recovery;
  /** Folders brought from another server with their UIDs (the MailImport port). */
  readonly imports: FolderImporter;

  constructor(db: IndexDb, options: MaildirStoreOptions) {
    this.core = new MailCore(db, options);
    this.feed = this.core.publisher.feed;
    this.metadata = this.core.metadata;
    this.subscriptions = new Subscriptions(this.core);
    this.mailboxes = new Mailboxes(this.core, this.subscriptions);
    this.recent = new RecentCounts(this.core);
    this.batcher = new AppendBatcher(this.core);
    this.messages = new Messages(this.core, this.batcher);
    this.recovery = new Recovery(this.core, this.subscriptions);
    this.imports = new FolderImporter(this.core);
  }

  // ---- MailStore ---------------------------------------------------------------

  provisionAccount(accountId: number): void {
    this.mailboxes.provisionAccount(accountId);
  }
  deleteAccountMail(accountId: number): void {
    this.mailboxes.deleteAccountMail(accountId);
  }
  listMailboxes(accountId: number): MailboxInfo[] {
    return this.mailboxes.list(accountId);
  }
  getMailbox(accountId: number, name: string): MailboxInfo | undefined {
    return this.mailboxes.get(accountId, name);
  }
  hasMailbox(accountId: number, name: string): boolean {
    return this.mailboxes.has(accountId, name);
  }
  findMailbox(accountId: number, name: string): MailboxSummary | undefined {
    return this.mailboxes.find(accountId, name);
  }
  mailboxOwner(mailboxId: number): number | undefined {
    return this.mailboxes.owner(mailboxId);
  }
  selectSummary(mailboxId: number): SelectSummary {
    return this.mailboxes.selectSummary(mailboxId);
  }
  expungedSince(mailboxId: number, modseq: number): number[] {
    return this.mailboxes.expungedSince(mailboxId, modseq);
  }
  changesSince(mailboxId: number, modseq: number, accountId?: number): MailboxDelta | undefined {
    return this.mailboxes.changesSince(mailboxId, modseq, accountId);
  }
  createMailbox(accountId: number, name: string, specialUse: SpecialUse | null = null): Promise<MailboxInfo> {
    return this.mailboxes.create(accountId, name, specialUse);
  }
  deleteMailbox(accountId: number, name: string): void {
    this.mailboxes.delete(accountId, name);
  }
  renameMailbox(accountId: number, from: string, to: string): void {
    this.mailboxes.rename(accountId, from, to);
  }
  addSubscription(accountId: number, name: string): Promise<void> {
    return this.subscriptions.add(accountId, name);
  }
  removeSubscription(accountId: number, name: string): Promise<void> {
    return this.subscriptions.remove(accountId, name);
  }
  listSubscriptions(accountId: number): string[] {
    return this.subscriptions.list(accountId);
  }

  async append(accountId: number, mailbox: string, raw: Buffer, options: AppendOptions = {}): Promise<AppendResult> {
    const [result] = await this.batcher.appendGroup(this.refOf(accountId, mailbox), [{ raw, options }]);
    return result!;
  }
  async appendMany(accountId: number, mailbox: string, messages: Array<{ raw: Buffer; options?: AppendOptions }>): Promise<AppendResult[]> {
    return this.batcher.appendGroup(this.refOf(accountId, mailbox), messages.map((m) => ({ raw: m.raw, options: m.options ?? {} })));
  }
  private refOf(accountId: number, mailbox: string): MailboxRef {
    const row = this.core.mailboxRef(accountId, mailbox);
    if (!row) throw new MailError('NONEXISTENT', `no such mailbox: ${mailbox}`);
    return row;
  }

  listMessages(mailboxId: number, fromUid?: number, toUid?: number): MessageRecord[] {
    return this.messages.list(mailboxId, fromUid, toUid);
  }
  listMaildrop(mailboxId: number): Promise<MaildropEntry[]> {
    // A promise: Either<> lets an optional port method be given only as it is declared.
    return Promise.resolve(this.messages.listMaildrop(mailboxId));
  }
  getMessage(mailboxId: number, uid: number): MessageRecord | undefined {
    return this.messages.get(mailboxId, uid);
  }
  readMessage(mailboxId: number, uid: number, maxBytes?: number): Promise<Buffer> {
    return this.messages.read(mailboxId, uid, maxBytes);
  }
  readMessagesLent(mailboxId: number, uids: readonly number[]): Promise<Array<LentBytes | Error>> {
    return this.messages.readManyLent(mailboxId, uids);
  }
  setFlags(mailboxId: number, uids: number[], mode: FlagMode, flags: string[], unchangedSince?: number): Promise<MessageRecord[]> {
    return this.messages.setFlags(mailboxId, uids, mode, flags, unchangedSince);
  }
  expunge(mailboxId: number, uids?: number[]): Promise<number[]> {
    return this.messages.expunge(mailboxId, uids);
  }
  copy(mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>> {
    return this.messages.copy(mailboxId, uids, targetMailboxId);
  }
  move(mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>> {
    return this.messages.move(mailboxId, uids, targetMailboxId);
  }
  quota(accountId: number): Quota {
    return this.core.quota(accountId);
  }
  holdExpunged(mailboxId: number, numbers: (uid: number) => boolean): Promise<ExpungedHold> {
    return Promise.resolve(this.core.expunged.hold(mailboxId, numbers));
  }

  // ---- MailboxCounters -------------------------------------------------------------

  getMailboxById(id: number): MailboxInfo {
    return this.mailboxes.getById(id);
  }
  firstRecentUid(mailboxId: number): number {
    return this.recent.firstRecentUid(mailboxId);
  }
  claimRecent(mailboxId: number, uidNext: number): number {
    return this.recent.claimRecent(mailboxId, uidNext);
  }
  countFromUid(mailboxId: number, uid: number): number {
    return this.recent.countFromUid(mailboxId, uid);
  }
  deletedCount(mailboxId: number): number {
    return this.recent.deletedCount(mailboxId);
  }

  // ---- MailMaintenance -------------------------------------------------------------

  recoverAccount(accountId: number, options: { rebuild?: boolean } = {}): { adopted: number; dropped: number } {
    return this.recovery.recoverAccount(accountId, options);
  }
  watchExternalChanges(intervalMs?: number): () => void {
    return this.core.publisher.watchExternalChanges(intervalMs);
  }
  drain(): Promise<void> {
    return this.batcher.drain();
  }

  // ---- this backend only (tests and the storage opener) ---------------------------

  /** The account's Maildir (tests; METADATA and subscription files live there). */
  accountDir(accountId: number): string {
    return this.core.accountDir(accountId);
  }
  /** The message file's absolute path (tests look at its name). */
  messagePath(mailboxId: number, uid: number): string {
    return this.messages.path(mailboxId, uid);
  }
  /** A unit of work over the index and the files beside it (see MailCore.unit); hold the gate around it. */
  unit<T>(body: () => Promise<T>): Promise<T> {
    return this.core.unit(body);
  }
  /** Runs fn with the file changes of the transaction or unit of work open now (or its own), undone with it. */
  withFileChanges<T>(fn: (files: FileChanges) => T): T {
    return this.core.withFileChanges(() => fn(this.core.fileChanges()));
  }
  /** What is kept of expunged messages for the IMAP views that still number them (tests). */
  expungedKept(): { records: number; files: number; bytes: number } {
    return this.core.expunged.counts();
  }
  /** Stops the writer threads (the store is being closed). */
  stopWriters(): void {
    this.core.expunged.close();
    this.core.blobs.close();
  }
}
