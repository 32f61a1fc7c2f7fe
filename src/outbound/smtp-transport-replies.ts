// What a remote reply or a failure means for a recipient: sent, failed, or
// deferred with a class (the seam's DeferralClass). Pure functions over
// strings and nodemailer's error codes, so they are unit-tested alone.
import type { DeferralClass, RecipientOutcome } from './transport.js';

/** Longest reply kept in an outcome (it goes into logs, the queue entry and bounces). */
export const MAX_REPLY_LENGTH = 600;

/** A reply on one line: multi-line replies joined with " ", control characters gone, bounded. */
export function oneLine(reply: string): string {
  const flat = reply.slice(0, MAX_REPLY_LENGTH * 4).replace(/[\x00-\x1f\x7f]+/g, ' ').replace(/ {2,}/g, ' ').trim();
  return flat.length > MAX_REPLY_LENGTH ? `${flat.slice(0, MAX_REPLY_LENGTH - 3)}...` : flat;
}

/** The basic code of a reply (250, 451...), or undefined when it does not start with one. */
export function replyCode(reply: string): number | undefined {
  const m = /^([2-5]\d\d)(?:[ -]|$)/.exec(reply);
  return m ? Number(m[1]) : undefined;
}

/** The enhanced status code (RFC 3463) after the basic code, if any. */
export function enhancedCode(reply: string): string | undefined {
  const m = /^[2-5]\d\d[ -]([245]\.\d{1,3}\.\d{1,3})(?:\s|$)/.exec(reply);
  return m?.[1];
}

export type ReplyStage = 'MAIL' | 'RCPT' | 'DATA';

/** The class of a temporary (4xx) reply. */
export function deferralOfReply(reply: string, stage: ReplyStage): DeferralClass {
  const code = replyCode(reply);
  const enhanced = enhancedCode(reply);
  if (enhanced === '4.2.2') return 'mailbox-full';
  if (code === 452 && (enhanced === undefined || enhanced === '4.2.2')) return 'mailbox-full';
  const text = reply.slice(0, 2000);
  if (/gr[ae]y[ -]?list/i.test(text)) return 'greylist';
  if (
    stage === 'RCPT' &&
    (code === 450 || code === 451) &&
    (enhanced === '4.7.1' || enhanced === '4.7.0' || enhanced === '4.2.0') &&
    /(try|retry) (again )?later|please retry/i.test(text)
  ) {
    return 'greylist';
  }
  return 'remote-4xx';
}

/** The outcome of a recipient from the remote reply that decided it. */
export function outcomeOfReply(address: string, reply: string, stage: ReplyStage): RecipientOutcome {
  const line = oneLine(reply);
  const code = replyCode(line);
  if (code !== undefined && code >= 200 && code < 300) return { address, status: 'sent', reply: line };
  if (code !== undefined && code >= 500) return { address, status: 'failed', reply: line };
  // 4xx, and anything unexpected (a 3xx where none belongs, garbage): later.
  return { address, status: 'deferred', reply: line || '451 4.4.0 no reply', deferral: deferralOfReply(line, stage) };
}

/** Node's codes for a failed handshake or certificate check (DEPTH_ZERO_SELF_SIGNED_CERT, ERR_SSL_..., ERR_TLS_CERT_ALTNAME_INVALID). */
const TLS_FAILURE = /^(?:ERR_TLS_|ERR_SSL_|EPROTO$)|CERT|UNABLE_TO_(?:GET|VERIFY)/;

/**
 * The class of a failure that is not a reply to a transaction command:
 * nodemailer's error codes (ECONNECTION, ETIMEDOUT, ETLS, EAUTH, EDNS, ...)
 * and the system's (ECONNREFUSED...).
 */
export function deferralOfError(err: unknown): DeferralClass {
  // A wrapped error (SessionError) keeps nodemailer's under `cause`: the most specific code wins.
  const codes: string[] = [];
  let e = err as { code?: unknown; originalCode?: unknown; cause?: unknown } | null | undefined;
  for (let depth = 0; depth < 4 && e && typeof e === 'object'; depth++) {
    if (typeof e.code === 'string') codes.push(e.code);
    if (typeof e.originalCode === 'string') codes.push(e.originalCode);
    e = e.cause as typeof e;
  }
  if (codes.some((c) => c === 'ETLS' || c === 'EREQUIRETLS' || TLS_FAILURE.test(c))) return 'tls';
  if (codes.includes('EAUTH')) return 'auth';
  if (codes.includes('EDNS')) return 'dns';
  if (codes.includes('ETIMEDOUT')) return 'timeout';
  return 'connection';
}

/** A short description of a failure for the outcome's reply ("connect to mx[ip]:25: ECONNREFUSED"). */
export function describeError(err: unknown): string {
  const e = err as { code?: unknown; originalCode?: unknown; response?: unknown; message?: unknown } | null;
  if (typeof e?.response === 'string' && e.response.length > 0) return oneLine(e.response);
  const code = typeof e?.originalCode === 'string' ? e.originalCode : typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return oneLine(code && !message.includes(code) ? `${code}: ${message}` : message);
}

/** The enhanced code of a local deferral or failure, by class (RFC 3463). */
export function enhancedForClass(deferral: DeferralClass): string {
  switch (deferral) {
    case 'dns':
      return '4.4.3';
    case 'timeout':
      return '4.4.2';
    case 'tls':
      return '4.7.5';
    case 'auth':
      return '4.7.0';
    case 'local':
      return '4.3.0';
    default:
      return '4.4.1';
  }
}

/** A deferred outcome for a failure that happened on this side of the reply (no connection, DNS, TLS). */
export function deferredByError(address: string, deferral: DeferralClass, detail: string, destination?: string): RecipientOutcome {
  const reply = oneLine(`451 ${enhancedForClass(deferral)} ${detail}`);
  return destination === undefined
    ? { address, status: 'deferred', reply, deferral }
    : { address, status: 'deferred', reply, deferral, destination };
}
