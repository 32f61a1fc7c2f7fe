// The delivery agent shared by SMTP, LMTP and `postino deliver`: aliases ->
// per-account Sieve (sieve-host.ts) -> a DeliveryPlan (plan.ts, pure) ->
// apply (apply.ts: stores, queue entries). Fail-safe:
// a Sieve problem keeps the message in INBOX; a store problem is a
// temporary failure for that recipient, never a silent loss. A message is
// delivered as tasks (one per account, forward, DSN); when some are done and
// others failed temporarily, the rest goes to the local-retry queue rather
// than back to the sender, whose retry would repeat the done ones.
import { newQueueId } from '../queue-id.js';
import type { Storage } from '../../storage/ports.js';
import type { AccountRecord } from '../../storage/ports.js';
import { AliasResolver, type DeadTarget, type LocalDestination, type VirtualAlias } from './alias-resolver.js';
import { tasksToRetryLocally, type AnswerScope, type TaskResult } from './partial-delivery.js';
import { knownFailure, LOCAL_PROBLEM, NO_SUCH_USER, type DeliveryFailure, type FailureWords } from './outcome.js';
import { describeTask, writeLocalRetry, type DeliveryTask, type LocalRetryData } from './local-retry-entry.js';
import { parseMessage, type ParsedMessage } from '../../mime/index.js';
import { sieveMessage } from '../../sieve/index.js';
import { autoReplyRefusal } from './auto-replies.js';
import { mailLoop, mailboxesToCheck, planDelivery, storedHeaders } from './plan.js';
import { applyPlan, enqueueBounce, enqueueForward, type AppliedMessage } from './apply.js';
import { deliverySieveHost, runDeliveryScripts, type SieveHostConfig } from './sieve-host.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

/** Postfix's hopcount_limit: more Received fields than this is a loop. */
export const MAX_RECEIVED_HEADERS = 50;

export interface DeliveryConfig extends SieveHostConfig {
  /** What to answer when a mailbox is full: 452 4.2.2 (retry later) or 552 5.2.2. */
  overQuota: 'tempfail' | 'reject';
}

export interface InboundMessage {
  /** The id the entry point reports (SMTP "queued as"); one is made when absent. */
  id?: string;
  raw: Buffer;
  /** raw, parsed where it arrived (made from raw when absent). */
  parsed?: ParsedMessage;
  /** Envelope sender, "" for the null sender. */
  from: string;
  /** RCPT TO addresses in order (one outcome each). */
  recipients: string[];
  /** Header fields to put on top of every copy (Received, Authentication-Results, X-Spam-*...), without line ends. */
  traceHeaders: string[];
  /** For Sieve's environment extension. */
  remoteIp?: string;
  remoteHost?: string;
  /** The SMTP session has exactly one recipient, so a reject can be an SMTP reply. */
  rejectAtSmtp: boolean;
  /** Sender checks say junk (e.g. DMARC quarantine/reject failure): the implicit keep goes to Junk. */
  junk?: boolean;
}

/** A recipient's answer: delivered (stored, or `queued` for a local retry under `queueId`), or why not. */
export type RecipientOutcome = { recipient: string; kind: 'delivered'; queueId: string; queued: boolean } | ({ recipient: string } & DeliveryFailure);

export interface DeliveryOptions {
  /**
   * Who gets one answer: 'message' (SMTP after DATA, the LDA's exit code) or
   * 'recipient' (LMTP). Decides which temporary failures are kept for a local
   * retry once part of the message is stored (see partial-delivery.ts).
   */
  answer: AnswerScope;
  /** Send a DSN for recipients refused for good while others were accepted (SMTP: its one reply cannot say so). */
  bounceRefused?: boolean;
}

/** The first local retry of a message stored in part: soon, but not in the same breath as the failure. */
export const LOCAL_RETRY_FIRST_MS = 60_000;

/** A task of this delivery: for a store, the account it was resolved to; for a recipient whose aliases could not be read, why. */
interface Planned {
  task: DeliveryTask;
  account?: AccountRecord;
  failure?: TaskResult;
}

