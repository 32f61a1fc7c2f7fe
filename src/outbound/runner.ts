// Sends what the outbound queue holds: keeps its view of the queue in
// memory, tries each due entry through the transport, records every
// recipient's outcome durably, and tells the sender about failures (a
// bounce) and long delays (a warning), never the null sender. `serve` runs it.
//
// Where the view comes from: the queue tells the runner of each entry made
// in this process once it is durable (QueueStore.watch), and of hold changes.
// The whole directory is read only at start, when another process left its
// marker (`postino deliver`, the CLI's hold/release/flush ID: takeRescanRequest),
// on a flush of everything, and on a slow safety pass (rescanMs). Due times
// are kept in memory; one timer wakes the runner for the next one.
//
// Exactly once, as far as SMTP allows: a recipient's 'sent' is recorded
// (fsynced) as soon as the transport returns the message's outcomes, before
// anything else happens to the entry. An entry fully sent is removed in one
// step: its message file (.entry) is unlinked first (from then on it is no
// entry, and it is gone from this runner's view), and the directory fsync that makes the
// unlink durable runs on without holding the attempt's slot. A crash before
// that fsync lands finds the entry as last recorded, so it is sent again:
// the same window as a crash between the remote 250 and the record, which
// an fsync we wait for would close no sooner (at-least-once, the SMTP norm).
// An entry found with every recipient sent or failed (a crash after its
// record) is never sent again: it has nothing due, and is removed.
//
// Several nodes on one queue (PostgreSQL): every node's runner sees every
// entry, and each attempt starts with a claim (QueueStore.claim), which
// leases the entry to this process and gives its state as stored now (the
// view here may be old: another node may have sent some recipients). An
// entry another node holds is left alone until its lease could have run
// out. The lease is renewed while the attempt runs (a slow remote) and
// given back once the outcome is recorded; a node that dies leaves its
// leases to run out (leaseMs), and another node sends the entries then.
// The duplicate window stays the one above, and no wider: a node killed
// after the remote's 250 and before its record leaves the recipient open,
// and the next holder sends it again (as Postfix would after a crash). The
// record follows the transport's answer at once, one UPDATE. A node that
// stalls longer than its lease (its renewals failing) may find the entry
// taken and sent by another meanwhile: it says so (outbound-lease-lost).
import type { QueueEntry, QueueListener, QueueStore, RecipientState } from '../../storage/ports.js';
import { isMailError } from '../../storage/errors.js';
import { recipientStates } from '../../storage/queue.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { MessageSigner, OutboundTransport, RecipientOutcome, SenderRewriter } from './transport.js';
import { DEFAULT_SCHEDULE, dueRecipients, isDueForWarning, isExpired, isOpen, nextAttemptOf, retryDelay, type RetrySchedule } from './schedule.js';
import { buildBounce, buildDelayWarning } from './dsn.js';

export interface OutboundRunnerOptions {
  queue: QueueStore;
  transport: OutboundTransport;
  /** Applied to each message before it is sent (DKIM). */
  signer?: MessageSigner | undefined;
  /** Gives the envelope sender of forwarded mail (reasons 'redirect' and 'alias'): SRS. */
  rewriter?: SenderRewriter | undefined;
  log: Logger;
  /** This server's name, in the notices it sends. */
  hostname: string;
  schedule?: RetrySchedule;
  /** How often the markers other processes leave (flush, rescan) are looked for: their changes show up within this. */
  scanMs?: number;
  /** How often the whole queue directory is read anyway (a safety pass: entries whose marker was lost). */
  rescanMs?: number;
  /** Entries being sent at once. */
  maxInFlight?: number;
  /** How long an entry this runner took stays its own unrenewed (a queue shared by several nodes); renewed every third of it. */
  leaseMs?: number;
  now?: () => number;
  metrics?: Metrics | undefined;
}

/** Reasons whose entries carry someone else's message onwards: they leave with a rewritten sender (SRS). */
const FORWARDED = new Set(['redirect', 'alias']);

/** After a local failure (the entry unreadable, its state not writable), the entry waits this long. */
const LOCAL_BACKOFF_MS = 60_000;

/** How long a claimed entry stays this runner's unrenewed (node.leaseSeconds). */
export const DEFAULT_LEASE_MS = 60_000;

