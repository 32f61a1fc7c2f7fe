// The IMAP backend over the mail store and the authenticator: what
// src/protocol/imap/backend.ts asks for, answered from storage/.
import type { BodyReader, ExpungedHold, ImapBackend, ImapSaslExchange, ImapSaslStep, ImapUser, MailboxRef, SelectState } from '../protocol/imap/backend.js';
import type { FlagMode, MailboxChange, MailboxCounters, MailboxDelta, MailboxInfo, MailPort, MailStore, MessageRecord, Quota, SpecialUse } from '../../storage/ports.js';
import type { MessageIndex } from '../../mime/types.js';
import type { MetadataChange, MetadataEntry, MetadataLimits, MetadataSetResult } from '../../storage/metadata.js';
import { indexMessage, parseMessage, parseMessageIndex } from '../../mime/index.js';
import { decodeHeader, writtenDay } from '../../mime/decode.js';
import { MailError } from '../../storage/errors.js';
import type { Authenticator } from '../auth/authenticator.js';
import { SASL_MECHANISMS, startSasl } from '../auth/sasl.js';

export interface ImapBackendStores {
  mail: MailPort;
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

/**
 * Parsed copies of stored indexes (mime/'s JSON), so that ten sessions
 * fetching the same ENVELOPEs do not parse the same JSON ten times. An entry
 * is used only when the row's JSON is the very text it was parsed from: a
 * key that comes back for another message (a reused id) cannot hand out the
 * wrong index. Callers treat an index as read-only.
 */
class ParsedIndexCache {
  private readonly map = new Map<string, { json: string; index: MessageIndex }>();
  private chars = 0;
  /** At most `max` entries and `maxChars` of JSON text (a parsed index takes a few times its text). */
  constructor(
    private readonly max: number,
    private readonly maxChars: number,
  ) {}
  parse(key: string, json: string | null | undefined): MessageIndex | null {
    if (json === null || json === undefined) return null;
    const hit = this.map.get(key);
    if (hit !== undefined && hit.json === json) return hit.index;
    const index = parseMessageIndex(json);
    if (index === null || json.length > this.maxChars / 16) return index;
    this.drop(key);
    this.map.set(key, { json, index });
    this.chars += json.length;
    while (this.map.size > this.max || this.chars > this.maxChars) this.drop(this.map.keys().next().value!);
    return index;
  }
  private drop(key: string): void {
    const old = this.map.get(key);
    if (old === undefined) return;
    this.map.delete(key);
    this.chars -= old.json.length;
  }
}

export class StoreImapBackend implements ImapBackend {
  readonly saslMechanisms: readonly string[] = SASL_MECHANISMS;
  private readonly indexes = new IndexCache(2000);
  private readonly parsed = new ParsedIndexCache(4096, 4_000_000);

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
  private async own(user: ImapUser, mailboxId: number): Promise<void> {
    if ((await this.stores.mail.mailboxOwner(mailboxId)) !== user.accountId) throw new MailError('NONEXISTENT', 'no such mailbox');
  }

  async listMailboxes(user: ImapUser): Promise<MailboxInfo[]> {
    return await this.stores.mail.listMailboxes(user.accountId);
  }

  async getMailbox(user: ImapUser, name: string): Promise<MailboxInfo | undefined> {
    return await this.stores.mail.getMailbox(user.accountId, name);
  }

  async getMailboxById(user: ImapUser, id: number): Promise<MailboxInfo | undefined> {
    try {
      const info = await this.stores.mail.getMailboxById(id);
      return info.accountId === user.accountId ? info : undefined;
    } catch {
      return undefined;
    }
  }

  async findMailbox(user: ImapUser, name: string): Promise<MailboxRef | undefined> {
    return await this.stores.mail.findMailbox(user.accountId, name);
  }

  async createMailbox(user: ImapUser, name: string, specialUse: SpecialUse | null = null): Promise<MailboxInfo> {
    return await this.stores.mail.createMailbox(user.accountId, name, specialUse);
  }

  async deleteMailbox(user: ImapUser, name: string): Promise<void> {
    await this.stores.mail.deleteMailbox(user.accountId, name);
  }

  async renameMailbox(user: ImapUser, from: string, to: string): Promise<void> {
    await this.stores.mail.renameMailbox(user.accountId, from, to);
  }

  async setSubscribed(user: ImapUser, name: string, subscribed: boolean): Promise<void> {
    if (subscribed) await this.stores.mail.addSubscription(user.accountId, name);
    else await this.stores.mail.removeSubscription(user.accountId, name);
  }

  async listSubscriptions(user: ImapUser): Promise<string[]> {
    return await this.stores.mail.listSubscriptions(user.accountId);
  }

  async selectState(user: ImapUser, mailboxId: number): Promise<SelectState> {
    await this.own(user, mailboxId);
    return await this.stores.mail.selectSummary(mailboxId);
  }

  async messages(user: ImapUser, mailboxId: number, uids: readonly number[]): Promise<MessageRecord[]> {
    await this.own(user, mailboxId);
    if (uids.length === 0) return [];
    if (uids.length <= 64) {
      const out: MessageRecord[] = [];
      for (const uid of uids) {
        const r = await this.stores.mail.getMessage(mailboxId, uid);
        if (r) out.push(r);
      }
      return out;
    }
    const wanted = new Set(uids);
    return (await this.stores.mail.listMessages(mailboxId, uids[0], uids[uids.length - 1])).filter((r) => wanted.has(r.uid));
  }

