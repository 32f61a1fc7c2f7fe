// A queue in memory, as storage/queue.ts keeps one on disk: entries by id,
// listed oldest first, each with its message; holds and flush requests
// beside the entries, as the file store keeps them in marker files.
import { randomBytes } from 'node:crypto';
import { MailError } from '../errors.js';
import type { EnqueueExtra, QueueEntry, QueueHead, QueueListener } from '../queue.js';
import type { QueuePort } from './shapes.js';

function unknown(id: string): MailError {
  return new MailError('NONEXISTENT', `no such queue entry: ${id}`);
}

export class MemoryQueue implements QueuePort {
  private readonly entries = new Map<string, { entry: QueueEntry; raw: Buffer }>();
  /** Staged by a unit of work: the message is kept, the entry is not there until published. */
  private readonly staged = new Map<string, Buffer>();
  private readonly held = new Set<string>();
  private flushRequested = false;
  private readonly flushIds = new Set<string>();
  private readonly listeners = new Set<QueueListener>();

  watch(listener: QueueListener): void {
    this.listeners.add(listener);
  }

  unwatch(listener: QueueListener): void {
    this.listeners.delete(listener);
  }

  /** One process only: every change is told to the watchers. */
  takeRescanRequest(): boolean {
    return false;
  }

  private announce(entry: QueueEntry | null): void {
    for (const listener of this.listeners) listener(entry && structuredClone(entry));
  }

  private newEntry(sender: string, recipients: string[], reason: string, extra: EnqueueExtra): QueueEntry {
    if (recipients.length === 0) throw new MailError('BADINPUT', 'no recipients');
    const now = Date.now();
    const id = extra.id ?? `${now.toString(36).toUpperCase()}${randomBytes(5).toString('hex').toUpperCase()}`;
    if (this.entries.has(id) || this.staged.has(id)) throw new MailError('ALREADYEXISTS', `queue entry ${id} exists`);
    const entry: QueueEntry = { id, sender, recipients: [...recipients], created: extra.created ?? now, attempts: 0, nextAttempt: extra.nextAttempt ?? now, lastError: null, reason };
    if (extra.data !== undefined) entry.data = extra.data;
    if (extra.smtpId !== undefined) entry.smtpId = extra.smtpId;
    return entry;
  }

  private view(id: string, entry: QueueEntry): QueueEntry {
    const e = structuredClone(entry);
    delete e.held;
    if (this.held.has(id)) e.held = true;
    return e;
  }

  enqueue(sender: string, recipients: string[], raw: Buffer, reason: string, extra: EnqueueExtra = {}): QueueEntry {
    const entry = this.newEntry(sender, recipients, reason, extra);
    this.entries.set(entry.id, { entry: structuredClone(entry), raw: Buffer.from(raw) });
    this.announce(entry);
    return entry;
  }

  stage(sender: string, recipients: string[], raw: Buffer, reason: string, extra: EnqueueExtra = {}): QueueEntry {
    const entry = this.newEntry(sender, recipients, reason, extra);
    this.staged.set(entry.id, Buffer.from(raw));
    return entry;
  }

  publish(entries: QueueEntry[]): void {
    for (const entry of entries) {
      const raw = this.staged.get(entry.id);
      if (!raw) continue;
      this.staged.delete(entry.id);
      const { held: _held, ...stored } = entry;
      this.entries.set(entry.id, { entry: structuredClone(stored), raw });
      this.announce(stored);
    }
  }

  discard(ids: string[]): void {
    for (const id of ids) this.staged.delete(id);
  }

  listIds(): QueueHead[] {
    return [...this.entries.values()]
      .sort((a, b) => a.entry.created - b.entry.created)
      .map((e) => ({ id: e.entry.id, held: this.held.has(e.entry.id) }));
  }

  list(): QueueEntry[] {
    return [...this.entries.values()].map((e) => this.view(e.entry.id, e.entry)).sort((a, b) => a.created - b.created);
  }

  get(id: string): QueueEntry | undefined {
    const e = this.entries.get(id);
    return e && this.view(id, e.entry);
  }

  message(id: string): Buffer {
    const e = this.entries.get(id);
    if (!e) throw unknown(id);
    return Buffer.from(e.raw);
  }

  update(entry: QueueEntry): void {
    const e = this.entries.get(entry.id);
    // As the file store: an entry deleted meanwhile stays deleted.
    if (!e) throw unknown(entry.id);
    const { held: _held, ...stored } = entry;
    e.entry = structuredClone(stored);
  }

  remove(id: string): void {
    if (!this.entries.delete(id)) throw unknown(id);
    this.held.delete(id);
    this.flushIds.delete(id);
  }

  hold(id: string): void {
    if (!this.entries.has(id)) throw unknown(id);
    this.held.add(id);
    this.announce(null);
  }

  release(id: string): void {
    if (!this.entries.has(id)) throw unknown(id);
    this.held.delete(id);
    this.announce(null);
  }

  requestFlush(id?: string): void {
    if (id === undefined) this.flushRequested = true;
    else if (this.entries.has(id)) {
      this.flushIds.add(id);
      this.announce(null);
    } else throw unknown(id);
  }

  takeFlushRequest(): boolean {
    const was = this.flushRequested;
    this.flushRequested = false;
    return was;
  }

  takeFlushedIds(): string[] {
    const ids = [...this.flushIds];
    this.flushIds.clear();
    return ids;
  }

  cleanOrphans(): void {
    // Nothing is ever half written here.
  }

  /** One process: a claim leases nothing, it reads the entry as stored now. */
  claim(id: string, _leaseMs: number): QueueEntry | undefined {
    return this.held.has(id) ? undefined : this.get(id);
  }

  renewClaim(id: string, _leaseMs: number): boolean {
    return this.entries.has(id);
  }

  releaseClaim(_id: string): void {}
}
