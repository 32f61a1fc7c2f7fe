// The IMAP backend over the mail store and the authenticator: what
// src/protocol/imap/backend.ts asks for, answered from storage/.
import type { ImapBackend, ImapSaslExchange, ImapSaslStep, ImapUser, MailboxRef, SelectState } from '../protocol/imap/backend.js';
import type { FlagMode, MailboxChange, MailboxCounters, MailboxDelta, MailboxInfo, MailStore, MessageRecord, Quota, SpecialUse } from '../../storage/ports.js';
import type { MessageIndex } from '../../storage/mime/types.js';
import type { MetadataChange, MetadataEntry, MetadataLimits, MetadataSetResult } from '../../storage/metadata.js';
import type { SynchronousMailPort } from '../../storage/unit-of-work.js';
import { indexMessage, parseMessageIndex } from '../../storage/mime/index.js';
import { decodeHeader, writtenDay } from '../../storage/mime/decode.js';
import { MailError } from '../../storage/errors.js';
import type { Authenticator } from '../auth/authenticator.js';
import { SASL_MECHANISMS, startSasl } from '../auth/sasl.js';

export interface ImapBackendStores {
  mail: SynchronousMailPort;
}

/** Indexes made on the fly for messages stored without one, most recent last. */
class IndexCache {
  private readonly map = new Map<string, MessageIndex>();
  constructor(private readonly max: number) {}
  get(key: string): MessageIndex | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, v: MessageIndex): void {
    this.map.set(key, v);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
}

export class StoreImapBackend implements ImapBackend {
  readonly saslMechanisms: readonly string[] = SASL_MECHANISMS;
  private readonly indexes = new IndexCache(2000);

  constructor(
    private readonly stores: ImapBackendStores,
    private readonly auth: Authenticator,
    /** Largest APPEND; a config reload may change it. */
    public appendLimit: number,
  ) {}

  async login(username: string, password: string, ip: string): Promise<ImapUser> {
    // The LOGIN command is a plain-text password: logged as PLAIN, as Dovecot does.
    const account = await this.auth.login(username, password, { ip, service: 'imap', mechanism: 'PLAIN' });
    return { accountId: account.id, address: account.address };
  }

  startSasl(mechanism: string, ip: string): ImapSaslExchange {
    const exchange = startSasl(mechanism, this.auth, { ip, service: 'imap' });
    return {
      async step(response: Buffer | undefined): Promise<ImapSaslStep> {
        const s = await exchange.step(response);
        if (s.kind === 'success') return { kind: 'success', user: { accountId: s.account.id, address: s.account.address }, data: s.data };
        if (s.kind === 'failure') return { kind: 'failure', error: s.error };
        return s;
      },
    };
  }

  /** Mailbox ids come from the session's own lookups; this keeps a bug from crossing accounts. */
  private own(user: ImapUser, mailboxId: number): void {
    if (this.stores.mail.mailboxOwner(mailboxId) !== user.accountId) throw new MailError('NONEXISTENT', 'no such mailbox');
  }

  listMailboxes(user: ImapUser): MailboxInfo[] {
    return this.stores.mail.listMailboxes(user.accountId);
  }

  getMailbox(user: ImapUser, name: string): MailboxInfo | undefined {
    return this.stores.mail.getMailbox(user.accountId, name);
  }

  getMailboxById(user: ImapUser, id: number): MailboxInfo | undefined {
    try {
      const info = this.stores.mail.getMailboxById(id);
      return info.accountId === user.accountId ? info : undefined;
    } catch {
      return undefined;
    }
  }

  findMailbox(user: ImapUser, name: string): MailboxRef | undefined {
    return this.stores.mail.findMailbox(user.accountId, name);
  }

  createMailbox(user: ImapUser, name: string, specialUse: SpecialUse | null = null): MailboxInfo {
    return this.stores.mail.createMailbox(user.accountId, name, specialUse);
  }

  deleteMailbox(user: ImapUser, name: string): void {
    this.stores.mail.deleteMailbox(user.accountId, name);
  }

  renameMailbox(user: ImapUser, from: string, to: string): void {
    this.stores.mail.renameMailbox(user.accountId, from, to);
  }

  setSubscribed(user: ImapUser, name: string, subscribed: boolean): void {
    if (subscribed) this.stores.mail.addSubscription(user.accountId, name);
    else this.stores.mail.removeSubscription(user.accountId, name);
  }

  listSubscriptions(user: ImapUser): string[] {
    return this.stores.mail.listSubscriptions(user.accountId);
  }

  selectState(user: ImapUser, mailboxId: number): SelectState {
    this.own(user, mailboxId);
    return this.stores.mail.selectSummary(mailboxId);
  }

  messages(user: ImapUser, mailboxId: number, uids: readonly number[]): MessageRecord[] {
    this.own(user, mailboxId);
    if (uids.length === 0) return [];
    if (uids.length <= 64) {
      const out: MessageRecord[] = [];
      for (const uid of uids) {
        const r = this.stores.mail.getMessage(mailboxId, uid);
        if (r) out.push(r);
      }
      return out;
    }
    const wanted = new Set(uids);
    return this.stores.mail.listMessages(mailboxId, uids[0], uids[uids.length - 1]).filter((r) => wanted.has(r.uid));
  }