export class OutboundRunner {
  private readonly queue: QueueStore;
  private readonly schedule: RetrySchedule;
  private readonly scanMs: number;
  private readonly rescanMs: number;
  private readonly maxInFlight: number;
  private readonly leaseMs: number;
  private readonly now: () => number;
  /** Entries in the queue, as this process last wrote or read them (another node's changes are read by the claim before each attempt). */
  private readonly known = new Map<string, QueueEntry>();
  /** Entries to try at the next free slot (due, or flushed), in the order they became so. */
  private readonly ready = new Set<string>();
  /** Entries on hold, as the last look at the directory (or this process's own hold) found them. */
  private readonly held = new Set<string>();
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Entries a flush asked for, tried at the next free slot whatever their schedule. */
  private readonly flushing = new Set<string>();
  /** Entries left alone until then after a local failure. */
  private readonly backoff = new Map<string, number>();
  private ticker: NodeJS.Timeout | undefined;
  /** Wakes the runner when the next known entry falls due. */
  private dueTimer: NodeJS.Timeout | undefined;
  private dueAt = Infinity;
  private lastFullScan = 0;
  private scanning: Promise<void> | undefined;
  private rescan = false;
  /** A flush of everything was taken by tick: the next full look applies it. */
  private rescanFlushAll = false;
  private stopped = false;
  private readonly listener: QueueListener = (entry) => {
    if (entry) this.adopt(entry);
    else void this.kick();
  };

  constructor(private readonly o: OutboundRunnerOptions) {
    this.queue = o.queue;
    this.schedule = o.schedule ?? DEFAULT_SCHEDULE;
    this.scanMs = o.scanMs ?? 250;
    this.leaseMs = o.leaseMs ?? DEFAULT_LEASE_MS;
    // A dead node's entries are found by the others on this pass, once their leases ran out.
    this.rescanMs = o.rescanMs ?? Math.min(30_000, this.leaseMs);
    this.maxInFlight = o.maxInFlight ?? 16;
    this.now = o.now ?? (() => Date.now());
  }

  start(): void {
    void this.queue.cleanOrphans().catch((err: unknown) => this.o.log.warn({ event: 'queue-clean-failed', err: (err as Error).message }));
    // Watching before the first look: an entry made meanwhile is told, or found, or both (adopt takes it once).
    void this.queue.watch(this.listener).catch((err: unknown) => this.o.log.warn({ event: 'queue-watch-failed', err: (err as Error).message }));
    this.ticker = setInterval(() => void this.tick(), this.scanMs);
    this.ticker.unref();
    void this.kick();
  }

  /** Stops starting attempts; waits up to `drainMs` for those in flight (one cut short is sent again after the restart). */
  async stop(drainMs = 5_000): Promise<void> {
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    if (this.dueTimer) clearTimeout(this.dueTimer);
    await this.queue.unwatch(this.listener).catch(() => undefined);
    await this.scanning;
    const timer = new Promise<void>((resolve) => setTimeout(resolve, drainMs).unref());
    await Promise.race([Promise.all(this.inFlight.values()), timer]);
  }

