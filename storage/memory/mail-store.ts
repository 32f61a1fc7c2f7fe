// The mail index and message bodies in memory, behaving as the SQLite +
// Maildir store (storage/store.ts) does: UIDs and MODSEQs from one counter
// per mailbox (a new mailbox's HIGHESTMODSEQ is 1), an expunge log for
// QRESYNC, quota counted over the account's messages, \Recent claimed once.
// Every change checks first and then changes, so a refused one changes
// nothing; appends yield once before they commit, so concurrent callers
// interleave as they would against a real store.
import type {
  AppendOptions,
  AppendResult,
  ChangeFeed,
  FlagMode,
  MailboxChange,
  MailboxDelta,
  MailboxInfo,
  MailboxSummary,
  MailStore,
  MessageRecord,
  Quota,
  SelectSummary,
  SpecialUse,
} from '../ports.js';
import { MailError } from '../errors.js';
import { pop3UidlColumn } from '../pop3-uidl.js';
import { normalizeFlags, storableFlags, withKeywords } from '../flags.js';
import { InProcessChangeFeed } from '../change-feed.js';
import type { MemMailbox, MemMessage, MemoryState } from './state.js';
import { MemoryMetadata } from './metadata.js';
import type { MailStorePort } from './shapes.js';
import { afterCommit, type UnitGate } from '../unit-of-work.js';
import { DEFAULT_FOLDERS, summary, toRecord } from './records.js';
import { MAX_SUBSCRIPTIONS, byteOrder, canonicalMailboxName, renamedMailboxName, validateMailboxName, validateRenameTarget } from './names.js';

/** Turns a raw message into the structure cached with it (JSON), as the SQLite store's indexer. */
export type MessageIndexer = (raw: Buffer) => string | null;

export interface MemoryMailStoreOptions {
  indexer?: MessageIndexer;
  feed?: ChangeFeed;
  /** The gate units of work hold: an append commits only while none is open (as the SQLite group commit). */
  gate?: UnitGate;
}

interface Prepared {
  raw: Buffer;
  flags: string[];
  internalDate: number;
  mime: string | null;
  pop3Uidl: string | null;
  ignoreQuota: boolean;
}

export class MemoryMailStore implements MailStorePort {
  readonly feed: ChangeFeed;
  /** IMAP METADATA entries; they go with their mailbox. */
  readonly metadata: MemoryMetadata;
  private readonly indexer: MessageIndexer;
  private readonly gate: UnitGate | undefined;

  constructor(
    private readonly state: MemoryState,
    options: MemoryMailStoreOptions = {},
  ) {
    this.feed = options.feed ?? new InProcessChangeFeed();
    this.indexer = options.indexer ?? (() => null);
    this.metadata = new MemoryMetadata(state);
    this.gate = options.gate;
  }

  // ---- accounts and mailboxes -----------------------------------------------

  private account(accountId: number) {
    const a = this.state.accounts.get(accountId);
    if (!a) throw new MailError('NONEXISTENT', 'no such account');
    return a;
  }

  private mailboxesOf(accountId: number): MemMailbox[] {
    return [...this.state.mailboxes.values()].filter((m) => m.accountId === accountId);
  }

  private byName(accountId: number, name: string): MemMailbox | undefined {
    const canonical = canonicalMailboxName(name);
    return this.mailboxesOf(accountId).find((m) => m.name === canonical);
  }

  private byId(id: number): MemMailbox {
    const mb = this.state.mailboxes.get(id);
    if (!mb) throw new MailError('NONEXISTENT', 'no such mailbox');
    return mb;
  }

  private info(mb: MemMailbox): MailboxInfo {
    let size = 0;
    let unseen = 0;
    for (const m of mb.messages.values()) {
      size += m.size;
      if (!m.flags.includes('\\Seen')) unseen++;
    }
    return { ...summary(mb), messages: mb.messages.size, unseen, size };
  }

  provisionAccount(accountId: number): void {
    this.account(accountId);
    for (const f of DEFAULT_FOLDERS) if (!this.byName(accountId, f.name)) this.createMailbox(accountId, f.name, f.specialUse);
  }

  deleteAccountMail(accountId: number): void {
    for (const mb of this.mailboxesOf(accountId)) this.state.mailboxes.delete(mb.id);
    this.metadata.forgetAccount(accountId);
    this.state.subscriptions.delete(accountId);
    this.state.uidValidityHigh.delete(accountId);
  }

