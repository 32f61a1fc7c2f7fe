// Retries what the local-retry queue keeps: the parts of messages that were
// stored for some recipients and failed temporarily for others (the sender
// was told 250, so nobody else will try again). `serve` runs it. Each task
// done is removed from its entry durably before the next one starts, so a
// retry never repeats a store; only a crash in the instant between a store
// and that write could.
import type { Storage } from '../../storage/ports.js';
import type { QueueEntry } from '../../storage/ports.js';
import type { Logger } from '../log.js';
import type { DeliveryAgent, InboundMessage } from './agent.js';
import { describeTask, localRetryData, pendingRecipients, type DeliveryTask, type LocalRetryData } from './local-retry-entry.js';
import type { TaskResult } from './partial-delivery.js';
import type { DeliveryFailure } from './outcome.js';

export interface LocalRetrySchedule {
  /** How often the queue is looked at: entries written by other processes (the LDA) and flush requests show up within this. */
  scanMs: number;
  /** The wait after the first failed retry; it doubles after each one... */
  firstDelayMs: number;
  /** ...up to this. */
  maxDelayMs: number;
  /** After this long in the queue, the rest is given up: a DSN to the sender (none for the null sender). */
  giveUpMs: number;
}

/** Postfix's rhythm, started sooner: 1 min, doubling to an hour, given up after 5 days (maximal_queue_lifetime). */
export const LOCAL_RETRY_SCHEDULE: LocalRetrySchedule = { scanMs: 5_000, firstDelayMs: 60_000, maxDelayMs: 3_600_000, giveUpMs: 5 * 86_400_000 };

export function retryDelay(attempts: number, s: LocalRetrySchedule = LOCAL_RETRY_SCHEDULE): number {
  return Math.min(s.firstDelayMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30), s.maxDelayMs);
}