  /** One look at the whole queue, starting the due entries' attempts (at start, on markers, on the safety pass; tests: then `idle`). */
  kick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.scanning) {
      this.rescan = true;
      return this.scanning;
    }
    this.scanning = this.scan()
      .catch((err: unknown) => this.o.log.error({ event: 'queue-scan-failed', err: (err as Error).message }))
      .finally(() => {
        this.scanning = undefined;
        if (this.rescan) {
          this.rescan = false;
          void this.kick();
        }
      });
    return this.scanning;
  }

  /** Settles when no attempt is in flight and no look at the queue is running (tests). */
  async idle(): Promise<void> {
    while (this.scanning || this.inFlight.size > 0) {
      await this.scanning;
      await Promise.all(this.inFlight.values());
    }
  }

  /** The frequent, cheap look: only the markers other processes leave; the whole directory when one is there, or the safety pass is due. */
  private async tick(): Promise<void> {
    if (this.stopped || this.scanning) return;
    try {
      const rescan = await this.queue.takeRescanRequest();
      // A flush of everything is taken by the full look itself, after it has seen the holds.
      const flush = rescan ? false : await this.queue.takeFlushRequest();
      if (flush) this.rescanFlushAll = true;
      if (rescan || flush || this.now() - this.lastFullScan >= this.rescanMs) await this.kick();
    } catch (err) {
      this.o.log.error({ event: 'queue-scan-failed', err: (err as Error).message });
    }
  }

  /** A new entry told by the queue (or made by this runner): known from now on, tried when due. */
  private adopt(entry: QueueEntry): void {
    if (this.stopped || this.known.has(entry.id)) return;
    this.known.set(entry.id, entry);
    this.place(entry.id);
    this.pump();
  }

  /** Puts a known entry where it belongs: ready when due (or flushed), else under the due timer. */
  private place(id: string): void {
    const entry = this.known.get(id);
    if (!entry || this.inFlight.has(id) || this.held.has(id)) return;
    const at = Math.max(this.flushing.has(id) ? 0 : entry.nextAttempt, this.backoff.get(id) ?? 0);
    if (at <= this.now()) this.ready.add(id);
    else this.armTimer(at);
  }

  private armTimer(at: number): void {
    if (this.stopped || at >= this.dueAt) return;
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueAt = at;
    // No sooner than scanMs apart: each wake-up looks at every known entry.
    this.dueTimer = setTimeout(() => this.wake(), Math.max(at - this.now(), this.scanMs));
    this.dueTimer.unref();
  }

  /** The due timer fired: every known entry due by now becomes ready; the timer is set for the next. */
  private wake(): void {
    this.dueTimer = undefined;
    this.dueAt = Infinity;
    for (const id of this.known.keys()) if (!this.ready.has(id)) this.place(id);
    this.pump();
  }

  /** Starts ready entries' attempts while slots are free: no I/O, only what is known. */
  private pump(): void {
    for (const id of this.ready) {
      if (this.stopped || this.inFlight.size >= this.maxInFlight) return;
      this.ready.delete(id);
      const entry = this.known.get(id);
      if (!entry || this.held.has(id) || this.inFlight.has(id)) continue;
      const until = this.backoff.get(id);
      const now = this.now();
      if (until !== undefined && until > now) {
        this.armTimer(until);
        continue;
      }
      this.backoff.delete(id);
      const flush = this.flushing.delete(id);
      if (!flush && entry.nextAttempt > now) {
        this.armTimer(entry.nextAttempt);
        continue;
      }
      const attempt = this.attempt(entry, flush)
        .catch((err: unknown) => {
          this.o.log.error({ event: 'outbound-failed', queueId: id, err: (err as Error).message });
          this.backoff.set(id, this.now() + LOCAL_BACKOFF_MS);
        })
        .finally(() => {
          this.inFlight.delete(id);
          this.place(id);
          this.pump();
        });
      this.inFlight.set(id, attempt);
    }
  }

  /** The whole directory: entries other processes made or deleted, holds, flushes; then every due entry is started. */
  private async scan(): Promise<void> {
    this.lastFullScan = this.now();
    const flushAll = this.rescanFlushAll || (await this.queue.takeFlushRequest());
    this.rescanFlushAll = false;
    const flushedIds = await this.queue.takeFlushedIds();
    const heads = await this.queue.listIds();
    const present = new Set(heads.map((h) => h.id));
    for (const id of this.known.keys()) {
      if (!present.has(id) && !this.inFlight.has(id)) {
        this.known.delete(id);
        this.ready.delete(id);
      }
    }
    for (const id of this.flushing) if (!present.has(id)) this.flushing.delete(id);
    if (flushAll) {
      for (const h of heads) this.flushing.add(h.id);
      this.backoff.clear();
    }
    for (const id of flushedIds) {
      if (!present.has(id)) continue;
      this.flushing.add(id);
      this.backoff.delete(id);
    }
    this.held.clear();
    for (const head of heads) {
      if (this.stopped) return;
      // Held entries are not flushed either (postsuper -h): the flush is forgotten.
      if (head.held) {
        this.held.add(head.id);
        this.flushing.delete(head.id);
        this.ready.delete(head.id);
        continue;
      }
      if (!this.known.has(head.id)) {
        const entry = await this.queue.get(head.id);
        if (!entry || this.known.has(head.id)) continue;
        this.known.set(head.id, entry);
      }
      if (this.flushing.has(head.id)) this.ready.add(head.id);
      else this.place(head.id);
    }
    this.pump();
  }

  /**
   * Claims the entry (its state as stored now, leased to this process), makes
   * one attempt while renewing the lease, and gives it back. An entry not
   * claimed (gone, held, or another node's now) waits here until a lease
   * could have run out; a scan forgets it when it is gone.
   */
  private async attempt(known: QueueEntry, flush: boolean): Promise<void> {
    const id = known.id;
    const claimed = await this.queue.claim(id, this.leaseMs);
    if (!claimed) {
      this.backoff.set(id, this.now() + this.leaseMs);
      return;
    }
    if (this.known.has(id)) this.known.set(id, claimed);
    let renewing: Promise<void> = Promise.resolve();
    const renewal = setInterval(() => (renewing = renewing.then(() => this.renew(id))), Math.max(Math.floor(this.leaseMs / 3), 100));
    renewal.unref();
    try {
      await this.attemptClaimed(claimed, flush);
    } finally {
      clearInterval(renewal);
      // A renewal landing after the release would keep the entry leased.
      await renewing;
      await this.queue.releaseClaim(id).catch((err: unknown) => this.o.log.warn({ event: 'outbound-release-failed', queueId: id, err: (err as Error).message }));
    }
  }

  private async renew(id: string): Promise<void> {
    try {
      if (await this.queue.renewClaim(id, this.leaseMs)) return;
      // Removed meanwhile (sent and recorded as the renewal ran, or deleted): nothing was lost.
      if (await this.queue.get(id)) this.o.log.warn({ event: 'outbound-lease-lost', queueId: id });
    } catch (err) {
      this.o.log.warn({ event: 'outbound-lease-renew-failed', queueId: id, err: (err as Error).message });
    }
  }

  /** One attempt at a claimed entry: its due recipients (all open ones when flushed), then what follows from their outcomes. */
  private async attemptClaimed(stored: QueueEntry, flush: boolean): Promise<void> {
    const entry: QueueEntry = structuredClone(stored);
    const states = recipientStates(entry).map((r) => ({ ...r }));
    let raw: Buffer;
    try {
      raw = await this.queue.message(entry.id);
    } catch (err) {
      if (isMailError(err, 'NONEXISTENT')) {
        this.known.delete(entry.id);
        return;
      }
      throw err;
    }
    const due = dueRecipients(states, this.now(), flush);
    if (due.length > 0) {
      const early = new EarlyRecord(this.queue, entry, states, (err) => this.o.log.warn({ event: 'outbound-record-failed', queueId: entry.id, err: err.message }));
      const outcomes = await this.send(entry, raw, due, (addresses) => early.sent(addresses));
      await early.settled();
      const now = this.now();
      entry.attempts += 1;
      due.forEach((r, i) => this.apply(r, outcomes[i], entry, now));
      const expired = isExpired(entry.created, now, this.schedule) ? states.filter(isOpen) : [];
      for (const r of expired) {
        r.status = 'failed';
        r.deferral = null;
        r.notified = entry.sender === '';
        r.reply = `${r.reply ?? 'not delivered'} (gave up after ${Math.round((now - entry.created) / 86_400_000)} days in the queue)`;
      }
      entry.states = states;
      entry.nextAttempt = nextAttemptOf(states) ?? now;
      const last = outcomes.filter((o) => o.status !== 'sent').pop();
      if (last) entry.lastError = last.reply;
      // Durable first: from here on a crash must not send to these recipients again.
      const recorded = await this.record(entry, this.needsNotice(entry, states, now));
      // An attempt that ends the entry says so on its last line (no outbound-done line of its own).
      const done = recorded === 'removed' ? this.doneFields(entry, states) : undefined;
      due.forEach((r, i) => this.logAttempt(entry, r, outcomes[i], i === due.length - 1 ? done : undefined));
      if (expired.length > 0) this.o.log.warn({ event: 'outbound-expired', queueId: entry.id, smtpId: entry.smtpId ?? null, recipients: expired.map((r) => r.address) });
      if (recorded !== 'updated') return;
    }
    await this.notify(entry, raw, states);
  }

  /** The transport's outcomes for `due`, one each; a failure of our own (signing, SRS) defers them all. */
  private async send(entry: QueueEntry, raw: Buffer, due: RecipientState[], onSent: (addresses: string[]) => void): Promise<RecipientOutcome[]> {
    const recipients = due.map((r) => r.address);
    try {
      let sender = entry.sender;
      if (sender !== '' && FORWARDED.has(entry.reason) && this.o.rewriter) sender = await this.o.rewriter.forwardSender(sender);
      const signed = this.o.signer ? await this.o.signer.sign(raw) : raw;
      const outcomes = await this.o.transport.send({ queueId: entry.id, sender, recipients, raw: signed, onSent });
      return recipients.map(
        (address, i) => outcomes[i] ?? { address, status: 'deferred', reply: 'local error: the transport gave no outcome for this recipient', deferral: 'local' },
      );
    } catch (err) {
      const reply = `local error: ${(err as Error).message}`;
      return recipients.map((address) => ({ address, status: 'deferred', reply, deferral: 'local' }));
    }
  }

  private apply(r: RecipientState, o: RecipientOutcome | undefined, entry: QueueEntry, now: number): void {
    if (!o) return;
    r.attempts += 1;
    r.reply = o.reply;
    if (o.destination !== undefined) r.destination = o.destination;
    r.deferral = null;
    if (o.status === 'sent') r.status = 'sent';
    else if (o.status === 'failed') {
      r.status = 'failed';
      // No DSN to the null sender: nothing to tell, nothing to wait for.
      r.notified = entry.sender === '';
    } else {
      r.status = 'deferred';
      r.deferral = o.deferral ?? 'remote-4xx';
      r.nextAttempt = now + retryDelay(r.attempts, this.schedule);
    }
  }

  /** Whether a bounce or a delay warning is due for the entry. */
  private needsNotice(entry: QueueEntry, states: RecipientState[], now: number): boolean {
    if (entry.sender === '') return false;
    if (states.some((r) => r.status === 'failed' && !r.notified)) return true;
    return !entry.warned && states.some((r) => r.status === 'deferred') && isDueForWarning(entry.created, now, this.schedule);
  }

  /**
   * Writes the entry's state; an entry with nothing left to do (every
   * recipient sent or failed, no notice due) is removed instead: one fsync.
   * False when the state could not be written (kept in memory meanwhile).
   */
  private async record(entry: QueueEntry, noticeDue: boolean): Promise<'removed' | 'updated' | false> {
    const states = entry.states ?? [];
    this.known.set(entry.id, entry);
    try {
      if (!noticeDue && !states.some(isOpen)) {
        // Not waiting for the directory fsync: see the top of this file.
        await this.queue.remove(entry.id, { durable: false });
        this.known.delete(entry.id);
        this.flushing.delete(entry.id);
        return 'removed';
      }
      await this.queue.update(entry);
      return 'updated';
    } catch (err) {
      if (isMailError(err, 'NONEXISTENT')) {
        // `queue delete` took it meanwhile.
        this.known.delete(entry.id);
        this.o.log.info({ event: 'outbound-deleted', queueId: entry.id, smtpId: entry.smtpId ?? null });
        return false;
      }
      this.o.log.error({ event: 'outbound-record-failed', queueId: entry.id, err: (err as Error).message });
      this.o.metrics?.storageError('queue');
      this.backoff.set(entry.id, this.now() + LOCAL_BACKOFF_MS);
      return false;
    }
  }

  /** Bounces failed recipients and warns about long delays (never the null sender); removes the entry when nothing is left. */
  private async notify(entry: QueueEntry, raw: Buffer, states: RecipientState[]): Promise<void> {
    if (!this.known.has(entry.id)) return; // removed (or deleted) already
    const now = this.now();
    let changed = false;
    if (entry.sender !== '') {
      const failed = states.filter((r) => r.status === 'failed' && !r.notified);
      if (failed.length > 0) {
        const dsn = buildBounce(entry, raw, failed, { hostname: this.o.hostname, now });
        const bounce = await this.queue.enqueue('', [entry.sender], dsn, 'bounce', this.noticeExtra(entry, now));
        this.adopt(bounce);
        for (const r of failed) r.notified = true;
        changed = true;
        this.o.log.info({ event: 'outbound-bounce', queueId: entry.id, smtpId: entry.smtpId ?? null, to: entry.sender, bounceId: bounce.id, recipients: failed.map((r) => r.address) });
      }
      const delayed = states.filter((r) => r.status === 'deferred');
      if (!entry.warned && delayed.length > 0 && isDueForWarning(entry.created, now, this.schedule)) {
        const until = entry.created + this.schedule.expireAfterMs;
        const warning = buildDelayWarning(entry, raw, delayed, until, { hostname: this.o.hostname, now });
        const queued = await this.queue.enqueue('', [entry.sender], warning, 'delay-warning', this.noticeExtra(entry, now));
        this.adopt(queued);
        entry.warned = true;
        changed = true;
        this.o.log.info({ event: 'outbound-delay-warning', queueId: entry.id, smtpId: entry.smtpId ?? null, to: entry.sender, warningId: queued.id, recipients: delayed.map((r) => r.address) });
      }
    }
    entry.states = states;
    if (!states.some(isOpen)) {
      if ((await this.record(entry, false)) === 'removed') this.logDone(entry, states);
    } else if (changed) {
      await this.record(entry, false);
    }
  }

  /** A notice is due at once and carries the SMTP id of the message it is about. */
  private noticeExtra(entry: QueueEntry, now: number): { nextAttempt: number; smtpId?: string } {
    return entry.smtpId !== undefined ? { nextAttempt: now, smtpId: entry.smtpId } : { nextAttempt: now };
  }

  /** One line per recipient tried; `done` (the entry's end, when this attempt ended it) goes on the attempt's last line. */
  private logAttempt(entry: QueueEntry, r: RecipientState, o: RecipientOutcome | undefined, done?: DoneFields): void {
    const line = {
      event: 'outbound-attempt',
      queueId: entry.id,
      smtpId: entry.smtpId ?? null,
      recipient: r.address,
      status: r.status,
      destination: o?.destination ?? null,
      reply: o?.reply ?? null,
      tls: o?.tls ?? null,
      attempt: r.attempts,
      ...(r.status === 'deferred' ? { deferral: r.deferral, nextAttempt: new Date(r.nextAttempt).toISOString() } : {}),
      ...done,
    };
    this.o.metrics?.outbound(r.status, r.deferral, (this.now() - entry.created) / 1000);
    if (r.status === 'sent') this.o.log.info(line);
    else this.o.log.warn(line);
  }

  /** An entry that ends after its notices were queued (not with an attempt): a line of its own. */
  private logDone(entry: QueueEntry, states: RecipientState[]): void {
    const { done: _done, ...fields } = this.doneFields(entry, states);
    this.o.log.info({ event: 'outbound-done', queueId: entry.id, smtpId: entry.smtpId ?? null, ...fields });
  }

  /** What the end of an entry says: who had it, which recipients were sent and which failed, how long it was queued. */
  private doneFields(entry: QueueEntry, states: RecipientState[]): DoneFields {
    return {
      done: true,
      sender: entry.sender,
      sent: states.filter((r) => r.status === 'sent').map((r) => r.address),
      failed: states.filter((r) => r.status === 'failed').map((r) => r.address),
      ageSeconds: Math.round((this.now() - entry.created) / 1000),
    };
  }
}

