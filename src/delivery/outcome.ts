// How a delivery (or one of its tasks) failed, in the delivery's own terms:
// what happened, never how a protocol says it. mx/smtp-reply.ts words these
// as SMTP and LMTP replies, and the agent is handed that wording for the
// DSNs it sends (FailureWords: delivery may not import mx); `postino deliver`
// turns them into exit codes.
import { isMailError, isNoSpace } from '../../storage/errors.js';

export type DeliveryFailure =
  /** The server's disk is full (not the account's quota): the sender retries. */
  | { kind: 'tempfail'; why: 'no-space' }
  /** The account's mailbox is full; a reject or a tempfail as configured (DeliveryConfig.overQuota). */
  | { kind: 'tempfail' | 'reject'; why: 'over-quota' }
  | { kind: 'reject'; why: 'no-such-user' }
  /** An alias target in a local domain that is gone (a DSN only: the alias's other targets got the message). */
  | { kind: 'reject'; why: 'alias-target-gone'; target: string; alias: string }
  /** More Received fields than MAX_RECEIVED_HEADERS. */
  | { kind: 'reject'; why: 'too-many-hops' }
  /** A copy was delivered to this account before (its Delivered-To is in the message). */
  | { kind: 'reject'; why: 'mail-loop'; account: string }
  /** Sieve reject/ereject answered in the transaction; `reason` as the script gave it. */
  | { kind: 'reject'; why: 'sieve-reject'; reason: string }
  /** A MailError that names its own permanent status (alias loops, expansion limits); `text` is safe to show. */
  | { kind: 'reject'; why: 'refused'; code: number; enhanced: string; text: string }
  /** Anything else (a store, a lookup, a bug): try again later. */
  | { kind: 'tempfail'; why: 'local-problem' };

/** The words of a failure in a DSN (RFC 3464 Status and Diagnostic-Code): the SMTP reply it would be. */
export type FailureWords = (failure: DeliveryFailure) => { code: number; enhanced: string; text: string };

export const LOCAL_PROBLEM: DeliveryFailure = { kind: 'tempfail', why: 'local-problem' };
export const NO_SUCH_USER: DeliveryFailure = { kind: 'reject', why: 'no-such-user' };

/** What an error met while delivering means; undefined for one that is not known (the caller logs it, then it is a local problem). */
export function knownFailure(err: unknown, overQuota: 'tempfail' | 'reject'): DeliveryFailure | undefined {
  // Not the account's quota: the server's disk. Postfix says the same; the sender retries.
  if (isNoSpace(err)) return { kind: 'tempfail', why: 'no-space' };
  if (!isMailError(err)) return undefined;
  if (err.code === 'OVERQUOTA') return { kind: overQuota, why: 'over-quota' };
  if (err.code === 'NONEXISTENT') return NO_SUCH_USER;
  if (err.smtpCode && err.enhanced && err.smtpCode >= 500) return { kind: 'reject', why: 'refused', code: err.smtpCode, enhanced: err.enhanced, text: err.message };
  return undefined;
}
