// The delivery agent shared by SMTP, LMTP and `postino deliver`: aliases ->
// per-recipient Sieve -> plan -> apply (stores, queue entries). Fail-safe:
// a Sieve problem keeps the message in INBOX; a store problem is a
// temporary failure for that recipient, never a silent loss. A message is
// delivered as tasks (one per account, forward, DSN); when some are done and
// others failed temporarily, the rest goes to the local-retry queue rather
// than back to the sender, whose retry would repeat the done ones.
import { newQueueId } from '../queue-id.js';
import type { Storage } from '../../storage/index.js';
import type { AccountRecord } from '../../storage/ports.js';
import { isMailError, isNoSpace } from '../../storage/errors.js';
import { compile, evaluate, formatSieveError, sieveMessage, type SieveAction, type SieveHost, type SieveMessage, type SieveProgram } from '../../sieve/index.js';
import { parseMessage, prependFields, type HeaderEdit, type ParsedMessage } from '../../mime/index.js';
import { AliasResolver, type DeadTarget, type LocalDestination } from './alias-resolver.js';
import { tasksToRetryLocally, type AnswerScope, type TaskResult } from './partial-delivery.js';
import { describeTask, writeLocalRetry, type DeliveryTask, type LocalRetryData } from './local-retry-entry.js';
import { autoReplyRefusal, buildFailureDsn, buildRejectDsn, buildVacationReply } from './auto-replies.js';
import type { Logger } from '../log.js';

/** Postfix's hopcount_limit: more Received fields than this is a loop. */
export const MAX_RECEIVED_HEADERS = 50;

export interface DeliveryConfig {
  hostname: string;
  /** What to answer when a mailbox is full: 452 4.2.2 (retry later) or 552 5.2.2. */
  overQuota: 'tempfail' | 'reject';
  /** Global scripts run before and after the user's (texts, already read). */
  sieveBefore?: string[];
  sieveAfter?: string[];
  /** Global scripts for include :global, by name. */
  globalScript?: (name: string) => string | undefined;
  /** Where spamtest/virustest read their scores. */
  spamScoreHeader?: { header: string; max: number };
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

export type RecipientOutcome =
  | { recipient: string; kind: 'delivered'; detail: string }
  | { recipient: string; kind: 'tempfail' | 'reject'; code: number; enhanced: string; text: string };

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

interface PlannedStore {
  mailbox: string;
  flags: string[];
  create: boolean;
}

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
const NO_SUCH_USER: TaskResult = { kind: 'reject', code: 550, enhanced: '5.1.1', text: 'No such user here' };
/** The DSN fields for an alias target that no longer exists. */
const NO_SUCH_TARGET = (d: DeadTarget) => ({ code: 550, enhanced: '5.1.1', text: `<${d.target}>: no such user here (a target of the alias <${d.alias}>)` });
const TEMPORARY: TaskResult = { kind: 'tempfail', code: 451, enhanced: '4.3.0', text: 'Temporary local problem, try again later' };

export class DeliveryAgent {
  private readonly aliases: AliasResolver;

  constructor(
    private readonly storage: Storage,
    private readonly config: DeliveryConfig,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.aliases = new AliasResolver(storage.directory);
  }

  /** The message model of msg.raw: the one made where it arrived (parseMessage gives the same model for the same bytes). */
  private parsed(msg: InboundMessage): ParsedMessage {
    return msg.parsed?.raw === msg.raw ? msg.parsed : parseMessage(msg.raw);
  }

  /**
   * One outcome per recipient, in order. Resolves only after every store is
   * durable. When part of the message is stored and another part failed
   * temporarily, the failed part is written to the local-retry queue (durably,
   * before this resolves) and its recipients are answered as delivered, so
   * that no sender's retry stores a copy twice (see DeliveryOptions.answer).
   */
  async deliver(msg: InboundMessage, options: DeliveryOptions = { answer: 'recipient' }): Promise<RecipientOutcome[]> {
    if (this.parsed(msg).header.all('received').length > MAX_RECEIVED_HEADERS) {
      return msg.recipients.map((r) => ({ recipient: r, kind: 'reject', code: 554, enhanced: '5.4.6', text: 'Too many hops: mail loop?' }));
    }
    const queueId = msg.id ?? newQueueId();
    const plan = this.plan(msg.recipients);
    const results = await Promise.all(
      plan.tasks.map((p) => (p.failure ? Promise.resolve(p.failure) : this.runTask(msg, p.task, queueId, p.account))),
    );
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
    if (this.keepForRetry(msg, queueId, plan, toKeep, why)) return outcomes;
    // Without the entry the rest can only be asked for again: a copy may then arrive twice, never zero times.
    return outcomes.map((o, r): RecipientOutcome =>
      owners.has(r) ? { recipient: o.recipient, kind: 'tempfail', code: 451, enhanced: '4.3.0', text: 'Temporary local problem, try again later' } : o,
    );
  }