  listMailboxes(accountId: number): MailboxInfo[] {
    return this.mailboxesOf(accountId)
      .sort((a, b) => byteOrder(a.name, b.name))
      .map((m) => this.info(m));
  }

  getMailbox(accountId: number, name: string): MailboxInfo | undefined {
    const mb = this.byName(accountId, name);
    return mb && this.info(mb);
  }

  hasMailbox(accountId: number, name: string): boolean {
    return this.byName(accountId, name) !== undefined;
  }

  findMailbox(accountId: number, name: string): MailboxSummary | undefined {
    const mb = this.byName(accountId, name);
    return mb && summary(mb);
  }

  getMailboxById(id: number): MailboxInfo {
    return this.info(this.byId(id));
  }

  mailboxOwner(mailboxId: number): number | undefined {
    return this.state.mailboxes.get(mailboxId)?.accountId;
  }

  selectSummary(mailboxId: number): SelectSummary {
    const mb = this.state.mailboxes.get(mailboxId);
    if (!mb) return { uids: [], firstUnseenUid: undefined, keywords: [], highestModseq: 0 };
    const messages = [...mb.messages.values()];
    return {
      uids: messages.map((m) => m.uid),
      firstUnseenUid: messages.find((m) => !m.flags.includes('\\Seen'))?.uid,
      keywords: [...mb.keywords],
      highestModseq: mb.highestModseq,
    };
  }

  expungedSince(mailboxId: number, modseq: number): number[] {
    const mb = this.state.mailboxes.get(mailboxId);
    if (!mb) return [];
    return [...mb.expunged].filter(([, m]) => m > modseq).map(([uid]) => uid).sort((a, b) => a - b);
  }

  changesSince(mailboxId: number, modseq: number, accountId?: number): MailboxDelta | undefined {
    const mb = this.state.mailboxes.get(mailboxId);
    if (!mb || (accountId !== undefined && mb.accountId !== accountId)) return undefined;
    if (mb.highestModseq <= modseq) return { highestModseq: mb.highestModseq, changed: [], expunged: [] };
    return {
      highestModseq: mb.highestModseq,
      changed: [...mb.messages.values()].filter((m) => m.modseq > modseq).map((m) => ({ uid: m.uid, modseq: m.modseq, flags: [...m.flags] })),
      expunged: this.expungedSince(mailboxId, modseq),
      keywords: [...mb.keywords],
    };
  }

  // ---- \Recent and counters ---------------------------------------------------

  firstRecentUid(mailboxId: number): number {
    return this.state.mailboxes.get(mailboxId)?.firstRecentUid ?? 1;
  }

  claimRecent(mailboxId: number, uidNext: number): number {
    const mb = this.state.mailboxes.get(mailboxId);
    const first = mb?.firstRecentUid ?? 1;
    if (!mb || first >= uidNext) return first >= uidNext ? uidNext : first;
    mb.firstRecentUid = uidNext;
    return first;
  }

  countFromUid(mailboxId: number, uid: number): number {
    const mb = this.state.mailboxes.get(mailboxId);
    return mb ? [...mb.messages.keys()].filter((u) => u >= uid).length : 0;
  }

  deletedCount(mailboxId: number): number {
    const mb = this.state.mailboxes.get(mailboxId);
    return mb ? [...mb.messages.values()].filter((m) => m.flags.includes('\\Deleted')).length : 0;
  }

  // ---- create, delete, rename -------------------------------------------------

  /** Above every UIDVALIDITY the account ever had (deleted mailboxes included), and recorded. */
  private newUidValidity(accountId: number): number {
    const high = this.state.uidValidityHigh.get(accountId) ?? 0;
    const max = Math.max(0, ...this.mailboxesOf(accountId).map((m) => m.uidValidity));
    const value = Math.max(Math.floor(Date.now() / 1000), high + 1, max + 1);
    this.state.uidValidityHigh.set(accountId, value);
    return value;
  }

  private addMailbox(accountId: number, name: string, specialUse: SpecialUse | null): MemMailbox {
    const mb: MemMailbox = {
      id: ++this.state.lastMailboxId,
      accountId,
      name,
      uidValidity: this.newUidValidity(accountId),
      uidNext: 1,
      highestModseq: 1,
      specialUse,
      keywords: [],
      messages: new Map(),
      expunged: new Map(),
      firstRecentUid: 1,
    };
    this.state.mailboxes.set(mb.id, mb);
    return mb;
  }