interface DoneFields {
  done: true;
  sender: string;
  sent: string[];
  failed: string[];
  ageSeconds: number;
}

/**
 * Recipients a next hop took while the message's other destinations are
 * still under way, written down at once (one update each time, in turn):
 * the window in which a crash sends a recipient twice ends with its own
 * 250, not with the last destination's. The attempt's full record follows
 * (after these have landed) and supersedes them.
 */
class EarlyRecord {
  private chain: Promise<void> = Promise.resolve();
  private readonly taken = new Set<string>();

  constructor(
    private readonly queue: QueueStore,
    private readonly entry: QueueEntry,
    private readonly states: RecipientState[],
    private readonly failed: (err: Error) => void,
  ) {}

  sent(addresses: string[]): void {
    for (const a of addresses) this.taken.add(a);
    const snapshot: QueueEntry = {
      ...this.entry,
      states: this.states.map((r) => (this.taken.has(r.address) && isOpen(r) ? { ...r, status: 'sent', deferral: null } : r)),
    };
    this.chain = this.chain.then(() => this.queue.update(snapshot)).catch((err: unknown) => this.failed(err as Error));
  }

  /** Resolves once every early record has landed (or failed: the full record follows either way). */
  settled(): Promise<void> {
    return this.chain;
  }
}
