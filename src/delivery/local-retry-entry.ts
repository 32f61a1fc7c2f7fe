// What a local-retry entry holds (the JSON part of DIR/queue/local/<id>.entry,
// or of <id>.json once updated): the parts of one message's delivery still to do.
// A task is removed from the entry, durably, as soon as it is done, so a
// retry never repeats one.
import type { QueueEntry, QueueStore } from '../../storage/ports.js';

/** One part of a message's delivery. */
export type DeliveryTask =
  /** A copy for one local account, Sieve included, as RCPT `recipient` reached it. */
  | { kind: 'store'; recipient: string; account: string; address: string; detail?: string }
  /** Alias targets elsewhere, through the outbound queue. */
  | { kind: 'forward'; recipient: string; to: string[] }
  /** A DSN to the envelope sender: `failed` (reached through `recipient`) will not get the message. */
  | { kind: 'bounce'; recipient: string; failed: string; code: number; enhanced: string; text: string }
  /** A recipient whose aliases could not be read: expand, then do its parts (not for accounts in `served`). */
  | { kind: 'expand'; recipient: string };

export interface LocalRetryData {
  /** The id the sender was given ("queued as"), for logs. */
  queueId: string;
  traceHeaders: string[];
  remoteIp?: string;
  remoteHost?: string;
  junk?: boolean;
  /** Accounts that got (or are to get) their copy through another task: one copy per account. */
  served: string[];
  tasks: DeliveryTask[];
}

export const LOCAL_RETRY_REASON = 'local-retry';

/** A short description of a task, for logs. */
export function describeTask(t: DeliveryTask): string {
  switch (t.kind) {
    case 'store':
      return `store ${t.account} (for ${t.recipient})`;
    case 'forward':
      return `forward to ${t.to.join(', ')} (for ${t.recipient})`;
    case 'bounce':
      return `DSN for ${t.failed}`;
    case 'expand':
      return `expand ${t.recipient}`;
  }
}


/** The recipients an entry still works for, as `queue list` shows them. */
export function pendingRecipients(tasks: DeliveryTask[]): string[] {
  return [...new Set(tasks.map((t) => (t.kind === 'bounce' ? t.failed : t.recipient)))];
}

/** Durable when it returns; throws (TEMPFAIL) when it cannot be written. */
export function writeLocalRetry(queue: QueueStore, sender: string, raw: Buffer, data: LocalRetryData, firstAttempt: number): Promise<QueueEntry> {
  return queue.enqueue(sender, pendingRecipients(data.tasks), raw, LOCAL_RETRY_REASON, { data, nextAttempt: firstAttempt });
}

const str = (v: unknown): v is string => typeof v === 'string';

function validTask(t: unknown): t is DeliveryTask {
  if (typeof t !== 'object' || t === null) return false;
  const o = t as Record<string, unknown>;
  if (!str(o.recipient)) return false;
  switch (o.kind) {
    case 'store':
      return str(o.account) && str(o.address) && (o.detail === undefined || str(o.detail));
    case 'forward':
      return Array.isArray(o.to) && o.to.length > 0 && o.to.every(str);
    case 'bounce':
      return str(o.failed) && typeof o.code === 'number' && str(o.enhanced) && str(o.text);
    case 'expand':
      return true;
    default:
      return false;
  }
}

/** The entry's data, or undefined when it is not a (whole, valid) local-retry entry. */
export function localRetryData(entry: QueueEntry): LocalRetryData | undefined {
  const d = entry.data as Partial<LocalRetryData> | undefined;
  if (entry.reason !== LOCAL_RETRY_REASON || typeof d !== 'object' || d === null) return undefined;
  if (!str(d.queueId) || !Array.isArray(d.traceHeaders) || !d.traceHeaders.every(str)) return undefined;
  if (!Array.isArray(d.served) || !d.served.every(str) || !Array.isArray(d.tasks) || !d.tasks.every(validTask)) return undefined;
  return d as LocalRetryData;
}