  private subscriptionsOf(accountId: number): Set<string> {
    let set = this.state.subscriptions.get(accountId);
    if (!set) {
      set = new Set();
      this.state.subscriptions.set(accountId, set);
    }
    return set;
  }

  createMailbox(accountId: number, name: string, specialUse: SpecialUse | null = null): MailboxInfo {
    const canonical = validateMailboxName(name);
    this.account(accountId);
    if (this.byName(accountId, canonical)) throw new MailError('ALREADYEXISTS', `mailbox ${canonical} exists already`);
    const mb = this.addMailbox(accountId, canonical, specialUse);
    // A new mailbox is subscribed; past the cap it is created unsubscribed.
    const subs = this.subscriptionsOf(accountId);
    if (subs.size < MAX_SUBSCRIPTIONS) subs.add(canonical);
    this.publish({ kind: 'mailboxes', accountId });
    return this.info(mb);
  }

  deleteMailbox(accountId: number, name: string): void {
    const mb = this.byName(accountId, name);
    if (!mb) throw new MailError('NONEXISTENT', `no such mailbox: ${name}`);
    if (mb.name === 'INBOX') throw new MailError('REFUSED', 'INBOX cannot be deleted');
    this.metadata.forgetMailbox(accountId, mb.id);
    this.state.mailboxes.delete(mb.id);
    this.publish({ kind: 'mailboxes', accountId });
  }

  renameMailbox(accountId: number, from: string, to: string): void {
    const src = this.byName(accountId, from);
    if (!src) throw new MailError('NONEXISTENT', `no such mailbox: ${from}`);
    const target = validateRenameTarget(src.name, to);
    if (this.byName(accountId, target)) throw new MailError('ALREADYEXISTS', `mailbox ${target} exists already`);
    const changes: MailboxChange[] = [];
    if (src.name === 'INBOX') {
      // RFC 3501: the messages move to a new mailbox (new UIDVALIDITY,
      // unsubscribed) and INBOX stays, empty; its children stay too. Each
      // message that left is an expunge of INBOX (RFC 7162 VANISHED); the
      // SQLite store logs none (a known gap, see test/contract/backends.ts).
      const dst = this.addMailbox(accountId, target, null);
      for (const m of src.messages.values()) {
        const uid = dst.uidNext++;
        dst.messages.set(uid, { ...m, flags: [...m.flags], uid, modseq: ++dst.highestModseq });
        const gone = ++src.highestModseq;
        src.expunged.set(m.uid, gone);
        changes.push({ kind: 'expunge', accountId, mailboxId: src.id, uid: m.uid, modseq: gone });
      }
      src.messages.clear();
      src.highestModseq += 1;
    } else {
      const children = this.mailboxesOf(accountId).filter((m) => m.name === src.name || m.name.startsWith(src.name + '/'));
      const renamed = children.map((m) => ({ m, name: renamedMailboxName(m.name, src.name, target) }));
      for (const r of renamed) {
        if (r.m !== src && this.byName(accountId, r.name)) throw new MailError('ALREADYEXISTS', `mailbox ${r.name} exists already`);
      }
      for (const r of renamed) r.m.name = r.name;
    }
    for (const c of changes) this.publish(c);
    this.publish({ kind: 'mailboxes', accountId });
  }

  // ---- subscriptions ------------------------------------------------------------

  addSubscription(accountId: number, name: string): void {
    const canonical = validateMailboxName(name);
    const subs = this.subscriptionsOf(accountId);
    if (!subs.has(canonical)) {
      if (subs.size >= MAX_SUBSCRIPTIONS) throw new MailError('LIMIT', `too many subscriptions (at most ${MAX_SUBSCRIPTIONS})`);
      subs.add(canonical);
    }
    this.publish({ kind: 'mailboxes', accountId });
  }

  removeSubscription(accountId: number, name: string): void {
    const canonical = validateMailboxName(name);
    this.state.subscriptions.get(accountId)?.delete(canonical);
    this.publish({ kind: 'mailboxes', accountId });
  }

  listSubscriptions(accountId: number): string[] {
    return [...(this.state.subscriptions.get(accountId) ?? [])].sort(byteOrder);
  }

  // ---- append -------------------------------------------------------------------

  async append(accountId: number, mailbox: string, raw: Buffer, options: AppendOptions = {}): Promise<AppendResult> {
    const [result] = await this.appendMany(accountId, mailbox, [{ raw, options }]);
    return result!;
  }

