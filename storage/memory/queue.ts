// A queue in memory, as storage/queue.ts keeps one on disk: entries by id,
// listed oldest first, each with its message.
import { randomBytes } from 'node:crypto';
import { MailError } from '../errors.js';
import type { QueueEntry } from '../queue.js';
import type { QueuePort } from './shapes.js';

export class MemoryQueue implements QueuePort {
  private readonly entries = new Map<string, { entry: QueueEntry; raw: Buffer }>();
  private flushRequested = false;

  enqueue(sender: string, recipients: string[], raw: Buffer, reason: string, extra: { data?: unknown; nextAttempt?: number } = {}): QueueEntry {
    if (recipients.length === 0) throw new MailError('BADINPUT', 'no recipients');
    const id = `${Date.now().toString(36).toUpperCase()}${randomBytes(5).toString('hex').toUpperCase()}`;
    const now = Date.now();
    const entry: QueueEntry = { id, sender, recipients: [...recipients], created: now, attempts: 0, nextAttempt: extra.nextAttempt ?? now, lastError: null, reason };
    if (extra.data !== undefined) entry.data = extra.data;
    this.entries.set(id, { entry: structuredClone(entry), raw: Buffer.from(raw) });
    return entry;
  }

  list(): QueueEntry[] {
    return [...this.entries.values()].map((e) => structuredClone(e.entry)).sort((a, b) => a.created - b.created);
  }

  get(id: string): QueueEntry | undefined {
    const e = this.entries.get(id);
    return e && structuredClone(e.entry);
  }

  message(id: string): Buffer {
    const e = this.entries.get(id);
    if (!e) throw new MailError('NONEXISTENT', `no such queue entry: ${id}`);
    return Buffer.from(e.raw);
  }

  update(entry: QueueEntry): void {
    const e = this.entries.get(entry.id);
    // The file store writes whatever it is given; an entry without its message is no entry.
    if (e) e.entry = structuredClone(entry);
  }

  remove(id: string): void {
    if (!this.entries.delete(id)) throw new MailError('NONEXISTENT', `no such queue entry: ${id}`);
  }

  requestFlush(): void {
    this.flushRequested = true;
  }

  takeFlushRequest(): boolean {
    const was = this.flushRequested;
    this.flushRequested = false;
    return was;
  }

  cleanOrphans(): void {
    // Nothing is ever half written here.
  }
}
