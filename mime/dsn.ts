// Delivery status notifications (RFC 3464): a multipart/report with a
// human-readable part, the machine-readable message/delivery-status, and
// the original message's header section (text/rfc822-headers). Pure: the
// caller gives the date, Message-ID and boundary. Used by delivery (Sieve
// rejects, local failures) and by the outbound queue (bounces, delay warnings).

export interface DsnRecipient {
  /** The address the report is about (Final-Recipient). */
  finalRecipient: string;
  /** The RCPT TO address it was reached through, when that differs (an alias). */
  originalRecipient?: string;
  action: 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';
  /** RFC 3463 status, e.g. "5.1.1". */
  status: string;
  /** The SMTP reply, e.g. "550 5.1.1 <x@y>: no such user" (Diagnostic-Code: smtp; ...). */
  diagnostic?: string;
  /** The host that gave the reply (Remote-MTA: dns; ...). */
  remoteMta?: string;
  /** RFC 5322 date-time strings. */
  lastAttemptDate?: string;
  willRetryUntil?: string;
}

export interface DeliveryReport {
  /** This server's name (Reporting-MTA, and the From's domain). */
  hostname: string;
  /** Who gets the report (the envelope sender of the original). */
  to: string;
  subject: string;
  /** The human-readable part, CRLF line ends. */
  text: string;
  recipients: DsnRecipient[];
  /** The original's header section. */
  originalHeaders: Buffer;
  /** RFC 5322 date-time of the report. */
  date: string;
  messageId: string;
  boundary: string;
  /** RFC 5322 date-time the original arrived (Arrival-Date). */
  arrivalDate?: string;
}

/** A date-time as RFC 5322 writes it, in UTC ("Sun, 06 Dec 2026 11:41:48 +0000"). */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

/** Longest text of a peer's reply quoted in a field (RFC 5322 allows 998 octets a line). */
const MAX_FIELD_TEXT = 900;

/** A value safe for one header field line: no control characters (a peer's reply is hostile input), bounded. */
export function fieldText(text: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return flat.length > MAX_FIELD_TEXT ? `${flat.slice(0, MAX_FIELD_TEXT)}...` : flat;
}

/**
 * The RFC 3463 status a reply carries ("550 5.1.1 ..." -> "5.1.1"), else one
 * made from its code's class ("4.0.0", "5.0.0"); `fallback` when it has neither.
 */
export function replyStatus(reply: string, fallback: string): string {
  const m = /^([245])\d\d[ -]([245])\.(\d{1,3})\.(\d{1,3})(?:\s|$)/.exec(reply);
  if (m && m[1] === m[2]) return `${m[2]}.${m[3]}.${m[4]}`;
  const code = /^([245])\d\d(?:\s|-|$)/.exec(reply);
  return code ? `${code[1]}.0.0` : fallback;
}

/** The bytes up to the blank line that ends the header section (all of them when there is none). */
export function headerSection(raw: Buffer): Buffer {
  for (let i = raw.indexOf(0x0a); i !== -1; i = raw.indexOf(0x0a, i + 1)) {
    const next = raw[i + 1];
    if (next === 0x0a) return raw.subarray(0, i + 1);
    if (next === 0x0d && raw[i + 2] === 0x0a) return raw.subarray(0, i + 1);
  }
  return raw;
}

export function buildDeliveryReport(r: DeliveryReport): Buffer {
  // The header section with CRLF line ends, whatever the message used (text/rfc822-headers).
  const originalHeaders = r.originalHeaders.toString('utf8').replace(/\r?\n/g, '\r\n');
  const perRecipient = r.recipients.flatMap((rc) => [
    ...(rc.originalRecipient && rc.originalRecipient.toLowerCase() !== rc.finalRecipient.toLowerCase() ? [`Original-Recipient: rfc822; ${fieldText(rc.originalRecipient)}`] : []),
    `Final-Recipient: rfc822; ${fieldText(rc.finalRecipient)}`,
    `Action: ${rc.action}`,
    `Status: ${rc.status}`,
    ...(rc.remoteMta ? [`Remote-MTA: dns; ${fieldText(rc.remoteMta)}`] : []),
    ...(rc.diagnostic ? [`Diagnostic-Code: smtp; ${fieldText(rc.diagnostic)}`] : []),
    ...(rc.lastAttemptDate ? [`Last-Attempt-Date: ${rc.lastAttemptDate}`] : []),
    ...(rc.willRetryUntil ? [`Will-Retry-Until: ${rc.willRetryUntil}`] : []),
    '',
  ]);
  const parts = [
    `From: Mail Delivery System <MAILER-DAEMON@${r.hostname}>`,
    `To: <${r.to}>`,
    `Subject: ${r.subject}`,
    `Date: ${r.date}`,
    `Message-ID: ${r.messageId}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${r.boundary}"`,
    '',
    `--${r.boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    r.text,
    '',
    `--${r.boundary}`,
    'Content-Type: message/delivery-status',
    '',
    `Reporting-MTA: dns; ${r.hostname}`,
    ...(r.arrivalDate ? [`Arrival-Date: ${r.arrivalDate}`] : []),
    '',
    ...perRecipient,
    `--${r.boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    originalHeaders.replace(/\r?\n$/, ''),
    '',
    `--${r.boundary}--`,
    '',
  ];
  return Buffer.from(parts.join('\r\n'), 'utf8');
}