  async appendMany(accountId: number, mailbox: string, messages: Array<{ raw: Buffer; options?: AppendOptions }>): Promise<AppendResult[]> {
    const mb = this.byName(accountId, mailbox);
    if (!mb) throw new MailError('NONEXISTENT', `no such mailbox: ${mailbox}`);
    return this.appendGroup(mb.id, messages.map((m) => ({ raw: m.raw, options: m.options ?? {} })));
  }

  private usedBytes(accountId: number): number {
    let used = 0;
    for (const mb of this.mailboxesOf(accountId)) for (const m of mb.messages.values()) used += m.size;
    return used;
  }

  /** Refuses a group that would take the account past its quota (messages with ignoreQuota do not count). */
  private checkQuota(accountId: number, items: Array<{ size: number; ignoreQuota: boolean }>): void {
    const counted = items.filter((i) => !i.ignoreQuota).reduce((n, i) => n + i.size, 0);
    const limit = this.account(accountId).quota;
    if (counted > 0 && limit !== null && this.usedBytes(accountId) + counted > limit) throw new MailError('OVERQUOTA', 'mailbox is full');
  }

  private async appendGroup(mailboxId: number, messages: Array<{ raw: Buffer; options: AppendOptions }>): Promise<AppendResult[]> {
    if (messages.length === 0) return [];
    const accountId = this.byId(mailboxId).accountId;
    const prepared: Prepared[] = messages.map(({ raw, options }) => {
      let mime: string | null = null;
      try {
        mime = this.indexer(raw);
      } catch {
        mime = null;
      }
      return {
        raw: Buffer.from(raw),
        flags: normalizeFlags(options.flags ?? []),
        internalDate: options.internalDate ?? Date.now(),
        mime,
        pop3Uidl: pop3UidlColumn(options.pop3Uidl),
        ignoreQuota: options.ignoreQuota === true,
      };
    });
    const sized = prepared.map((p) => ({ size: p.raw.length, ignoreQuota: p.ignoreQuota }));
    this.checkQuota(accountId, sized);
    // Others may commit meanwhile (a real store writes the bodies here).
    await new Promise((resolve) => setImmediate(resolve));
    while (this.gate?.unitEnd) await this.gate.unitEnd;
    // The commit: the mailbox may be gone, and the quota is checked again, exactly.
    const mb = this.byId(mailboxId);
    this.checkQuota(accountId, sized);
    const results: AppendResult[] = [];
    const changes: MailboxChange[] = [];
    for (const p of prepared) {
      const flags = this.noteKeywords(mb, p.flags);
      const uid = mb.uidNext++;
      const modseq = ++mb.highestModseq;
      mb.messages.set(uid, {
        uid,
        modseq,
        flags,
        internalDate: p.internalDate,
        size: p.raw.length,
        mime: p.mime,
        raw: p.raw,
        ...(p.pop3Uidl !== null ? { pop3Uidl: p.pop3Uidl } : {}),
      });
      results.push({ mailboxId: mb.id, uidValidity: mb.uidValidity, uid, modseq });
      changes.push({ kind: 'append', accountId, mailboxId: mb.id, uid, modseq, flags: [...flags] });
    }
    for (const c of changes) this.publish(c);
    return results;
  }

  /**
   * New keywords join the mailbox's list (which only grows, up to 26); $Forwarded and system
   * flags do not. Returns the flags a message keeps: one past the list is left out.
   */
  private noteKeywords(mb: MemMailbox, flags: readonly string[]): string[] {
    mb.keywords = withKeywords(mb.keywords, flags);
    return storableFlags(flags, mb.keywords);
  }

  // ---- reading ------------------------------------------------------------------

  listMessages(mailboxId: number, fromUid = 1, toUid = Number.MAX_SAFE_INTEGER): MessageRecord[] {
    const mb = this.state.mailboxes.get(mailboxId);
    if (!mb) return [];
    return [...mb.messages.values()].filter((m) => m.uid >= fromUid && m.uid <= toUid).map((m) => toRecord(mailboxId, m));
  }

  getMessage(mailboxId: number, uid: number): MessageRecord | undefined {
    const m = this.state.mailboxes.get(mailboxId)?.messages.get(uid);
    return m && toRecord(mailboxId, m);
  }

  async readMessage(mailboxId: number, uid: number): Promise<Buffer> {
    const m = this.byId(mailboxId).messages.get(uid);
    if (!m) throw new MailError('NONEXISTENT', 'no such message');
    return Buffer.from(m.raw);
  }

  // ---- flags, expunge, copy, move ----------------------------------------------

