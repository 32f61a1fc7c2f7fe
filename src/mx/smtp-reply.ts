// The one place that turns policy verdicts, errors and delivery outcomes into
// SMTP (and LMTP) replies. Policy steps and the delivery agent decide; this
// module words the answer. The transport (src/smtp/) only sends what it gets.
import { isMailError } from '../../storage/errors.js';
import type { RecipientOutcome } from '../delivery/agent.js';
import type { DeliveryFailure } from '../delivery/outcome.js';
import type { ReadOutcome } from './message-reader.js';
import { disconnect, reject, tempfail, type Refusal } from './verdict.js';

/** One reply line: "<code> <enhanced> <text>". */
export interface SmtpReply {
  code: number;
  enhanced: string;
  text: string;
  /** The server ends the session after sending it (421). */
  close?: boolean;
}

export function formatReply(r: SmtpReply): string {
  return `${r.code} ${r.enhanced} ${r.text}`;
}

export function refusalReply(v: Refusal): SmtpReply {
  if (v.kind === 'disconnect') return { code: 421, enhanced: v.enhanced, text: v.text, close: true };
  return { code: v.code, enhanced: v.enhanced, text: v.text };
}

/** Something failed on our side (a store, a lookup, a hook that threw or timed out): try again later, never accept. */
export const LOCAL_PROBLEM = tempfail(451, '4.3.0', 'Temporary local problem, try again later');
export const LOOKUP_FAILURE = tempfail(451, '4.3.0', 'Temporary lookup failure');

// Anti-relay and recipient decisions (INTERFACE.md: relay 554 5.7.1, unknown user 550 5.1.1).
export const RELAY_DENIED = reject(554, '5.7.1', 'Relay access denied');
export const BAD_RECIPIENT_SYNTAX = reject(550, '5.1.3', 'Bad recipient address syntax');
export const USER_UNKNOWN = reject(550, '5.1.1', 'User unknown in local recipient table');
export const NO_LOCAL_DOMAIN = tempfail(451, '4.3.0', 'No local domain configured');
export const UNQUALIFIED_SENDER = reject(553, '5.1.7', 'Sender address must be fully qualified');

export function mailboxFull(overQuota: 'tempfail' | 'reject'): Refusal {
  return overQuota === 'reject' ? reject(552, '5.2.2', 'Mailbox full') : tempfail(452, '4.2.2', 'Mailbox full, try again later');
}

export function dmarcRejects(domain: string | null | undefined): Refusal {
  return reject(550, '5.7.1', `DMARC policy of ${domain ?? 'the sender domain'} rejects this message`);
}

// Connection limits and session state.
export const TOO_MANY_FROM_ADDRESS = disconnect('4.7.0', 'Too many connections from your address');
export const TOO_MANY_MESSAGES = disconnect('4.7.0', 'Too many messages in one connection');
/** RFC 3463 4.3.2: system not accepting messages. */
export const SHUTTING_DOWN = disconnect('4.3.2', 'Service shutting down, try again later');

export function tooManyConnections(hostname: string): SmtpReply {
  return { code: 421, enhanced: '4.7.0', text: `${hostname} Too many connections, try again later`, close: true };
}

/** postscreen's pregreet test: the client talked before the greeting. */
export const TALKED_FIRST: SmtpReply = { code: 554, enhanced: '5.5.0', text: 'SMTP protocol violation: talked before the greeting', close: true };

/**
 * An error met while deciding on a recipient: a MailError that names its own
 * reply keeps it, an unknown user is 550 5.1.1, anything else is a temporary
 * failure worded as `otherwise` (never the error's own text: it may say too much).
 */
export function errorVerdict(err: unknown, otherwise: Refusal = LOCAL_PROBLEM): Refusal {
  if (isMailError(err, 'NONEXISTENT')) return USER_UNKNOWN;
  if (isMailError(err) && err.smtpCode && err.enhanced) {
    return err.smtpCode >= 500 ? reject(err.smtpCode, err.enhanced, err.message) : tempfail(err.smtpCode, err.enhanced, err.message);
  }
  return otherwise;
}

/** The reply for a DATA that did not yield a whole message within the limits. */
export function readFailureReply(read: Exclude<ReadOutcome, { kind: 'message' | 'failed' }>): SmtpReply {
  switch (read.kind) {
    case 'gone':
      return refusalReply(tempfail(451, '4.3.0', 'Message incomplete'));
    case 'too-big':
      return refusalReply(reject(552, '5.3.4', 'Message size exceeds fixed maximum message size'));
    case 'header-too-big':
      return refusalReply(reject(552, '5.3.4', 'Message header section exceeds fixed maximum size'));
  }
}

/**
 * Why a delivery failed, as a reply (and as the DSN's Status and
 * Diagnostic-Code: the delivery agent is given this function).
 */
