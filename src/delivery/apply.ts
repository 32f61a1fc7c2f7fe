// Carries out a DeliveryPlan against storage: appends (durable when the
// promise resolves), then queue entries for the reject DSN, redirects and
// automatic replies. A failed store is the copy's failure (the caller turns
// it into a temporary failure or a reject); once something is stored a
// failed reply is logged, not fatal, since a retry would store it twice.
import type { Storage } from '../../storage/ports.js';
import type { AccountRecord } from '../../storage/ports.js';
import { isMailError } from '../../storage/errors.js';
import type { Logger } from '../log.js';
import { prependFields, type ParsedMessage } from '../../mime/index.js';
import { buildFailureDsn, buildRejectDsn, buildVacationReply } from './auto-replies.js';
import type { DeliveryPlan, PlannedReply, PlannedStore } from './plan.js';
import type { TaskResult } from './partial-delivery.js';
import type { DeliveryFailure } from './outcome.js';

export interface ApplyContext {
  storage: Storage;
  hostname: string;
  log: Logger;
  /** What a storage error means for the copy (the agent's mapping). */
  failureOf(err: unknown): DeliveryFailure;
}

/** The message as it arrived (parsed where it arrived) and its envelope sender. */
export interface AppliedMessage {
  message: ParsedMessage;
  from: string;
  /** `message` with the plan's headers on top, when the caller has made it already (it saves a copy of a large message). */
  withHeaders?: ParsedMessage;
  /** The SMTP id ("queued as") of the transaction that brought it: kept on the queue entries it makes, for logs. */
  smtpId?: string;
}

/** What a queue entry made for msg keeps of it. */
function made(msg: AppliedMessage): { smtpId?: string } {
  return msg.smtpId !== undefined ? { smtpId: msg.smtpId } : {};
}

const OK: TaskResult = { kind: 'ok' };

/** Applies one account's plan. Never throws; resolves once every store is durable. */
export async function applyPlan(ctx: ApplyContext, plan: DeliveryPlan, account: AccountRecord, msg: AppliedMessage, queueId: string): Promise<TaskResult> {
  for (const n of plan.notes) ctx.log[n.level]({ event: n.event, ...n.fields });
  if (plan.stores.length > 0) {
    // The stored copy's model goes with its bytes: the index is made from it, not from a second parse.
    const copy = (msg.withHeaders ?? msg.message.prepend(plan.headers)).edit(plan.edits);
    try {
      await Promise.all(plan.stores.map((s) => store(ctx, account, s, copy)));
    } catch (err) {
      return ctx.failureOf(err);
    }
  }
  if (plan.refusal) return plan.refusal;
  for (const r of plan.replies) {
    try {
      await sendReply(ctx, r, account, msg);
    } catch (err) {
      // Nothing stored: try the whole thing again. Something stored: a retry would store it twice.
      if (r.kind === 'reject-dsn' && r.required) return ctx.failureOf(err);
      const event = r.kind === 'reject-dsn' ? 'reject-dsn-failed' : 'sieve-side-effect-failed';
      ctx.log.error({ event, account: account.address, action: r.kind, err: (err as Error).message });
    }
  }
  ctx.log.info({ event: 'delivered', id: queueId, to: account.address, rcpt: plan.recipient, stores: plan.stores.map((s) => s.mailbox) });
  return OK;
}

async function store(ctx: ApplyContext, account: AccountRecord, s: PlannedStore, copy: ParsedMessage): Promise<void> {
  let mailbox = s.mailbox;
  if (s.create && !(await ctx.storage.mail.hasMailbox(account.id, mailbox))) mailbox = await createOnce(ctx, account, mailbox);
  await ctx.storage.mail.append(account.id, mailbox, copy.raw, s.flags.length > 0 ? { flags: s.flags, message: copy } : { message: copy });
}

/**
 * Creations of a mailbox for fileinto :create under way, by storage and then
 * account and name: deliveries arriving together for a folder that does not
 * exist yet (the first mail of a list) wait for one creation instead of each
 * trying its own and all but one being refused.
 */