  /** The message's tasks: one per account (however many recipients reach it), one per forward; which recipient needs which. */
  private plan(recipients: string[]): Plan {
    const plan: Plan = { tasks: [], tasksOf: [], deadOf: [] };
    const byAccount = new Map<number, number>();
    for (const recipient of recipients) {
      const tasks: number[] = [];
      let dead: DeadTarget[] = [];
      try {
        const expansion = this.aliases.expand(recipient);
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
        tasks.push(plan.tasks.push({ task: { kind: 'expand', recipient }, failure: this.errorResult(err) }) - 1);
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
        if (dsn) notices.push({ owner: r, task: { kind: 'bounce', recipient: o.recipient, failed: d.target, ...NO_SUCH_TARGET(d) } });
      }
      if (dsn) {
        for (const t of plan.tasksOf[r]!) {
          const res = results[t]!;
          const task = plan.tasks[t]!.task;
          if (res.kind !== 'reject' || bounced.has(t)) continue;
          bounced.add(t);
          const failed = task.kind === 'store' ? task.address : o.recipient;
          notices.push({ owner: r, task: { kind: 'bounce', recipient: o.recipient, failed, code: res.code, enhanced: res.enhanced, text: res.text } });
        }
      }
      if (o.kind === 'reject' && options.bounceRefused && accepted && msg.from !== '') {
        notices.push({ owner: r, task: { kind: 'bounce', recipient: o.recipient, failed: o.recipient, code: o.code, enhanced: o.enhanced, text: o.text } });
      }
    });
    return notices;
  }