  readMessage(user: ImapUser, mailboxId: number, uid: number): Promise<Buffer> {
    this.own(user, mailboxId);
    return this.stores.mail.readMessage(mailboxId, uid);
  }

  recentFrom(user: ImapUser, mailboxId: number, uidNext: number, claim: boolean): number {
    this.own(user, mailboxId);
    const mail = this.stores.mail;
    return claim ? mail.claimRecent(mailboxId, uidNext) : Math.min(mail.firstRecentUid(mailboxId), uidNext);
  }

  unclaimedRecent(user: ImapUser, mailboxId: number): number {
    this.own(user, mailboxId);
    return this.stores.mail.countFromUid(mailboxId, this.stores.mail.firstRecentUid(mailboxId));
  }

  deletedCount(user: ImapUser, mailboxId: number): number {
    this.own(user, mailboxId);
    return this.stores.mail.deletedCount(mailboxId);
  }

  changesSince(user: ImapUser, mailboxId: number, modseq: number): MailboxDelta | undefined {
    // The store checks the owner on the same row it reads (this runs after every command).
    return this.stores.mail.changesSince(mailboxId, modseq, user.accountId);
  }

  expungedSince(user: ImapUser, mailboxId: number, modseq: number): number[] {
    this.own(user, mailboxId);
    return this.stores.mail.expungedSince(mailboxId, modseq);
  }

  decodeHeader(value: string): string {
    return decodeHeader(value);
  }

  writtenDay(value: string): number | null {
    return writtenDay(value);
  }

  messageIndex(user: ImapUser, record: MessageRecord, raw?: Buffer): MessageIndex | undefined {
    const stored = parseMessageIndex(record.mime);
    if (stored) return stored;
    const key = `${record.mailboxId}:${record.uid}`;
    let idx = this.indexes.get(key);
    if (!idx && raw !== undefined) {
      idx = indexMessage(raw);
      this.indexes.set(key, idx);
    }
    return idx;
  }

  async append(user: ImapUser, mailbox: string, raw: Buffer, flags: string[], internalDate: number | undefined): Promise<{ uidValidity: number; uid: number }> {
    const r = await this.stores.mail.append(user.accountId, mailbox, raw, {
      flags,
      ...(internalDate === undefined ? {} : { internalDate }),
    });
    return { uidValidity: r.uidValidity, uid: r.uid };
  }

  async appendMany(
    user: ImapUser,
    mailbox: string,
    messages: Array<{ raw: Buffer; flags: string[]; internalDate: number | undefined }>,
  ): Promise<{ uidValidity: number; uids: number[] }> {
    const results = await this.stores.mail.appendMany(
      user.accountId,
      mailbox,
      messages.map((m) => ({ raw: m.raw, options: { flags: m.flags, ...(m.internalDate === undefined ? {} : { internalDate: m.internalDate }) } })),
    );
    return { uidValidity: results[0]?.uidValidity ?? 0, uids: results.map((r) => r.uid) };
  }

  setFlags(user: ImapUser, mailboxId: number, uids: number[], mode: FlagMode, flags: string[], unchangedSince?: number): MessageRecord[] {
    this.own(user, mailboxId);
    return this.stores.mail.setFlags(mailboxId, uids, mode, flags, unchangedSince);
  }

  expunge(user: ImapUser, mailboxId: number, uids?: number[]): number[] {
    this.own(user, mailboxId);
    return this.stores.mail.expunge(mailboxId, uids);
  }

  async copy(user: ImapUser, mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>> {
    this.own(user, mailboxId);
    this.own(user, targetMailboxId);
    return this.stores.mail.copy(mailboxId, uids, targetMailboxId);
  }

  async move(user: ImapUser, mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>> {
    this.own(user, mailboxId);
    this.own(user, targetMailboxId);
    return this.stores.mail.move(mailboxId, uids, targetMailboxId);
  }

  quota(user: ImapUser): Quota {
    return this.stores.mail.quota(user.accountId);
  }

  readMetadata(user: ImapUser, mailboxId: number | null, entry: string, descendants: boolean): MetadataEntry[] {
    if (mailboxId !== null) this.own(user, mailboxId);
    return this.stores.mail.metadata.read(user.accountId, mailboxId, entry, descendants);
  }

  setMetadata(user: ImapUser, mailboxId: number | null, changes: readonly MetadataChange[], limits: MetadataLimits): MetadataSetResult {
    if (mailboxId !== null) this.own(user, mailboxId);
    return this.stores.mail.metadata.set(user.accountId, mailboxId, changes, limits);
  }

  subscribe(user: ImapUser, listener: (change: MailboxChange) => void): () => void {
    return this.stores.mail.feed.subscribe(user.accountId, listener);
  }
}