/** A message's tasks, and for each recipient the tasks it needs and the alias targets it lost. */
interface Plan {
  tasks: Planned[];
  tasksOf: number[][];
  deadOf: DeadTarget[][];
}

const OK: TaskResult = { kind: 'ok' };
const allOk = (results: TaskResult[]): boolean => results.every((r) => r.kind === 'ok');
const TOO_MANY_HOPS: DeliveryFailure = { kind: 'reject', why: 'too-many-hops' };
const targetGone = (d: DeadTarget): DeliveryFailure => ({ kind: 'reject', why: 'alias-target-gone', target: d.target, alias: d.alias });

export class DeliveryAgent {
  private readonly aliases: AliasResolver;

  /**
   * `words` says how a failure reads in a DSN: mx/smtp-reply.ts's
   * failureReply, passed in by whoever builds the agent (delivery words nothing).
   */
  constructor(
    private readonly storage: Storage,
    private readonly config: DeliveryConfig,
    private readonly log: Logger,
    readonly words: FailureWords,
    private readonly now: () => Date = () => new Date(),
    /** Addresses routed like aliases without a directory entry (SRS addresses: see AliasResolver). */
    virtualAliases?: VirtualAlias,
    private readonly metrics?: Metrics,
  ) {
    this.aliases = new AliasResolver(storage.directory, virtualAliases);
  }

  /**
   * One outcome per recipient, in order. Resolves only after every store is
   * durable. When part of the message is stored and another part failed
   * temporarily, the failed part is written to the local-retry queue (durably,
   * before this resolves) and its recipients are answered as delivered, so
   * that no sender's retry stores a copy twice (see DeliveryOptions.answer).
   */
  async deliver(msg: InboundMessage, options: DeliveryOptions = { answer: 'recipient' }): Promise<RecipientOutcome[]> {
    const started = performance.now();
    const outcomes = await this.deliverAll(msg, options);
    const seconds = (performance.now() - started) / 1000;
    for (const o of outcomes) this.metrics?.delivered(o.kind === 'delivered' ? 'delivered' : o.why, o.kind, seconds);
    return outcomes;
  }

  private async deliverAll(msg: InboundMessage, options: DeliveryOptions): Promise<RecipientOutcome[]> {
    if (msg.parsed?.raw !== msg.raw) msg = { ...msg, parsed: parseMessage(msg.raw) };
    if (this.parsed(msg).header.all('received').length > MAX_RECEIVED_HEADERS) {
      return msg.recipients.map((recipient) => ({ recipient, ...TOO_MANY_HOPS }));
    }
    const queueId = msg.id ?? newQueueId();
    const plan = await this.plan(msg.recipients);
    const results = await Promise.all(
      plan.tasks.map((p) => (p.failure ? Promise.resolve(p.failure) : this.runTask(msg, p.task, queueId, p.account))),
    );
    // Most messages: every task done and no alias target lost, so nothing is
    // kept for a retry and no notice is sent: answered without the bookkeeping
    // below (less work per message, and less code for the JIT to compile, and
    // compile again after a deopt, while a cold server takes its first mail).
    if (allOk(results) && plan.deadOf.every((dead) => dead.length === 0)) {
      return msg.recipients.map((recipient): RecipientOutcome => ({ recipient, kind: 'delivered', queueId, queued: false }));
    }
    const kept = tasksToRetryLocally(plan.tasksOf, results, options.answer);
    const outcomes = msg.recipients.map((recipient, r) => this.outcome(recipient, plan.tasksOf[r]!, results, kept, queueId));

    const notices = this.notices(msg, plan, results, outcomes, options, queueId);
    const noticeResults = await Promise.all(notices.map((n) => this.runTask(msg, n.task, queueId)));

    const toKeep = [...kept].sort((a, b) => a - b).map((t) => plan.tasks[t]!.task);
    const owners = new Set<number>();
    plan.tasksOf.forEach((tasks, r) => tasks.some((t) => kept.has(t)) && owners.add(r));
    notices.forEach((n, i) => {
      if (noticeResults[i]!.kind === 'ok') return;
      toKeep.push(n.task);
      owners.add(n.owner);
    });
    if (toKeep.length === 0) return outcomes;
    const why = results.find((r, t) => kept.has(t) && r.kind !== 'ok') ?? noticeResults.find((r) => r.kind !== 'ok');
    if (await this.keepForRetry(msg, queueId, plan, toKeep, why)) return outcomes;
    // Without the entry the rest can only be asked for again: a copy may then arrive twice, never zero times.
    return outcomes.map((o, r): RecipientOutcome => (owners.has(r) ? { recipient: o.recipient, ...LOCAL_PROBLEM } : o));
  }

