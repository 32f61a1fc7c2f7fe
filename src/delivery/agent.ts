// The delivery agent shared by SMTP, LMTP and `postino deliver`: aliases ->
// per-recipient Sieve -> plan -> apply (stores, queue entries). Fail-safe:
// a Sieve problem keeps the message in INBOX; a store problem is a
// temporary failure for that recipient, never a silent loss.
import { newQueueId } from '../queue-id.js';
import type { Storage } from '../../storage/index.js';
import type { AccountRecord } from '../../storage/ports.js';
import { isMailError, isNoSpace } from '../../storage/errors.js';
import { compile, evaluate, formatSieveError, type SieveAction, type SieveHost, type SieveProgram } from '../../sieve/index.js';
import { sieveMessageFromBuffer } from './sieve-message.js';
import { AliasResolver, type LocalDestination } from './alias-resolver.js';
import { prependHeaders, headerValues, applyHeaderEdits, countHeader, type HeaderEdit } from './message-edit.js';
import { autoReplyRefusal, buildRejectDsn, buildVacationReply } from './auto-replies.js';
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

interface PlannedStore {
  mailbox: string;
  flags: string[];
  create: boolean;
}

type DestinationResult = { kind: 'ok' } | { kind: 'tempfail' | 'reject'; code: number; enhanced: string; text: string };

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

  /** One outcome per recipient, in order. Resolves only after every store is durable. */
  async deliver(msg: InboundMessage): Promise<RecipientOutcome[]> {
    if (countHeader(msg.raw, 'received') > MAX_RECEIVED_HEADERS) {
      return msg.recipients.map((r) => ({ recipient: r, kind: 'reject', code: 554, enhanced: '5.4.6', text: 'Too many hops: mail loop?' }));
    }
    // Each account gets one copy per message even when several recipients reach it.
    const doneByAccount = new Map<number, Promise<DestinationResult>>();
    const outcomes: Array<Promise<RecipientOutcome>> = [];
    const queueId = msg.id ?? newQueueId();
    for (const recipient of msg.recipients) {
      outcomes.push(this.deliverRecipient(msg, recipient, doneByAccount, queueId));
    }
    return Promise.all(outcomes);
  }

  private async deliverRecipient(
    msg: InboundMessage,
    recipient: string,
    doneByAccount: Map<number, Promise<DestinationResult>>,
    queueId: string,
  ): Promise<RecipientOutcome> {
    let expansion;
    try {
      expansion = this.aliases.expand(recipient);
    } catch (err) {
      return this.errorOutcome(recipient, err);
    }
    const results: Array<Promise<DestinationResult>> = [];
    for (const dest of expansion.local) {
      let p = doneByAccount.get(dest.account.id);
      if (!p) {
        p = this.deliverToAccount(msg, recipient, dest, queueId).catch((err: unknown) => this.errorResult(err));
        doneByAccount.set(dest.account.id, p);
      }
      results.push(p);
    }
    if (expansion.remote.length > 0) {
      // Alias targets elsewhere: forward through the outbound queue, sender unchanged.
      try {
        const copy = prependHeaders(msg.raw, msg.traceHeaders);
        this.storage.queue.enqueue(msg.from, expansion.remote, copy, 'alias');
        results.push(Promise.resolve({ kind: 'ok' }));
      } catch (err) {
        results.push(Promise.resolve(this.errorResult(err)));
      }
    }
    const settled = await Promise.all(results);
    const temp = settled.find((r) => r.kind === 'tempfail');
    if (temp && temp.kind !== 'ok') return { recipient, kind: 'tempfail', code: temp.code, enhanced: temp.enhanced, text: temp.text };
    const rejects = settled.filter((r) => r.kind === 'reject');
    if (rejects.length > 0 && rejects.length === settled.length) {
      const r = rejects[0]!;
      if (r.kind !== 'ok') return { recipient, kind: 'reject', code: r.code, enhanced: r.enhanced, text: r.text };
    }
    return { recipient, kind: 'delivered', detail: `${queueId} Saved` };
  }

  private async deliverToAccount(msg: InboundMessage, recipient: string, dest: LocalDestination, queueId: string): Promise<DestinationResult> {
    const account = dest.account;
    if (headerValues(msg.raw, 'delivered-to').some((v) => v.toLowerCase() === account.address)) {
      return { kind: 'reject', code: 554, enhanced: '5.4.6', text: `Mail loop: already delivered to ${account.address}` };
    }
    if (account.disabled) {
      // A disabled account cannot log in but still receives (like a locked mailbox in Dovecot).
      this.log.info({ event: 'deliver-disabled', account: account.address });
    }
    const base = prependHeaders(msg.raw, [`Return-Path: <${msg.from}>`, `Delivered-To: ${account.address}`, ...msg.traceHeaders]);
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

    const copy = applyHeaderEdits(base, edits);
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
        this.storage.queue.enqueue('', [msg.from], buildRejectDsn({ recipient, to: msg.from, reason, original: msg.raw, hostname: this.config.hostname }), 'bounce');
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

  private runSieve(msg: InboundMessage, recipient: string, dest: LocalDestination, raw: Buffer): SieveAction[] {
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

    const message = sieveMessageFromBuffer(raw);
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
    message: ReturnType<typeof sieveMessageFromBuffer>,
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
        const copy = prependHeaders(msg.raw, [`Delivered-To: ${account.address}`, ...msg.traceHeaders]);
        this.storage.queue.enqueue(msg.from, [a.address], copy, 'redirect');
      } else if (a.type === 'vacation') {
        const own = [account.address, recipient.toLowerCase(), ...a.addresses.map((x) => x.toLowerCase())];
        const refusal = autoReplyRefusal(msg.raw, msg.from, own);
        if (refusal) {
          this.log.info({ event: 'vacation-skipped', account: account.address, why: refusal });
          return;
        }
        const handle = a.handle;
        if (this.storage.memory.vacationSentRecently(account.id, msg.from, handle)) {
          this.log.info({ event: 'vacation-skipped', account: account.address, why: 'already replied in this period' });
          return;
        }
        const subject = a.subject ?? `Auto: ${headerValues(msg.raw, 'subject')[0] ?? ''}`.trim();
        const reply = buildVacationReply({
          from: a.from ?? `<${account.address}>`,
          to: msg.from,
          subject,
          reason: a.reason,
          mime: a.mime,
          original: msg.raw,
          hostname: this.config.hostname,
        });
        this.storage.queue.enqueue('', [msg.from], reply, 'vacation');
        this.storage.memory.recordVacation(account.id, msg.from, handle, a.seconds * 1000);
      } else if (a.type === 'notify') {
        const to = /^mailto:([^?]+)/i.exec(a.method)?.[1];
        if (!to) return;
        const text = a.message ?? `New message for ${account.address}: ${headerValues(msg.raw, 'subject')[0] ?? ''}`;
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

  private errorResult(err: unknown): DestinationResult {
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

  private errorOutcome(recipient: string, err: unknown): RecipientOutcome {
    const r = this.errorResult(err);
    return r.kind === 'ok' ? { recipient, kind: 'delivered', detail: 'OK' } : { recipient, ...r };
  }
}