  setFlags(mailboxId: number, uids: number[], mode: FlagMode, flags: string[], unchangedSince?: number): MessageRecord[] {
    const mb = this.byId(mailboxId);
    const wanted = normalizeFlags(flags);
    const kept = mode === 'remove' ? wanted : this.noteKeywords(mb, wanted);
    const changed: MessageRecord[] = [];
    const changes: MailboxChange[] = [];
    for (const uid of uids) {
      const m = mb.messages.get(uid);
      if (!m) continue;
      if (unchangedSince !== undefined && m.modseq > unchangedSince) continue;
      const current = m.flags;
      let next: string[];
      if (mode === 'replace') next = kept;
      else if (mode === 'add') next = normalizeFlags([...current, ...kept]);
      else next = current.filter((f) => !wanted.includes(f));
      if (next.length === current.length && next.every((f) => current.includes(f))) continue;
      m.flags = [...next];
      m.modseq = ++mb.highestModseq;
      changed.push(toRecord(mailboxId, m));
      changes.push({ kind: 'flags', accountId: mb.accountId, mailboxId, uid, modseq: m.modseq, flags: [...next] });
    }
    for (const c of changes) this.publish(c);
    return changed;
  }

  expunge(mailboxId: number, uids?: number[]): number[] {
    const mb = this.byId(mailboxId);
    const victims =
      uids === undefined
        ? [...mb.messages.values()].filter((m) => m.flags.includes('\\Deleted'))
        : uids.map((u) => mb.messages.get(u)).filter((m): m is MemMessage => m !== undefined);
    const expunged: number[] = [];
    const changes: MailboxChange[] = [];
    for (const m of victims) {
      if (!mb.messages.delete(m.uid)) continue;
      const modseq = ++mb.highestModseq;
      mb.expunged.set(m.uid, modseq);
      expunged.push(m.uid);
      changes.push({ kind: 'expunge', accountId: mb.accountId, mailboxId, uid: m.uid, modseq });
    }
    for (const c of changes) this.publish(c);
    return expunged;
  }

  async copy(mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>> {
    const target = this.byId(targetMailboxId);
    const source = this.byId(mailboxId);
    if (source.accountId !== target.accountId) throw new MailError('REFUSED', 'copy across accounts');
    const picked = [...new Set(uids)]
      .sort((x, y) => x - y)
      .map((uid) => source.messages.get(uid))
      .filter((m): m is MemMessage => m !== undefined);
    const stored = await this.appendGroup(
      target.id,
      picked.map((m) => ({ raw: m.raw, options: { flags: m.flags, internalDate: m.internalDate, ...(m.pop3Uidl !== undefined ? { pop3Uidl: m.pop3Uidl } : {}) } })),
    );
    return stored.map((r, i) => [picked[i]!.uid, r.uid]);
  }

  async move(mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>> {
    const source = this.byId(mailboxId);
    const target = this.byId(targetMailboxId);
    if (source.accountId !== target.accountId) throw new MailError('REFUSED', 'move across accounts');
    if (source.id === target.id) throw new MailError('BADINPUT', 'move into the same mailbox');
    const pairs: Array<[number, number]> = [];
    const changes: MailboxChange[] = [];
    for (const oldUid of [...new Set(uids)].sort((x, y) => x - y)) {
      const m = source.messages.get(oldUid);
      if (!m) continue;
      const flags = this.noteKeywords(target, m.flags);
      const uid = target.uidNext++;
      const modseq = ++target.highestModseq;
      target.messages.set(uid, { ...m, flags, uid, modseq });
      source.messages.delete(oldUid);
      const gone = ++source.highestModseq;
      source.expunged.set(oldUid, gone);
      changes.push({ kind: 'expunge', accountId: source.accountId, mailboxId: source.id, uid: oldUid, modseq: gone });
      changes.push({ kind: 'append', accountId: target.accountId, mailboxId: target.id, uid, modseq, flags: [...flags] });
      pairs.push([oldUid, uid]);
    }
    for (const c of changes) this.publish(c);
    return pairs;
  }

  quota(accountId: number): Quota {
    const limit = this.account(accountId).quota;
    let usedMessages = 0;
    for (const mb of this.mailboxesOf(accountId)) usedMessages += mb.messages.size;
    return { limit, usedBytes: this.usedBytes(accountId), usedMessages };
  }

  private publish(change: MailboxChange): void {
    // Inside a unit of work: once it commits, never when it rolls back.
    afterCommit(() => this.feed.publish(change));
  }
}