  /** The message's tasks: one per account (however many recipients reach it), one per forward; which recipient needs which. */
  private async plan(recipients: string[]): Promise<Plan> {
    const plan: Plan = { tasks: [], tasksOf: [], deadOf: [] };
    const byAccount = new Map<number, number>();
    for (const recipient of recipients) {
      const tasks: number[] = [];
      let dead: DeadTarget[] = [];
      try {
        const expansion = await this.aliases.expand(recipient);
        dead = expansion.dead;
        for (const dest of expansion.local) {
          let t = byAccount.get(dest.account.id);
          if (t === undefined) {
            const task: DeliveryTask = { kind: 'store', recipient, account: dest.account.address, address: dest.address };
            if (dest.detail !== undefined) task.detail = dest.detail;
            t = plan.tasks.push({ task, account: dest.account }) - 1;
            byAccount.set(dest.account.id, t);
          }
          tasks.push(t);
        }
        if (expansion.remote.length > 0) tasks.push(plan.tasks.push({ task: { kind: 'forward', recipient, to: expansion.remote } }) - 1);
      } catch (err) {
        // Kept as a task of its own, so that a local retry can expand it again.
        tasks.push(plan.tasks.push({ task: { kind: 'expand', recipient }, failure: this.failureOf(err) }) - 1);
      }
      plan.tasksOf.push(tasks);
      plan.deadOf.push(dead);
    }
    return plan;
  }

  /**
   * DSNs for what will never arrive, once each recipient's answer is settled
   * (a recipient answered "try again" gets them on the sender's retry): alias
   * targets that no longer exist, an account refusing its copy of a
   * recipient answered as delivered, and (bounceRefused) refused recipients.
   */
  private notices(
    msg: InboundMessage,
    plan: Plan,
    results: TaskResult[],
    outcomes: RecipientOutcome[],
    options: DeliveryOptions,
    queueId: string,
  ): Array<{ owner: number; task: DeliveryTask }> {
    const notices: Array<{ owner: number; task: DeliveryTask }> = [];
    const accepted = outcomes.some((o) => o.kind === 'delivered');
    const bounced = new Set<number>();
    outcomes.forEach((o, r) => {
      if (o.kind === 'tempfail') return;
      const dsn = o.kind === 'delivered' && msg.from !== '';
      for (const d of plan.deadOf[r]!) {
        this.log.warn({ event: 'alias-target-missing', id: queueId, rcpt: o.recipient, alias: d.alias, target: d.target, dsn });
        if (dsn) notices.push({ owner: r, task: this.bounce(o.recipient, d.target, targetGone(d)) });
      }
      if (dsn) {
        for (const t of plan.tasksOf[r]!) {
          const res = results[t]!;
          const task = plan.tasks[t]!.task;
          if (res.kind !== 'reject' || bounced.has(t)) continue;
          bounced.add(t);
          notices.push({ owner: r, task: this.bounce(o.recipient, task.kind === 'store' ? task.address : o.recipient, res) });
        }
      }
      if (o.kind === 'reject' && options.bounceRefused && accepted && msg.from !== '') {
        notices.push({ owner: r, task: this.bounce(o.recipient, o.recipient, o) });
      }
    });
    return notices;
  }