const creating = new WeakMap<object, Map<string, Promise<string>>>();

/** Creates the mailbox; resolves to where the copy goes: the mailbox, or INBOX when it cannot be made. */
function createOnce(ctx: ApplyContext, account: AccountRecord, mailbox: string): Promise<string> {
  let running = creating.get(ctx.storage);
  if (!running) creating.set(ctx.storage, (running = new Map()));
  const key = `${account.id}\0${mailbox}`;
  const known = running.get(key);
  if (known) return known;
  const made = ctx.storage.mail.createMailbox(account.id, mailbox).then(
    () => mailbox,
    (err: unknown) => {
      if (isMailError(err, 'ALREADYEXISTS')) return mailbox;
      ctx.log.warn({ event: 'fileinto-create-failed', account: account.address, mailbox, err: (err as Error).message });
      return 'INBOX';
    },
  );
  running.set(key, made);
  void made.then(() => running.delete(key));
  return made;
}

async function sendReply(ctx: ApplyContext, r: PlannedReply, account: AccountRecord, msg: AppliedMessage): Promise<void> {
  const queue = ctx.storage.queue;
  switch (r.kind) {
    case 'reject-dsn':
      await queue.enqueue('', [r.to], buildRejectDsn({ recipient: r.recipient, to: r.to, reason: r.reason, original: msg.message, hostname: ctx.hostname }), 'bounce', made(msg));
      return;
    case 'redirect':
      await queue.enqueue(msg.from, [r.to], prependFields(msg.message.raw, r.headers), 'redirect', made(msg));
      return;
    case 'vacation': {
      const memory = ctx.storage.memory;
      if (await memory.vacationSentRecently(account.id, r.to, r.handle)) {
        ctx.log.info({ event: 'vacation-skipped', account: account.address, why: 'already replied in this period' });
        return;
      }
      const reply = buildVacationReply({ from: r.from, to: r.to, subject: r.subject, reason: r.reason, mime: r.mime, original: msg.message, hostname: ctx.hostname });
      await queue.enqueue('', [r.to], reply, 'vacation', made(msg));
      await memory.recordVacation(account.id, r.to, r.handle, r.seconds * 1000);
      return;
    }
    case 'notify':
      await queue.enqueue('', [r.to], notifyMessage(ctx.hostname, r.to, r.text), 'notify', made(msg));
      return;
  }
}

function notifyMessage(hostname: string, to: string, text: string): Buffer {
  return Buffer.from(
    [
      `From: <postmaster@${hostname}>`,
      `To: <${to}>`,
      `Subject: ${text.replace(/[\r\n]+/g, ' ').slice(0, 200)}`,
      'Auto-Submitted: auto-notified',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      text,
      '',
    ].join('\r\n'),
  );
}

/** Alias targets elsewhere: through the outbound queue, sender unchanged, with our trace fields on top. */
export async function enqueueForward(storage: Storage, msg: AppliedMessage, to: string[], traceHeaders: string[]): Promise<void> {
  await storage.queue.enqueue(msg.from, to, prependFields(msg.message.raw, traceHeaders), 'alias', made(msg));
}

/** A DSN (RFC 3464) to the envelope sender: `failed` (reached through `recipient`) will not get the message. Never to the null sender. */
export async function enqueueBounce(
  storage: Storage,
  hostname: string,
  msg: AppliedMessage,
  b: { recipient: string; failed: string; code: number; enhanced: string; text: string },
): Promise<boolean> {
  if (msg.from === '') return false;
  const dsn = buildFailureDsn({
    recipient: b.failed,
    originalRecipient: b.recipient,
    to: msg.from,
    status: b.enhanced,
    diagnostic: `${b.code} ${b.enhanced} ${b.text}`,
    original: msg.message,
    hostname,
  });
  await storage.queue.enqueue('', [msg.from], dsn, 'bounce', made(msg));
  return true;
}