  async readMessage(user: ImapUser, mailboxId: number, uid: number): Promise<Buffer> {
    await this.own(user, mailboxId);
    return await this.stores.mail.readMessage(mailboxId, uid);
  }

  async bodyReader(user: ImapUser, mailboxId: number): Promise<BodyReader> {
    await this.own(user, mailboxId);
    // A mailbox never changes owner (nor does its id name another one later: ids are never reused).
    const mail = this.stores.mail;
    return (uid, maxBytes) => mail.readMessage(mailboxId, uid, maxBytes);
  }

  async recentFrom(user: ImapUser, mailboxId: number, uidNext: number, claim: boolean): Promise<number> {
    await this.own(user, mailboxId);
    const mail = this.stores.mail;
    return claim ? await mail.claimRecent(mailboxId, uidNext) : Math.min(await mail.firstRecentUid(mailboxId), uidNext);
  }

  async unclaimedRecent(user: ImapUser, mailboxId: number): Promise<number> {
    await this.own(user, mailboxId);
    return await this.stores.mail.countFromUid(mailboxId, await this.stores.mail.firstRecentUid(mailboxId));
  }

  async deletedCount(user: ImapUser, mailboxId: number): Promise<number> {
    await this.own(user, mailboxId);
    return await this.stores.mail.deletedCount(mailboxId);
  }

  async changesSince(user: ImapUser, mailboxId: number, modseq: number): Promise<MailboxDelta | undefined> {
    // The store checks the owner on the same row it reads (this runs after every command).
    return await this.stores.mail.changesSince(mailboxId, modseq, user.accountId);
  }

  async holdExpunged(user: ImapUser, mailboxId: number, numbers: (uid: number) => boolean): Promise<ExpungedHold | undefined> {
    await this.own(user, mailboxId);
    return await this.stores.mail.holdExpunged?.(mailboxId, numbers);
  }

  async expungedSince(user: ImapUser, mailboxId: number, modseq: number): Promise<number[]> {
    await this.own(user, mailboxId);
    return await this.stores.mail.expungedSince(mailboxId, modseq);
  }

  decodeHeader(value: string): string {
    return decodeHeader(value);
  }

  writtenDay(value: string): number | null {
    return writtenDay(value);
  }

  messageIndex(user: ImapUser, record: MessageRecord, raw?: Buffer): MessageIndex | undefined {
    const key = `${record.mailboxId}:${record.uid}`;
    const stored = this.parsed.parse(key, record.mime);
    if (stored) return stored;
    let idx = this.indexes.get(key);
    if (!idx && raw !== undefined) {
      idx = indexMessage(raw);
      this.indexes.set(key, idx);
    }
    return idx;
  }

  async append(user: ImapUser, mailbox: string, raw: Buffer, flags: string[], internalDate: number | undefined): Promise<{ uidValidity: number; uid: number }> {
    // Parsed once here, with the one message model (as a delivery parses at
    // the end of DATA), and indexed from that model by the store.
    const r = await this.stores.mail.append(user.accountId, mailbox, raw, {
      flags,
      ...(internalDate === undefined ? {} : { internalDate }),
      message: parseMessage(raw),
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
      messages.map((m) => ({
        raw: m.raw,
        options: { flags: m.flags, ...(m.internalDate === undefined ? {} : { internalDate: m.internalDate }), message: parseMessage(m.raw) },
      })),
    );
    return { uidValidity: results[0]?.uidValidity ?? 0, uids: results.map((r) => r.uid) };
  }

  async setFlags(user: ImapUser, mailboxId: number, uids: number[], mode: FlagMode, flags: string[], unchangedSince?: number): Promise<MessageRecord[]> {
    await this.own(user, mailboxId);
    return await this.stores.mail.setFlags(mailboxId, uids, mode, flags, unchangedSince);
  }

  async expunge(user: ImapUser, mailboxId: number, uids?: number[]): Promise<number[]> {
    await this.own(user, mailboxId);
    return await this.stores.mail.expunge(mailboxId, uids);
  }

  async copy(user: ImapUser, mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>> {
    await this.own(user, mailboxId);
    await this.own(user, targetMailboxId);
    return await this.stores.mail.copy(mailboxId, uids, targetMailboxId);
  }

  async move(user: ImapUser, mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>> {
    await this.own(user, mailboxId);
    await this.own(user, targetMailboxId);
    return await this.stores.mail.move(mailboxId, uids, targetMailboxId);
  }

  async quota(user: ImapUser): Promise<Quota> {
    return await this.stores.mail.quota(user.accountId);
  }

  async readMetadata(user: ImapUser, mailboxId: number | null, entry: string, descendants: boolean): Promise<MetadataEntry[]> {
    if (mailboxId !== null) await this.own(user, mailboxId);
    return await this.stores.mail.metadata.read(user.accountId, mailboxId, entry, descendants);
  }

  async setMetadata(user: ImapUser, mailboxId: number | null, changes: readonly MetadataChange[], limits: MetadataLimits): Promise<MetadataSetResult> {
    if (mailboxId !== null) await this.own(user, mailboxId);
    return await this.stores.mail.metadata.set(user.accountId, mailboxId, changes, limits);
  }

  subscribe(user: ImapUser, listener: (change: MailboxChange) => void, missed?: () => void): () => void {
    return this.stores.mail.feed.subscribe(user.accountId, listener, missed);
  }
}