export class LocalRetryRunner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** An entry's state when writing it failed (a full disk): what is done stays done while this process lives. */
  private readonly unrecorded = new Map<string, LocalRetryData>();
  /** Entries already reported as unreadable (reported once, left for the administrator). */
  private readonly reported = new Set<string>();

  constructor(
    private readonly storage: Storage,
    private readonly agent: DeliveryAgent,
    private readonly log: Logger,
    private readonly schedule: LocalRetrySchedule = LOCAL_RETRY_SCHEDULE,
    private readonly now: () => number = () => Date.now(),
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.runOnce(), this.schedule.scanMs);
    this.timer.unref();
    void this.runOnce();
  }

  /** Stops after the task in progress (its state is recorded). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One pass over the due entries (or all, after a flush request); never two at once. */
  runOnce(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.pass()
      .catch((err: unknown) => this.log.error({ event: 'local-retry-failed', err: (err as Error).message }))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<void> {
    const queue = this.storage.localRetry;
    const flush = await queue.takeFlushRequest();
    // listIds is the runner's look (a backend shared by several nodes answers it on the one that runs the queues).
    for (const head of await queue.listIds()) {
      if (this.stopped) return;
      const entry = await queue.get(head.id);
      if (!entry) continue;
      if (entry.held || (!flush && entry.nextAttempt > this.now())) continue;
      await this.retry(entry);
    }
  }

  private async retry(entry: QueueEntry): Promise<void> {
    const queue = this.storage.localRetry;
    const data = this.unrecorded.get(entry.id) ?? localRetryData(entry);
    let raw: Buffer | undefined;
    try {
      raw = data && (await queue.message(entry.id));
    } catch {
      raw = undefined;
    }
    if (!data || !raw) {
      if (!this.reported.has(entry.id)) this.log.error({ event: 'local-retry-unreadable', entry: entry.id });
      this.reported.add(entry.id);
      return;
    }
    const msg: InboundMessage = {
      id: data.queueId,
      raw,
      from: entry.sender,
      recipients: [],
      traceHeaders: data.traceHeaders,
      rejectAtSmtp: false,
      ...(data.remoteIp !== undefined ? { remoteIp: data.remoteIp } : {}),
      ...(data.remoteHost !== undefined ? { remoteHost: data.remoteHost } : {}),
      ...(data.junk ? { junk: true } : {}),
    };
    const served = new Set(data.served);
    const failed: DeliveryTask[] = [];
    let lastFailure: DeliveryFailure | undefined;
    let work = [...data.tasks];
    for (let round = 0; round < 2; round++) {
      while (work.length > 0) {
        if (this.stopped) return;
        const task = work.shift()!;
        const { result, next } = await this.attempt(msg, task, served, data.queueId);
        if (result.kind === 'tempfail') {
          failed.push(task);
          lastFailure = result;
          continue;
        }
        work = [...next, ...work];
        // Durable before the next task: from here on a crash must not do this one again.
        if (!(await this.record(entry, { ...data, served: [...served], tasks: [...failed, ...work] }))) return;
      }
      // Too long in the queue: what is left becomes DSNs, sent in a second round.
      if (round > 0 || !lastFailure || this.now() - entry.created < this.schedule.giveUpMs) break;
      const days = Math.round((this.now() - entry.created) / 86_400_000);
      const giveUp = failed.filter((t) => t.kind !== 'bounce');
      const why = lastFailure;
      work = entry.sender === '' ? [] : giveUp.flatMap((t) => bounceFor(this.agent, t, why, ` (gave up after ${days} days)`));
      this.log.error({ event: 'local-retry-expired', id: data.queueId, entry: entry.id, tasks: giveUp.map(describeTask), dsn: entry.sender !== '' });
      failed.splice(0, failed.length, ...failed.filter((t) => t.kind === 'bounce'));
      if (!(await this.record(entry, { ...data, served: [...served], tasks: [...failed, ...work] }))) return;
    }

    if (failed.length === 0) {
      try {
        await queue.remove(entry.id);
      } catch (err) {
        // Recorded as done already: a leftover entry has nothing to do and goes at the next pass.
        this.log.warn({ event: 'local-retry-remove-failed', entry: entry.id, err: (err as Error).message });
      }
      this.unrecorded.delete(entry.id);
      this.log.info({ event: 'local-retry-done', id: data.queueId, entry: entry.id });
      return;
    }
    const updated = { ...data, served: [...served], tasks: failed };
    entry.attempts += 1;
    entry.nextAttempt = this.now() + retryDelay(entry.attempts, this.schedule);
    entry.lastError = lastFailure ? this.agent.wordsOf(lastFailure) : null;
    this.log.warn({ event: 'local-retry-deferred', id: data.queueId, entry: entry.id, tasks: failed.map(describeTask), err: entry.lastError, next: new Date(entry.nextAttempt).toISOString() });
    await this.record(entry, updated);
  }

  /** One task; `next` are the tasks that take its place (a DSN for a refusal, an expanded recipient's parts). */
  private async attempt(msg: InboundMessage, task: DeliveryTask, served: Set<string>, queueId: string): Promise<{ result: TaskResult; next: DeliveryTask[] }> {
    let result: TaskResult;
    let next: DeliveryTask[] = [];
    if (task.kind === 'expand') {
      const r = await this.agent.expandTask(msg, task.recipient, served, queueId);
      if ('failure' in r) result = r.failure;
      else {
        result = { kind: 'ok' };
        next = r.tasks;
      }
    } else {
      result = await this.agent.runTask(msg, task, queueId);
    }
    if (result.kind === 'reject') {
      this.log.warn({ event: 'local-retry-refused', id: queueId, task: describeTask(task), err: this.agent.wordsOf(result), dsn: msg.from !== '' });
      if (msg.from !== '') next = bounceFor(this.agent, task, result);
    } else if (result.kind === 'ok' && task.kind !== 'expand') {
      this.log.info({ event: 'local-retry-delivered', id: queueId, task: describeTask(task) });
    }
    return { result, next };
  }

  /** Writes the entry's new state; false (and the state kept in memory) when it cannot. */
  private async record(entry: QueueEntry, data: LocalRetryData): Promise<boolean> {
    entry.data = data;
    entry.recipients = pendingRecipients(data.tasks);
    try {
      // Also with nothing left: the caller removes the entry next, and a crash before that must find nothing to do.
      await this.storage.localRetry.update(entry);
      this.unrecorded.delete(entry.id);
      return true;
    } catch (err) {
      this.unrecorded.set(entry.id, data);
      this.log.error({ event: 'local-retry-record-failed', entry: entry.id, err: (err as Error).message });
      return false;
    }
  }
}

/** The DSN tasks for a task that failed for good (or for too long): one per address that will not get the message. */
function bounceFor(agent: DeliveryAgent, task: DeliveryTask, why: DeliveryFailure, note = ''): DeliveryTask[] {
  const failed = task.kind === 'store' ? [task.address] : task.kind === 'forward' ? task.to : task.kind === 'bounce' ? [] : [task.recipient];
  return failed.map((f) => {
    const b = agent.bounce(task.recipient, f, why);
    return note ? { ...b, text: `${b.text}${note}` } : b;
  });
}
