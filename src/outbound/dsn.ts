// The notices the outbound queue sends the envelope sender (RFC 3464): a
// bounce for recipients that failed (quoting each remote reply) and a delay
// warning for recipients still being retried. Never to the null sender:
// the caller checks (a notice about a notice would loop).
import { randomBytes } from 'node:crypto';
import { buildDeliveryReport, fieldText, headerSection, replyStatus, rfc5322Date } from '../../mime/dsn.js';
import type { QueueEntry, RecipientState } from '../../storage/ports.js';

export interface NoticeContext {
  hostname: string;
  now: number;
}

function envelope(ctx: NoticeContext): { date: string; messageId: string; boundary: string } {
  return {
    date: rfc5322Date(new Date(ctx.now)),
    messageId: `<${ctx.now.toString(36)}.${randomBytes(8).toString('hex')}@${ctx.hostname}>`,
    boundary: `=_postino_${randomBytes(8).toString('hex')}`,
  };
}

/** A failure DSN for `failed` (each with the reply that ended it). */
export function buildBounce(entry: QueueEntry, raw: Buffer, failed: RecipientState[], ctx: NoticeContext): Buffer {
  const lines = failed.map((r) => `<${fieldText(r.address)}>: ${r.destination ? `host ${fieldText(r.destination)} said: ` : ''}${fieldText(r.reply ?? 'undeliverable')}`);
  return buildDeliveryReport({
    hostname: ctx.hostname,
    to: entry.sender,
    subject: 'Undelivered Mail Returned to Sender',
    text: [`This is the mail system at ${ctx.hostname}.`, '', 'Your message could not be delivered to one or more recipients:', '', ...lines].join('\r\n'),
    recipients: failed.map((r) => ({
      finalRecipient: r.address,
      action: 'failed' as const,
      status: replyStatus(r.reply ?? '', '5.0.0').replace(/^4/, '5'),
      ...(r.reply ? { diagnostic: r.reply } : {}),
      ...(r.destination ? { remoteMta: r.destination } : {}),
    })),
    originalHeaders: headerSection(raw),
    arrivalDate: rfc5322Date(new Date(entry.created)),
    ...envelope(ctx),
  });
}

/** A delay DSN for `delayed` (still being retried until `until`). */
export function buildDelayWarning(entry: QueueEntry, raw: Buffer, delayed: RecipientState[], until: number, ctx: NoticeContext): Buffer {
  const hours = Math.max(1, Math.round((ctx.now - entry.created) / 3_600_000));
  const lines = delayed.map((r) => `<${fieldText(r.address)}>: ${fieldText(r.reply ?? 'not yet tried')}`);
  return buildDeliveryReport({
    hostname: ctx.hostname,
    to: entry.sender,
    subject: 'Delayed Mail (still being retried)',
    text: [
      `This is the mail system at ${ctx.hostname}.`,
      '',
      `Your message has not been delivered yet after ${hours} hour(s). It will be retried until ${rfc5322Date(new Date(until))}; you need not send it again.`,
      '',
      ...lines,
    ].join('\r\n'),
    recipients: delayed.map((r) => ({
      finalRecipient: r.address,
      action: 'delayed' as const,
      status: replyStatus(r.reply ?? '', '4.0.0').replace(/^5/, '4'),
      ...(r.reply ? { diagnostic: r.reply } : {}),
      ...(r.destination ? { remoteMta: r.destination } : {}),
      willRetryUntil: rfc5322Date(new Date(until)),
    })),
    originalHeaders: headerSection(raw),
    arrivalDate: rfc5322Date(new Date(entry.created)),
    ...envelope(ctx),
  });
}