  /** Writes the local-retry entry for the tasks left; false when it cannot be written. */
  private keepForRetry(msg: InboundMessage, queueId: string, plan: Plan, tasks: DeliveryTask[], why: TaskResult | undefined): boolean {
    // Every account this message reaches has or will get its copy through a task here.
    const served = plan.tasks.flatMap((p) => (p.task.kind === 'store' ? [p.task.account] : []));
    const data: LocalRetryData = { queueId, traceHeaders: msg.traceHeaders, served, tasks };
    if (msg.remoteIp !== undefined) data.remoteIp = msg.remoteIp;
    if (msg.remoteHost !== undefined) data.remoteHost = msg.remoteHost;
    if (msg.junk) data.junk = true;
    try {
      const entry = writeLocalRetry(this.storage.localRetry, msg.from, msg.raw, data, Date.now() + LOCAL_RETRY_FIRST_MS);
      this.log.warn({
        event: 'local-retry-queued',
        id: queueId,
        entry: entry.id,
        tasks: tasks.map(describeTask),
        ...(why && why.kind !== 'ok' ? { why: `${why.code} ${why.enhanced} ${why.text}` } : {}),
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
    if (temp && temp.kind !== 'ok') return { recipient, kind: 'tempfail', code: temp.code, enhanced: temp.enhanced, text: temp.text };
    const rejects = tasks.map((t) => results[t]!).filter((r) => r.kind === 'reject');
    if (rejects.length > 0 && rejects.length === tasks.length) {
      const r = rejects[0]!;
      if (r.kind !== 'ok') return { recipient, kind: 'reject', code: r.code, enhanced: r.enhanced, text: r.text };
    }
    const queued = tasks.some((t) => kept.has(t));
    return { recipient, kind: 'delivered', detail: queued ? `${queueId} Queued for local delivery` : `${queueId} Saved` };
  }

  /** Does one task. Never throws: a failure is a result. */
  async runTask(msg: InboundMessage, task: DeliveryTask, queueId: string, account?: AccountRecord): Promise<TaskResult> {
    try {
      switch (task.kind) {
        case 'store': {
          const found = account ?? this.storage.directory.getAccount(task.account);
          if (!found) return NO_SUCH_USER;
          return await this.deliverToAccount(msg, task.recipient, { account: found, detail: task.detail, address: task.address }, queueId);
        }
        case 'forward':
          // Alias targets elsewhere: forward through the outbound queue, sender unchanged.
          this.storage.queue.enqueue(msg.from, task.to, prependFields(msg.raw, msg.traceHeaders), 'alias');
          return OK;
        case 'bounce':
          if (msg.from === '') return OK; // RFC 3464: never a DSN to the null sender
          this.storage.queue.enqueue(
            '',
            [msg.from],
            buildFailureDsn({
              recipient: task.failed,
              originalRecipient: task.recipient,
              to: msg.from,
              status: task.enhanced,
              diagnostic: `${task.code} ${task.enhanced} ${task.text}`,
              original: this.parsed(msg),
              hostname: this.config.hostname,
            }),
            'bounce',
          );
          this.log.info({ event: 'dsn-queued', id: queueId, to: msg.from, failed: task.failed, status: task.enhanced });
          return OK;
        case 'expand':
          // Expanded by the caller (expandTask); reaching here is a bug, and a bug is retried, not lost.
          return TEMPORARY;
      }
    } catch (err) {
      return this.errorResult(err);
    }
  }

  /**
   * A local retry of a recipient whose aliases could not be read: its tasks
   * now, leaving out accounts in `served` (they have their copy) and adding
   * them there.
   */
  expandTask(msg: InboundMessage, recipient: string, served: Set<string>, queueId: string): { tasks: DeliveryTask[] } | { failure: TaskResult } {
    let expansion;
    try {
      expansion = this.aliases.expand(recipient);
    } catch (err) {
      return { failure: this.errorResult(err) };
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
      if (msg.from !== '') tasks.push({ kind: 'bounce', recipient, failed: d.target, ...NO_SUCH_TARGET(d) });
    }
    return { tasks };
  }

  private async deliverToAccount(msg: InboundMessage, recipient: string, dest: LocalDestination, queueId: string): Promise<TaskResult> {
    const account = dest.account;
    if (this.parsed(msg).header.values('delivered-to').some((v) => v.toLowerCase() === account.address)) {
      return { kind: 'reject', code: 554, enhanced: '5.4.6', text: `Mail loop: already delivered to ${account.address}` };
    }
    if (account.disabled) {
      // A disabled account cannot log in but still receives (like a locked mailbox in Dovecot).
      this.log.info({ event: 'deliver-disabled', account: account.address });
    }
    const base = this.parsed(msg).prepend([`Return-Path: <${msg.from}>`, `Delivered-To: ${account.address}`, ...msg.traceHeaders]);
    const actions = this.runSieve(msg, recipient, dest, base);

    const stores: PlannedStore[] = [];
    const edits: HeaderEdit[] = [];
    const sideEffects: SieveAction[] = [];
    let reject: Extract<SieveAction, { type: 'reject' | 'ereject' }> | undefined;
    for (const a of actions) {
      switch (a.type) {
        case 'keep':
          stores.push({ mailbox: a.implicit && msg.junk ? 'Junk' : 'INBOX', flags: a.flags ?? [], create: false });
          break;
        case 'fileinto':
          stores.push({ mailbox: a.mailbox, flags: a.flags ?? [], create: a.create });
          break;
        case 'addheader':
        case 'deleteheader':
          edits.push(a);
          break;
        case 'reject':
        case 'ereject':
          reject = a;
          break;
        case 'discard':
          break;
        default:
          sideEffects.push(a);
      }
    }

    const copy = base.edit(edits).raw;
    try {
      await Promise.all(stores.map((s) => this.store(account, s, copy)));
    } catch (err) {
      return this.errorResult(err);
    }

    if (reject) {
      const reason = reject.reason || 'Message rejected';
      if (msg.rejectAtSmtp || reject.type === 'ereject') {
        return { kind: 'reject', code: 550, enhanced: '5.7.1', text: reason.replace(/\s+/g, ' ').slice(0, 400) };
      }
      if (msg.from !== '') {
        try {
          this.storage.queue.enqueue('', [msg.from], buildRejectDsn({ recipient, to: msg.from, reason, original: this.parsed(msg), hostname: this.config.hostname }), 'bounce');
        } catch (err) {
          // Nothing stored: try the whole thing again. Something stored: a retry would store it twice.
          if (stores.length === 0) return this.errorResult(err);
          this.log.error({ event: 'reject-dsn-failed', account: account.address, err: (err as Error).message });
        }
      }
    }
    for (const a of sideEffects) this.sideEffect(a, msg, account, recipient);
    this.log.info({ event: 'delivered', id: queueId, to: account.address, rcpt: recipient, stores: stores.map((s) => s.mailbox) });
    return { kind: 'ok' };
  }

  private async store(account: AccountRecord, s: PlannedStore, raw: Buffer): Promise<void> {
    let mailbox = s.mailbox;
    if (!this.storage.mail.hasMailbox(account.id, mailbox)) {
      if (s.create) {
        try {
          this.storage.mail.createMailbox(account.id, mailbox);
        } catch (err) {
          if (!isMailError(err, 'ALREADYEXISTS')) {
            this.log.warn({ event: 'fileinto-create-failed', account: account.address, mailbox, err: (err as Error).message });
            mailbox = 'INBOX';
          }
        }
      } else {
        // Like Pigeonhole with lda_mailbox_autocreate=no: keep it in INBOX rather than lose it.
        this.log.warn({ event: 'fileinto-missing-mailbox', account: account.address, mailbox });
        mailbox = 'INBOX';
      }
    }
    await this.storage.mail.append(account.id, mailbox, raw, s.flags.length > 0 ? { flags: s.flags } : {});
  }

  private runSieve(msg: InboundMessage, recipient: string, dest: LocalDestination, parsed: ParsedMessage): SieveAction[] {
    const texts: Array<{ name: string; text: string }> = [];
    for (const [i, t] of (this.config.sieveBefore ?? []).entries()) texts.push({ name: `before-${i}`, text: t });
    let userScript;
    try {
      userScript = this.storage.scripts.active(dest.account.id);
    } catch (err) {
      this.log.error({ event: 'sieve-unreadable', account: dest.account.address, err: (err as Error).message });
    }
    if (userScript) texts.push(userScript);
    for (const [i, t] of (this.config.sieveAfter ?? []).entries()) texts.push({ name: `after-${i}`, text: t });
    if (texts.length === 0) return [{ type: 'keep', implicit: true }];

    const message = sieveMessage(parsed);
    const host = this.sieveHost(msg, dest);
    const collected: SieveAction[] = [];
    for (const { name, text } of texts) {
      const compiled = compile(text);
      if (!compiled.ok) {
        this.log.error({ event: 'sieve-invalid', account: dest.account.address, script: name, errors: compiled.errors.map(formatSieveError) });
        continue;
      }
      const result = this.evaluateSafely(compiled.program, message, msg.from, dest, recipient, host, name);
      const implicit = result.find((a) => a.type === 'keep' && a.implicit);
      collected.push(...result.filter((a) => a !== implicit));
      // The message's fate is decided once a script cancels the implicit keep.
      if (!implicit) return collected;
    }
    return [...collected, { type: 'keep', implicit: true }];
  }

  private evaluateSafely(
    program: SieveProgram,
    message: SieveMessage,
    from: string,
    dest: LocalDestination,
    recipient: string,
    host: SieveHost,
    scriptName: string,
  ): SieveAction[] {
    try {
      const r = evaluate(program, message, { from, to: recipient.toLowerCase() === dest.address ? recipient : dest.address }, host);
      if (r.errors && r.errors.length > 0) {
        this.log.error({ event: 'sieve-runtime-error', account: dest.account.address, script: scriptName, errors: r.errors.map(formatSieveError) });
      }
      return r.actions;
    } catch (err) {
      this.log.error({ event: 'sieve-crash', account: dest.account.address, script: scriptName, err: (err as Error).message });
      return [{ type: 'keep', implicit: true }];
    }
  }

  private sieveHost(msg: InboundMessage, dest: LocalDestination): SieveHost {
    const accountId = dest.account.id;
    const memory = this.storage.memory;
    return {
      now: this.now,
      mailboxExists: (name) => this.storage.mail.hasMailbox(accountId, name),
      duplicate: (id, o) => memory.checkDuplicate(accountId, o.handle, id, o.seconds * 1000, o.last),
      includeScript: (name, location) => {
        if (location === 'global') return this.config.globalScript?.(name);
        try {
          return this.storage.scripts.exists(accountId, name) ? this.storage.scripts.get(accountId, name) : undefined;
        } catch {
          return undefined;
        }
      },
      environment: {
        domain: this.config.hostname.split('.').slice(1).join('.') || this.config.hostname,
        host: this.config.hostname,
        name: 'Postino',
        version: '0.1.0',
        phase: 'during',
        'location': 'MDA',
        ...(msg.remoteHost ? { 'remote-host': msg.remoteHost } : {}),
        ...(msg.remoteIp ? { 'remote-ip': msg.remoteIp } : {}),
      },
      ...(this.config.spamScoreHeader ? { spamtest: this.config.spamScoreHeader } : {}),
    };
  }

  private sideEffect(a: SieveAction, msg: InboundMessage, account: AccountRecord, recipient: string): void {
    try {
      if (a.type === 'redirect') {
        // The copy keeps our trace fields (and Delivered-To) so a loop back here is caught.
        const copy = prependFields(msg.raw, [`Delivered-To: ${account.address}`, ...msg.traceHeaders]);
        this.storage.queue.enqueue(msg.from, [a.address], copy, 'redirect');
      } else if (a.type === 'vacation') {
        const own = [account.address, recipient.toLowerCase(), ...a.addresses.map((x) => x.toLowerCase())];
        const refusal = autoReplyRefusal(this.parsed(msg), msg.from, own);
        if (refusal) {
          this.log.info({ event: 'vacation-skipped', account: account.address, why: refusal });
          return;
        }
        const handle = a.handle;
        if (this.storage.memory.vacationSentRecently(account.id, msg.from, handle)) {
          this.log.info({ event: 'vacation-skipped', account: account.address, why: 'already replied in this period' });
          return;
        }
        const subject = a.subject ?? `Auto: ${this.parsed(msg).header.first('subject') ?? ''}`.trim();
        const reply = buildVacationReply({
          from: a.from ?? `<${account.address}>`,
          to: msg.from,
          subject,
          reason: a.reason,
          mime: a.mime,
          original: this.parsed(msg),
          hostname: this.config.hostname,
        });
        this.storage.queue.enqueue('', [msg.from], reply, 'vacation');
        this.storage.memory.recordVacation(account.id, msg.from, handle, a.seconds * 1000);
      } else if (a.type === 'notify') {
        const to = /^mailto:([^?]+)/i.exec(a.method)?.[1];
        if (!to) return;
        const text = a.message ?? `New message for ${account.address}: ${this.parsed(msg).header.first('subject') ?? ''}`;
        const body = Buffer.from(
          [
            `From: <postmaster@${this.config.hostname}>`,
            `To: <${decodeURIComponent(to)}>`,
            `Subject: ${text.replace(/[\r\n]+/g, ' ').slice(0, 200)}`,
            'Auto-Submitted: auto-notified',
            'MIME-Version: 1.0',
            'Content-Type: text/plain; charset=utf-8',
            '',
            text,
            '',
          ].join('\r\n'),
        );
        this.storage.queue.enqueue('', [decodeURIComponent(to)], body, 'notify');
      }
    } catch (err) {
      // The message is stored; a failed side effect is logged, not fatal.
      this.log.error({ event: 'sieve-side-effect-failed', account: account.address, action: a.type, err: (err as Error).message });
    }
  }

  private errorResult(err: unknown): TaskResult {
    if (isNoSpace(err)) {
      // Not the account's quota: the server's disk. Postfix says the same; the sender retries.
      this.log.warn({ event: 'delivery-deferred', why: 'disk full', err: (err as Error)?.message });
      return { kind: 'tempfail', code: 452, enhanced: '4.3.1', text: 'Insufficient system storage' };
    }
    if (isMailError(err)) {
      if (err.code === 'OVERQUOTA') {
        return this.config.overQuota === 'reject'
          ? { kind: 'reject', code: 552, enhanced: '5.2.2', text: 'Mailbox full' }
          : { kind: 'tempfail', code: 452, enhanced: '4.2.2', text: 'Mailbox full, try again later' };
      }
      if (err.code === 'NONEXISTENT') return { kind: 'reject', code: 550, enhanced: '5.1.1', text: 'No such user here' };
      if (err.smtpCode && err.enhanced && err.smtpCode >= 500) {
        return { kind: 'reject', code: err.smtpCode, enhanced: err.enhanced, text: err.message };
      }
    }
    this.log.error({ event: 'delivery-failed', err: (err as Error)?.message, cause: ((err as Error)?.cause as Error | undefined)?.message });
    return { kind: 'tempfail', code: 451, enhanced: '4.3.0', text: 'Temporary local problem, try again later' };
  }
}