  /** Writes the local-retry entry for the tasks left; false when it cannot be written. */
  private async keepForRetry(msg: InboundMessage, queueId: string, plan: Plan, tasks: DeliveryTask[], why: TaskResult | undefined): Promise<boolean> {
    // Every account this message reaches has or will get its copy through a task here.
    const served = plan.tasks.flatMap((p) => (p.task.kind === 'store' ? [p.task.account] : []));
    const data: LocalRetryData = { queueId, traceHeaders: msg.traceHeaders, served, tasks };
    if (msg.remoteIp !== undefined) data.remoteIp = msg.remoteIp;
    if (msg.remoteHost !== undefined) data.remoteHost = msg.remoteHost;
    if (msg.junk) data.junk = true;
    try {
      const entry = await writeLocalRetry(this.storage.localRetry, msg.from, msg.raw, data, Date.now() + LOCAL_RETRY_FIRST_MS);
      this.log.warn({
        event: 'local-retry-queued',
        id: queueId,
        entry: entry.id,
        tasks: tasks.map(describeTask),
        ...(why && why.kind !== 'ok' ? { why: this.wordsOf(why) } : {}),
      });
      return true;
    } catch (err) {
      this.log.error({ event: 'local-retry-write-failed', id: queueId, err: (err as Error).message, cause: ((err as Error).cause as Error | undefined)?.message });
      return false;
    }
  }

  /** A recipient's answer from its tasks' results: "try again" only for a failure not kept for a local retry. */
  private outcome(recipient: string, tasks: number[], results: TaskResult[], kept: Set<number>, queueId: string): RecipientOutcome {
    const temp = tasks.map((t) => (kept.has(t) ? OK : results[t]!)).find((r) => r.kind === 'tempfail');
    if (temp && temp.kind !== 'ok') return { recipient, ...temp };
    const rejects = tasks.map((t) => results[t]!).filter((r) => r.kind === 'reject');
    if (rejects.length > 0 && rejects.length === tasks.length) {
      const r = rejects[0]!;
      if (r.kind !== 'ok') return { recipient, ...r };
    }
    return { recipient, kind: 'delivered', queueId, queued: tasks.some((t) => kept.has(t)) };
  }

  /** Does one task. Never throws: a failure is a result. */
  async runTask(msg: InboundMessage, task: DeliveryTask, queueId: string, account?: AccountRecord): Promise<TaskResult> {
    try {
      switch (task.kind) {
        case 'store': {
          const found = account ?? (await this.storage.directory.getAccount(task.account));
          if (!found) return NO_SUCH_USER;
          return await this.deliverToAccount(msg, task.recipient, { account: found, detail: task.detail, address: task.address }, queueId);
        }
        case 'forward':
          await enqueueForward(this.storage, { ...this.applied(msg), smtpId: queueId }, task.to, msg.traceHeaders);
          return OK;
        case 'bounce':
          // RFC 3464: never a DSN to the null sender.
          if (await enqueueBounce(this.storage, this.config.hostname, { ...this.applied(msg), smtpId: queueId }, task)) {
            this.log.info({ event: 'dsn-queued', id: queueId, to: msg.from, failed: task.failed, status: task.enhanced });
          }
          return OK;
        case 'expand':
          // Expanded by the caller (expandTask); reaching here is a bug, and a bug is retried, not lost.
          return LOCAL_PROBLEM;
      }
    } catch (err) {
      return this.failureOf(err);
    }
  }

  /**
   * A local retry of a recipient whose aliases could not be read: its tasks
   * now, leaving out accounts in `served` (they have their copy) and adding
   * them there.
   */
  async expandTask(msg: InboundMessage, recipient: string, served: Set<string>, queueId: string): Promise<{ tasks: DeliveryTask[] } | { failure: DeliveryFailure }> {
    let expansion;
    try {
      expansion = await this.aliases.expand(recipient);
    } catch (err) {
      return { failure: this.failureOf(err) };
    }
    const tasks: DeliveryTask[] = [];
    for (const dest of expansion.local) {
      if (served.has(dest.account.address)) continue;
      served.add(dest.account.address);
      const task: DeliveryTask = { kind: 'store', recipient, account: dest.account.address, address: dest.address };
      if (dest.detail !== undefined) task.detail = dest.detail;
      tasks.push(task);
    }
    if (expansion.remote.length > 0) tasks.push({ kind: 'forward', recipient, to: expansion.remote });
    for (const d of expansion.dead) {
      this.log.warn({ event: 'alias-target-missing', id: queueId, rcpt: recipient, alias: d.alias, target: d.target, dsn: msg.from !== '' });
      if (msg.from !== '') tasks.push(this.bounce(recipient, d.target, targetGone(d)));
    }
    return { tasks };
  }

