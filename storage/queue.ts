// The outbound queue on disk: DIR/queue/<id>.eml (the message) and
// <id>.json (envelope and state). The .json is written last, so a crash
// leaves either a whole entry or an orphan .eml that is ignored and cleaned.
// The same class keeps the local-retry queue (DIR/queue/local: messages
// stored for some recipients, the rest retried here).
import { readFileSync, readdirSync, unlinkSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { MailError } from './errors.js';
import { fsyncPath, removeQuietly, writeFileSynced } from './maildir/files.js';

export interface QueueEntry {
  id: string;
  /** Envelope sender; "" for the null sender (bounces, vacation replies). */
  sender: string;
  recipients: string[];
  created: number;
  attempts: number;
  nextAttempt: number;
  lastError: string | null;
  /** Why it was queued: "redirect", "vacation", "bounce", "notify", "submission", "local-retry". */
  reason: string;
  /** What the queue's user keeps beside the envelope (the local-retry queue: the tasks left). */
  data?: unknown;
}

/** A file whose presence asks the process running the queue to try every entry now. */
const FLUSH_REQUEST = 'flush-requested';

export class QueueStore {
  constructor(private readonly dir: string) {}

  /** Durable when it returns. */
  enqueue(sender: string, recipients: string[], raw: Buffer, reason: string, extra: { data?: unknown; nextAttempt?: number } = {}): QueueEntry {
    if (recipients.length === 0) throw new MailError('BADINPUT', 'no recipients');
    const id = `${Date.now().toString(36).toUpperCase()}${randomBytes(5).toString('hex').toUpperCase()}`;
    const now = Date.now();
    const entry: QueueEntry = { id, sender, recipients, created: now, attempts: 0, nextAttempt: extra.nextAttempt ?? now, lastError: null, reason };
    if (extra.data !== undefined) entry.data = extra.data;
    try {
      // Directories made now must survive a crash too: each parent's entry for them is fsynced.
      const made = mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      if (made !== undefined) {
        for (let d = path.dirname(this.dir); ; d = path.dirname(d)) {
          fsyncPath(d);
          if (d === path.dirname(made) || d === path.dirname(d)) break;
        }
      }
      writeFileSynced(path.join(this.dir, `${id}.eml`), raw);
      writeFileSynced(path.join(this.dir, `${id}.json`), JSON.stringify(entry));
      fsyncPath(this.dir);
    } catch (err) {
      throw new MailError('TEMPFAIL', 'cannot write to the queue', { cause: err });
    }
    return entry;
  }

  list(): QueueEntry[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: QueueEntry[] = [];
    for (const n of names) {
      if (!n.endsWith('.json')) continue;
      try {
        out.push(JSON.parse(readFileSync(path.join(this.dir, n), 'utf8')) as QueueEntry);
      } catch {
        // a half-written entry is not an entry
      }
    }
    return out.sort((a, b) => a.created - b.created);
  }

  get(id: string): QueueEntry | undefined {
    if (!/^[A-Z0-9]+$/.test(id)) return undefined;
    try {
      return JSON.parse(readFileSync(path.join(this.dir, `${id}.json`), 'utf8')) as QueueEntry;
    } catch {
      return undefined;
    }
  }

  message(id: string): Buffer {
    if (!this.get(id)) throw new MailError('NONEXISTENT', `no such queue entry: ${id}`);
    return readFileSync(path.join(this.dir, `${id}.eml`));
  }

  /** Durable when it returns: a crash afterwards finds this state, not the one before. */
  update(entry: QueueEntry): void {
    writeFileSynced(path.join(this.dir, `${entry.id}.json`), JSON.stringify(entry));
    fsyncPath(this.dir);
  }

  remove(id: string): void {
    if (!this.get(id)) throw new MailError('NONEXISTENT', `no such queue entry: ${id}`);
    unlinkSync(path.join(this.dir, `${id}.json`));
    removeQuietly(path.join(this.dir, `${id}.eml`));
    fsyncPath(this.dir);
  }

  /**
   * Asks whoever runs this queue (another process, e.g. `serve` for a CLI
   * flush) to try every entry now. A marker file rather than a rewrite of
   * each entry: the runner may be updating an entry at the same moment.
   */
  requestFlush(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileSynced(path.join(this.dir, FLUSH_REQUEST), '');
  }

  /** Whether a flush was asked for since the last call (and forgets it). */
  takeFlushRequest(): boolean {
    try {
      unlinkSync(path.join(this.dir, FLUSH_REQUEST));
      return true;
    } catch {
      return false;
    }
  }

  /** Removes .eml files that never got their .json (a crash mid-enqueue) and are older than an hour. */
  cleanOrphans(now = Date.now()): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    const entries = new Set(names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)));
    for (const n of names) {
      if (!n.endsWith('.eml') || entries.has(n.slice(0, -4))) continue;
      const p = path.join(this.dir, n);
      try {
        if (now - statSync(p).mtimeMs > 3600_000) unlinkSync(p);
      } catch {
        // gone
      }
    }
  }
}
