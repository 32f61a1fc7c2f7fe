// IMAP METADATA (RFC 5464) entries in memory, as storage/metadata.ts keeps
// them: per mailbox and for the server (mailbox null), every change of a
// SETMETADATA applied or none, limits that refuse only growth.
import { MailError } from '../errors.js';
import type { MetadataChange, MetadataEntry, MetadataLimits, MetadataSetResult } from '../metadata.js';
import type { MemoryState } from './state.js';
import type { MetadataPort } from './shapes.js';
import { byteOrder } from './names.js';

/** Longest entry name kept (the IMAP layer's own bound is lower). */
const MAX_STORED_NAME = 4096;

/** What the store keeps: /private or /shared, then levels of printable ASCII without "*", "%", capitals or empty levels. */
function isStorableEntryName(entry: string): boolean {
  if (entry.length > MAX_STORED_NAME) return false;
  if (!/^\/(private|shared)(\/[^/]+)*$/.test(entry)) return false;
  // eslint-disable-next-line no-control-regex
  return !/[\x00-\x1f\x7f-\uffff*%A-Z]/.test(entry);
}

interface Usage {
  entries: number;
  bytes: number;
}

function usageOf(maps: Iterable<Map<string, Buffer>>): Usage {
  const u = { entries: 0, bytes: 0 };
  for (const m of maps) {
    for (const [entry, value] of m) {
      u.entries++;
      u.bytes += entry.length + value.length;
    }
  }
  return u;
}

export class MemoryMetadata implements MetadataPort {
  constructor(private readonly state: MemoryState) {}

  private key(accountId: number, mailboxId: number | null): string {
    return `${accountId}\0${mailboxId ?? 0}`;
  }

  read(accountId: number, mailboxId: number | null, entry: string, descendants: boolean): MetadataEntry[] {
    const entries = this.state.metadata.get(this.key(accountId, mailboxId));
    if (!entries) return [];
    if (!descendants) {
      const value = entries.get(entry);
      return value === undefined ? [] : [{ entry, value: Buffer.from(value) }];
    }
    return [...entries]
      .filter(([name]) => name === entry || name.startsWith(entry + '/'))
      .sort(([a], [b]) => byteOrder(a, b))
      .map(([name, value]) => ({ entry: name, value: Buffer.from(value) }));
  }

  set(accountId: number, mailboxId: number | null, changes: readonly MetadataChange[], limits: MetadataLimits): MetadataSetResult {
    for (const c of changes) {
      if (!isStorableEntryName(c.entry)) throw new MailError('BADINPUT', `invalid entry name ${c.entry}`);
      if (c.value !== null && c.value.length > limits.maxValueSize) return { ok: false, reason: 'maxsize', maxSize: limits.maxValueSize };
    }
    if (mailboxId !== null && this.state.mailboxes.get(mailboxId)?.accountId !== accountId) throw new MailError('NONEXISTENT', 'no such mailbox');
    const key = this.key(accountId, mailboxId);
    const current = this.state.metadata.get(key) ?? new Map<string, Buffer>();
    const next = new Map(current);
    for (const c of changes) {
      if (c.value === null) next.delete(c.entry);
      else next.set(c.entry, Buffer.from(c.value));
    }
    // The account's entries with this mailbox's as they are, or as they would be.
    const ofAccount = (mine: Map<string, Buffer>) => [
      ...[...this.state.metadata].filter(([k]) => k.startsWith(`${accountId}\0`) && k !== key).map(([, m]) => m),
      mine,
    ];
    // A change that does not grow what is over a limit (a removal, a shorter value) is always allowed.
    const grew = (was: Usage, now: Usage, maxEntries: number, maxBytes: number) =>
      (now.entries > maxEntries && now.entries > was.entries) || (now.bytes > maxBytes && now.bytes > was.bytes);
    if (
      grew(usageOf([current]), usageOf([next]), limits.maxEntriesPerMailbox, limits.maxBytesPerMailbox) ||
      grew(usageOf(ofAccount(current)), usageOf(ofAccount(next)), limits.maxEntriesPerAccount, limits.maxBytesPerAccount)
    ) {
      return { ok: false, reason: 'toomany' };
    }
    if (next.size === 0) this.state.metadata.delete(key);
    else this.state.metadata.set(key, next);
    return { ok: true };
  }

  /** DELETE of a mailbox: its entries go. */
  forgetMailbox(accountId: number, mailboxId: number): void {
    this.state.metadata.delete(this.key(accountId, mailboxId));
  }

  /** Removal of an account's mail: every entry goes. */
  forgetAccount(accountId: number): void {
    for (const k of [...this.state.metadata.keys()]) if (k.startsWith(`${accountId}\0`)) this.state.metadata.delete(k);
  }
}
