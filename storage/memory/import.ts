// The MailImport port in memory, behaving as storage/mail/import.ts does:
// a batch checks first and then changes, so a refused one changes nothing.
import type { ChangeFeed, FolderImport, FolderImportResult, ImportedFolderState, MailboxChange } from '../ports.js';
import { MailError } from '../errors.js';
import { normalizeFlags, withKeywords } from '../flags.js';
import { afterCommit } from '../unit-of-work.js';
import { checkBatch } from '../import-batch.js';
import type { MemMailbox, MemoryState } from './state.js';
import { canonicalMailboxName, validateMailboxName } from './names.js';
import type { MessageIndexer } from './mail-store.js';

export class MemoryMailImport {
  constructor(
    private readonly state: MemoryState,
    private readonly feed: ChangeFeed,
    private readonly indexer: MessageIndexer = () => null,
  ) {}

  private find(accountId: number, name: string): MemMailbox | undefined {
    const canonical = canonicalMailboxName(name);
    return [...this.state.mailboxes.values()].find((m) => m.accountId === accountId && m.name === canonical);
  }

  importedFolder(accountId: number, name: string): ImportedFolderState | undefined {
    const mb = this.find(accountId, name);
    if (!mb) return undefined;
    return { uidValidity: mb.uidValidity, uidNext: mb.uidNext, messages: [...mb.messages.values()].map((m) => ({ uid: m.uid, flags: [...m.flags] })) };
  }

  importFolder(accountId: number, batch: FolderImport): FolderImportResult {
    const canonical = validateMailboxName(batch.name);
    checkBatch(batch);
    if (!this.state.accounts.has(accountId)) throw new MailError('NONEXISTENT', 'no such account');
    const existing = this.find(accountId, canonical);
    const replaced = existing !== undefined && existing.uidValidity !== batch.uidValidity;
    const floor = existing && !replaced ? existing.uidNext : 1;
    const low = batch.add.find((m) => m.uid < floor);
    if (low) throw new MailError('REFUSED', `UID ${low.uid} of ${canonical} is below its UIDNEXT ${floor}: it was given out already`);

    const result: FolderImportResult = { created: !existing, replaced, added: 0, flagsChanged: 0, expunged: 0 };
    const changes: MailboxChange[] = [];
    const mb: MemMailbox = existing ?? {
      id: ++this.state.lastMailboxId,
      accountId,
      name: canonical,
      uidValidity: batch.uidValidity,
      uidNext: 1,
      highestModseq: 1,
      specialUse: null,
      keywords: [],
      messages: new Map(),
      expunged: new Map(),
      firstRecentUid: 1,
    };
    if (!existing) this.state.mailboxes.set(mb.id, mb);
    if (replaced) {
      mb.messages.clear();
      mb.expunged.clear();
      mb.keywords = [];
      mb.uidValidity = batch.uidValidity;
      mb.uidNext = 1;
    }
    this.state.uidValidityHigh.set(accountId, Math.max(this.state.uidValidityHigh.get(accountId) ?? 0, batch.uidValidity));
    for (const uid of batch.expunge) {
      if (!mb.messages.delete(uid)) continue;
      const modseq = ++mb.highestModseq;
      mb.expunged.set(uid, modseq);
      changes.push({ kind: 'expunge', accountId, mailboxId: mb.id, uid, modseq });
      result.expunged++;
    }
    for (const change of batch.flags) {
      const m = mb.messages.get(change.uid);
      if (!m) continue;
      const flags = normalizeFlags(change.flags);
      if (flags.length === m.flags.length && flags.every((f) => m.flags.includes(f))) continue;
      this.noteKeywords(mb, flags);
      m.flags = flags;
      m.modseq = change.modseq ?? mb.highestModseq + 1;
      mb.highestModseq = Math.max(mb.highestModseq, m.modseq);
      changes.push({ kind: 'flags', accountId, mailboxId: mb.id, uid: m.uid, modseq: m.modseq, flags: [...flags] });
      result.flagsChanged++;
    }
    for (const a of batch.add) {
      const flags = normalizeFlags(a.flags);
      this.noteKeywords(mb, flags);
      const modseq = a.modseq ?? mb.highestModseq + 1;
      mb.highestModseq = Math.max(mb.highestModseq, modseq);
      let mime: string | null = null;
      try {
        mime = this.indexer(a.raw);
      } catch {
        mime = null;
      }
      mb.messages.set(a.uid, {
        uid: a.uid,
        modseq,
        flags,
        internalDate: a.internalDate,
        size: a.raw.length,
        mime,
        raw: a.raw,
        ...(a.pop3Uidl !== undefined ? { pop3Uidl: a.pop3Uidl } : {}),
      });
      mb.uidNext = a.uid + 1;
      changes.push({ kind: 'append', accountId, mailboxId: mb.id, uid: a.uid, modseq, flags: [...flags] });
      result.added++;
    }
    mb.uidNext = Math.max(mb.uidNext, batch.uidNext);
    mb.highestModseq = Math.max(mb.highestModseq, batch.highestModseq ?? 0);
    for (const v of batch.vanished ?? []) {
      if (mb.messages.has(v.uid)) continue;
      mb.expunged.set(v.uid, v.modseq);
      mb.highestModseq = Math.max(mb.highestModseq, v.modseq);
    }
    if (result.created || replaced) changes.push({ kind: 'mailboxes', accountId });
    for (const c of changes) afterCommit(() => this.feed.publish(c));
    return result;
  }

  private noteKeywords(mb: MemMailbox, flags: string[]): void {
    mb.keywords = withKeywords(mb.keywords, flags);
  }
}