export function failureReply(f: DeliveryFailure): SmtpReply {
  switch (f.why) {
    case 'no-space':
      return { code: 452, enhanced: '4.3.1', text: 'Insufficient system storage' };
    case 'over-quota':
      return refusalReply(mailboxFull(f.kind === 'reject' ? 'reject' : 'tempfail'));
    case 'no-such-user':
      return { code: 550, enhanced: '5.1.1', text: 'No such user here' };
    case 'alias-target-gone':
      return { code: 550, enhanced: '5.1.1', text: `<${f.target}>: no such user here (a target of the alias <${f.alias}>)` };
    case 'too-many-hops':
      return { code: 554, enhanced: '5.4.6', text: 'Too many hops: mail loop?' };
    case 'mail-loop':
      return { code: 554, enhanced: '5.4.6', text: `Mail loop: already delivered to ${f.account}` };
    case 'sieve-reject':
      // The script's words, on one line and not too long for a reply.
      return { code: 550, enhanced: '5.7.1', text: f.reason.replace(/\s+/g, ' ').slice(0, 400) };
    case 'refused':
      return { code: f.code, enhanced: f.enhanced, text: f.text };
    case 'local-problem':
      return refusalReply(LOCAL_PROBLEM);
  }
}

/**
 * One SMTP reply for all recipients. The agent has already made it one
 * answer: a part that failed temporarily after another was stored is kept for
 * a local retry (delivered), recipients refused for good among accepted ones
 * got a DSN. What is left: "try again" for all, refused for all, or accepted.
 */
export function messageReply(outcomes: RecipientOutcome[], id: string): SmtpReply {
  // Nothing stored (or the rest could not be queued): ask for the whole message again.
  for (const o of outcomes) if (o.kind === 'tempfail') return failureReply(o);
  const first = outcomes[0];
  if (first && first.kind === 'reject' && outcomes.every((o) => o.kind === 'reject')) return failureReply(first);
  return { code: 250, enhanced: '2.0.0', text: `Ok: queued as ${id}` };
}

/** LMTP: one reply per recipient, in RCPT order. */
export function recipientReplies(outcomes: RecipientOutcome[]): SmtpReply[] {
  return outcomes.map((o) =>
    o.kind === 'delivered'
      ? { code: 250, enhanced: '2.0.0', text: `<${o.recipient}> ${o.queueId} ${o.queued ? 'Queued for local delivery' : 'Saved'}` }
      : failureReply(o),
  );
}

// Submission (RFC 6409, RFC 4954): authentication and what an authenticated
// user may send. Wording after Postfix's submission service.
/** Postfix with smtpd_tls_security_level=encrypt answers every command but EHLO/STARTTLS/QUIT so before TLS. */
export const STARTTLS_FIRST = reject(530, '5.7.0', 'Must issue a STARTTLS command first');
export const AUTH_REQUIRED = reject(530, '5.7.0', 'Authentication required');
export const AUTH_SUCCEEDED: SmtpReply = { code: 235, enhanced: '2.7.0', text: 'Authentication successful' };
export const AUTH_FAILED = reject(535, '5.7.8', 'Error: authentication failed');
export const AUTH_UNAVAILABLE = tempfail(454, '4.7.0', 'Temporary authentication failure');
export const AUTH_ABORTED = reject(501, '5.7.0', 'Authentication aborted');
export const AUTH_SYNTAX = reject(501, '5.5.4', 'Syntax: AUTH mechanism');
export const AUTH_BAD_BASE64 = reject(501, '5.5.2', 'Invalid base64 data in response');
export const AUTH_TOO_LONG = reject(500, '5.5.6', 'SASL response limit exceeded');
export const AUTH_UNKNOWN_MECHANISM = reject(504, '5.5.4', 'Unrecognized authentication mechanism');
export const AUTH_ALREADY = reject(503, '5.5.1', 'Error: already authenticated');
export const AUTH_TOO_MANY_FAILURES = disconnect('4.7.0', 'Too many authentication failures');

/** MAIL FROM (or the From header) names an address the user does not own. */
export function senderNotOwned(address: string, user: string, what: 'Sender address' | 'From header address'): Refusal {
  return reject(553, '5.7.1', `<${address}>: ${what} rejected: not owned by user ${user}`);
}

/** A From field that names no address at all. */
export const FROM_WITHOUT_ADDRESS = reject(553, '5.7.1', 'From header rejected: it names no address');

/** A per-user sending limit of submission. */
export function sendingLimitReached(what: string): Refusal {
  return tempfail(451, '4.7.1', `Sending limit reached (${what}), try again later`);
}

// Content scanning (INTERFACE.md: virus found 554 5.7.1 at end of DATA; scanner unavailable 451).
export function virusFound(signature: string): Refusal {
  return reject(554, '5.7.1', `Message rejected: virus found: ${signature}`);
}

/** clamd unreachable, erroring, too slow, busy, or failing its self-test: never accept unscanned (unless failOpen). */
export function virusScannerUnavailable(reason: string): Refusal {
  return tempfail(451, '4.7.1', `Virus scanner unavailable (${reason}), try again later`);
}

// Spam scoring (INTERFACE.md: over spam.rejectScore 550 5.7.1; engine unavailable or asking to retry 451).
export function spamRejected(score: string): Refusal {
  return reject(550, '5.7.1', `Message rejected as spam (score ${score})`);
}

export function spamTryLater(reason: string): Refusal {
  return tempfail(451, '4.7.1', `Spam check unavailable (${reason}), try again later`);
}
