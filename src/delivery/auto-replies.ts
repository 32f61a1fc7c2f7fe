// Messages Postino writes itself: vacation replies (RFC 5230, RFC 3834)
// and delivery status notifications for Sieve rejects (RFC 3464).
import { randomBytes } from 'node:crypto';
import type { ParsedMessage } from '../../mime/index.js';
import { buildDeliveryReport, rfc5322Date as formatDate } from '../../mime/dsn.js';

function encodeWord(text: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x20-\x7e]*$/.test(text) ? text : `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}

function messageId(hostname: string): string {
  return `<${Date.now().toString(36)}.${randomBytes(8).toString('hex')}@${hostname}>`;
}

function rfc5322Date(d = new Date()): string {
  return formatDate(d);
}

/**
 * RFC 3834 section 2 and RFC 5230 section 4.5: whether an automatic reply
 * to this message is allowed at all. Returns the reason not to, or undefined.
 */
export function autoReplyRefusal(msg: ParsedMessage, envelopeFrom: string, recipientAddresses: string[]): string | undefined {
  const header = msg.header;
  const from = envelopeFrom.toLowerCase();
  if (from === '') return 'null sender';
  const local = from.slice(0, from.lastIndexOf('@'));
  if (/^(mailer-daemon|listserv|majordomo|owner-.*|.*-request|.*-owner|postmaster|nobody|noreply|no-reply|bounce.*)$/.test(local)) {
    return 'sender is an automaton';
  }
  if (recipientAddresses.some((a) => a.toLowerCase() === from)) return 'sender is the recipient';
  const auto = header.first('auto-submitted');
  if (auto !== undefined && auto.toLowerCase().split(';')[0]!.trim() !== 'no') return 'message is auto-submitted';
  const precedence = header.first('precedence')?.toLowerCase();
  if (precedence && ['bulk', 'list', 'junk'].includes(precedence)) return `precedence ${precedence}`;
  for (const h of ['list-id', 'list-help', 'list-unsubscribe', 'list-subscribe', 'list-post', 'list-owner', 'list-archive']) {
    if (header.has(h)) return 'message is from a mailing list';
  }
  if (header.values('x-auto-response-suppress').some((v) => /all|oof|autoreply/i.test(v))) return 'auto replies suppressed';
  // RFC 5230 4.5: only when one of the user's addresses is an explicit recipient.
  const explicit = ['to', 'cc', 'bcc', 'resent-to', 'resent-cc', 'resent-bcc']
    .flatMap((h) => header.values(h))
    .join(',')
    .toLowerCase();
  if (!recipientAddresses.some((a) => explicit.includes(a.toLowerCase()))) return 'recipient is not in To/Cc';
  return undefined;
}

export interface VacationReply {
  from: string;
  to: string;
  subject: string;
  reason: string;
  mime: boolean;
  original: ParsedMessage;
  hostname: string;
}

export function buildVacationReply(v: VacationReply): Buffer {
  const origId = v.original.header.first('message-id');
  const refs = v.original.header.first('references');
  const headers = [
    `From: ${v.from}`,
    `To: <${v.to}>`,
    `Subject: ${encodeWord(v.subject)}`,
    `Date: ${rfc5322Date()}`,
    `Message-ID: ${messageId(v.hostname)}`,
    'Auto-Submitted: auto-replied (vacation)',
    'Precedence: bulk',
    ...(origId ? [`In-Reply-To: ${origId}`, `References: ${refs ? `${refs} ` : ''}${origId}`] : []),
    'MIME-Version: 1.0',
  ];
  if (v.mime) {
    // :mime: the reason is a whole MIME entity (headers and body).
    return Buffer.from(headers.join('\r\n') + '\r\n' + v.reason.replace(/\r?\n/g, '\r\n'), 'utf8');
  }
  headers.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit');
  return Buffer.from(headers.join('\r\n') + '\r\n\r\n' + v.reason.replace(/\r?\n/g, '\r\n') + '\r\n', 'utf8');
}

export interface RejectNotice {
  /** The rejecting recipient. */
  recipient: string;
  /** Who gets the notice (the envelope sender). */
  to: string;
  reason: string;
  original: ParsedMessage;
  hostname: string;
}

/** An RFC 3464 DSN saying the recipient's filter refused the message. */
export function buildRejectDsn(n: RejectNotice): Buffer {
  return buildFailureDsn({
    recipient: n.recipient,
    to: n.to,
    status: '5.7.1',
    diagnostic: `550 5.7.1 ${n.reason.replace(/\r?\n/g, ' ')}`,
    text: `Your message to <${n.recipient}> was rejected by the recipient's mail filter:\r\n\r\n${n.reason}`,
    original: n.original,
    hostname: n.hostname,
  });
}

export interface FailureNotice {
  /** The address that failed (Final-Recipient). */
  recipient: string;
  /** The RCPT TO address it was reached through, when that differs (an alias). */
  originalRecipient?: string;
  to: string;
  /** RFC 3463 status, e.g. "5.4.6". */
  status: string;
  /** The SMTP-style diagnostic, e.g. "554 5.4.6 Mail loop". */
  diagnostic: string;
  text?: string;
  original: ParsedMessage;
  hostname: string;
}

/** An RFC 3464 DSN for one failed recipient. */
export function buildFailureDsn(n: FailureNotice): Buffer {
  return buildDeliveryReport({
    hostname: n.hostname,
    to: n.to,
    subject: 'Undelivered Mail Returned to Sender',
    text: n.text ?? `Your message could not be delivered to <${n.recipient}>:\r\n\r\n${n.diagnostic}`,
    recipients: [
      {
        finalRecipient: n.recipient,
        ...(n.originalRecipient !== undefined ? { originalRecipient: n.originalRecipient } : {}),
        action: 'failed',
        status: n.status,
        diagnostic: n.diagnostic,
      },
    ],
    originalHeaders: n.original.header.section(),
    date: rfc5322Date(),
    messageId: messageId(n.hostname),
    boundary: `=_postino_${randomBytes(8).toString('hex')}`,
  });
}