  /** One account's copy: Sieve -> plan -> apply. */
  private async deliverToAccount(msg: InboundMessage, recipient: string, dest: LocalDestination, queueId: string): Promise<TaskResult> {
    const account = dest.account;
    const loop = mailLoop(account.address, this.parsed(msg).header.values('delivered-to'));
    if (loop) return loop;
    if (account.disabled) {
      // A disabled account cannot log in but still receives (like a locked mailbox in Dovecot).
      this.log.info({ event: 'deliver-disabled', account: account.address });
    }
    const base = this.parsed(msg).prepend(storedHeaders(msg.from, account.address, msg.traceHeaders));
    const actions = await runDeliveryScripts({
      storage: this.storage,
      config: this.config,
      log: this.log,
      account,
      message: () => sieveMessage(base),
      envelope: { from: msg.from, to: recipient.toLowerCase() === dest.address ? recipient : dest.address },
      host: deliverySieveHost(this.storage, this.config, msg, account.id, this.now),
    });

    const junk = msg.junk === true;
    const existingMailboxes = new Set<string>();
    try {
      for (const name of mailboxesToCheck(actions, junk)) if (await this.storage.mail.hasMailbox(account.id, name)) existingMailboxes.add(name);
    } catch (err) {
      return this.failureOf(err);
    }
    const plan = planDelivery(
      {
        account: account.address,
        recipient,
        from: msg.from,
        traceHeaders: msg.traceHeaders,
        subject: this.parsed(msg).header.first('subject'),
        junk,
        rejectAtSmtp: msg.rejectAtSmtp,
        existingMailboxes,
        autoReplyRefusal: (own) => autoReplyRefusal(this.parsed(msg), msg.from, own),
      },
      actions,
    );
    const ctx = { storage: this.storage, hostname: this.config.hostname, log: this.log, failureOf: (err: unknown) => this.failureOf(err) };
    return applyPlan(ctx, plan, account, { ...this.applied(msg), withHeaders: base, smtpId: queueId }, queueId);
  }

  /** The message model of msg.raw: the one made where it arrived (deliver() makes it when the caller did not). */
  private parsed(msg: InboundMessage): ParsedMessage {
    return msg.parsed?.raw === msg.raw ? msg.parsed : parseMessage(msg.raw);
  }

  private applied(msg: InboundMessage): AppliedMessage {
    return { message: this.parsed(msg), from: msg.from };
  }

  /** A DSN task: `failed` (reached through `recipient`) will not get the message, for this reason. */
  bounce(recipient: string, failed: string, why: DeliveryFailure): Extract<DeliveryTask, { kind: 'bounce' }> {
    const w = this.words(why);
    return { kind: 'bounce', recipient, failed, code: w.code, enhanced: w.enhanced, text: w.text };
  }

  /** A failure as one line for the log and the queue ("452 4.2.2 Mailbox full, try again later"). */
  wordsOf(why: DeliveryFailure): string {
    const w = this.words(why);
    return `${w.code} ${w.enhanced} ${w.text}`;
  }

  private failureOf(err: unknown): DeliveryFailure {
    const known = knownFailure(err, this.config.overQuota);
    if (known?.why === 'no-space') this.log.warn({ event: 'delivery-deferred', why: 'disk full', err: (err as Error)?.message });
    if (known) return known;
    this.log.error({ event: 'delivery-failed', err: (err as Error)?.message, cause: ((err as Error)?.cause as Error | undefined)?.message });
    return LOCAL_PROBLEM;
  }
}
