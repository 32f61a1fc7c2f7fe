// AUTH on the submission endpoints (RFC 4954) through the one shared SASL
// server (src/auth/sasl.ts: PLAIN, LOGIN, SCRAM-SHA-256) and the shared
// Authenticator, so failures are logged and slowed per address exactly as
// IMAP's are. smtp-server's own SASL code knows no SCRAM and calls onAuth
// with a password; this replaces its AUTH command handler on each
// connection and drives the exchange through the connection's
// continuation-line hook (_nextHandler). Members used: secure, session,
// send, handler_AUTH, _nextHandler, _transmissionType; checked by
// test/unit/smtp/internals.test.ts.
import { MailError } from '../../storage/errors.js';
import { isSaslMechanism, startSasl, type SaslExchange, type SaslStep } from '../auth/sasl.js';
import type { Authenticator, LoginContext } from '../auth/authenticator.js';
import { MAX_AUTH_FAILURES_PER_SESSION } from '../auth/penalty.js';
import type { Logger } from '../log.js';
import {
  AUTH_ABORTED,
  AUTH_ALREADY,
  AUTH_BAD_BASE64,
  AUTH_FAILED,
  AUTH_SUCCEEDED,
  AUTH_SYNTAX,
  AUTH_TOO_LONG,
  AUTH_TOO_MANY_FAILURES,
  AUTH_UNAVAILABLE,
  AUTH_UNKNOWN_MECHANISM,
  STARTTLS_FIRST,
  refusalReply,
  type SmtpReply,
} from '../mx/smtp-reply.js';
import type { Refusal } from '../mx/verdict.js';

type Handler = (command: Buffer | string, callback: () => void) => void;

/** The members of smtp-server's connection object the AUTH exchange uses. */
export interface AuthConnectionInternals {
  secure: boolean;
  session: { remoteAddress: string; user?: unknown; transmissionType?: string };
  send(code: number, data?: string | string[], context?: unknown): void;
  handler_AUTH: Handler;
  /** The handler of the next line, instead of a command (an AUTH continuation); false when none. */
  _nextHandler: Handler | false;
  _transmissionType(): string;
}

/**
 * The longest client response line accepted, in base64 characters. The
 * mechanisms take at most a few kilobytes (sasl.ts); more is refused before
 * it is decoded (Postfix: "SASL response limit exceeded").
 */
export const MAX_SASL_LINE = 8192;

/** Strict base64 (RFC 4648 alphabet, padded): linear, no backtracking. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export type DecodedResponse = { kind: 'data'; data: Buffer } | { kind: 'abort' } | { kind: 'bad'; reply: Refusal };

/**
 * One client response of an exchange: "*" aborts (RFC 4954 4), "=" as an
 * initial response is an empty one, anything else must be base64 within
 * MAX_SASL_LINE.
 */
export function decodeSaslResponse(line: string, initial: boolean): DecodedResponse {
  const text = line.trim();
  if (text.length > MAX_SASL_LINE) return { kind: 'bad', reply: AUTH_TOO_LONG };
  if (text === '*') return { kind: 'abort' };
  if (initial && text === '=') return { kind: 'data', data: Buffer.alloc(0) };
  if (!BASE64.test(text)) return { kind: 'bad', reply: AUTH_BAD_BASE64 };
  return { kind: 'data', data: Buffer.from(text, 'base64') };
}

export interface SubmissionAuthOptions {
  authenticator: Authenticator;
  log: Logger;
  /** The service name in the log and in the auth failure lines ("submission" or "submissions"). */
  service: string;
}

/** Replaces the connection's AUTH command with the shared SASL exchange. */
export function installSubmissionAuth(connection: AuthConnectionInternals, o: SubmissionAuthOptions): void {
  let failures = 0;
  const reply = (r: SmtpReply) => connection.send(r.code, `${r.enhanced} ${r.text}`, false);
  const ctx = (): LoginContext => ({ ip: connection.session.remoteAddress, service: o.service });

  /** A failure counted against the session; the third ends it, as Dovecot does. */
  const failed = (r: SmtpReply) => {
    reply(r);
    if (++failures >= MAX_AUTH_FAILURES_PER_SESSION) reply(refusalReply(AUTH_TOO_MANY_FAILURES));
  };

  /** A response the mechanisms never see (not base64, too long): refused, and logged and slowed like a failed login. */
  const badResponse = async (r: Refusal, mechanism: string) => {
    await o.authenticator.fail('', 'malformed', { ...ctx(), mechanism });
    failed(refusalReply(r));
  };

  const onStep = async (exchange: SaslExchange, step: SaslStep): Promise<void> => {
    if (step.kind === 'challenge') {
      reply334(step.data);
      connection._nextHandler = continuation(exchange);
      return;
    }
    if (step.kind === 'failure') {
      if (step.error.code === 'TEMPFAIL') return reply(refusalReply(AUTH_UNAVAILABLE));
      return failed(refusalReply(AUTH_FAILED));
    }
    const user = step.account.address;
    const succeed = () => {
      connection.session.user = user;
      connection.session.transmissionType = connection._transmissionType();
      // Like imap-login: successes stay at debug; failures are the authenticator's warn lines.
      o.log.debug({ event: 'submission-login', service: o.service, ip: connection.session.remoteAddress, user, mechanism: exchange.mechanism });
      reply(AUTH_SUCCEEDED);
    };
    if (!step.data) return succeed();
    // SCRAM's server-final message goes out as a challenge; the client answers with an empty line (RFC 4954 4).
    reply334(step.data);
    connection._nextHandler = (command, callback) => {
      const r = decodeSaslResponse(command.toString('latin1'), false);
      if (r.kind === 'data' && r.data.length === 0) succeed();
      else if (r.kind === 'abort') reply(refusalReply(AUTH_ABORTED));
      else reply(refusalReply(AUTH_SYNTAX));
      callback();
    };
  };

  const reply334 = (data: Buffer) => connection.send(334, data.length > 0 ? data.toString('base64') : '', false);

  const run = (exchange: SaslExchange, response: Buffer | undefined, callback: () => void) => {
    exchange
      .step(response)
      .then(
        (step) => onStep(exchange, step),
        (err: unknown) => {
          o.log.error({ event: 'auth-error', service: o.service, err: err instanceof Error ? err.message : String(err) });
          reply(refusalReply(AUTH_UNAVAILABLE));
        },
      )
      .finally(callback);
  };

  const continuation =
    (exchange: SaslExchange): Handler =>
    (command, callback) => {
      const r = decodeSaslResponse(command.toString('latin1'), false);
      if (r.kind === 'abort') {
        reply(refusalReply(AUTH_ABORTED));
        return callback();
      }
      if (r.kind === 'bad') {
        void badResponse(r.reply, exchange.mechanism).finally(callback);
        return;
      }
      run(exchange, r.data, callback);
    };

  connection.handler_AUTH = (command, callback) => {
    // Bounded: smtp-server refuses command lines over 16 KiB before they get here.
    const args = command.toString('latin1').trim().split(/\s+/).slice(1);
    if (!connection.secure) {
      reply(refusalReply(STARTTLS_FIRST));
      return callback();
    }
    if (connection.session.user) {
      reply(refusalReply(AUTH_ALREADY));
      return callback();
    }
    if (args.length < 1 || args.length > 2) {
      reply(refusalReply(AUTH_SYNTAX));
      return callback();
    }
    const mechanism = args[0]!;
    if (!isSaslMechanism(mechanism)) {
      reply(refusalReply(AUTH_UNKNOWN_MECHANISM));
      return callback();
    }
    let exchange: SaslExchange;
    try {
      exchange = startSasl(mechanism, o.authenticator, ctx());
    } catch (err) {
      if (!(err instanceof MailError)) throw err;
      reply(refusalReply(AUTH_UNKNOWN_MECHANISM));
      return callback();
    }
    if (args.length === 1) return run(exchange, undefined, callback);
    const r = decodeSaslResponse(args[1]!, true);
    if (r.kind === 'abort') {
      reply(refusalReply(AUTH_ABORTED));
      return callback();
    }
    if (r.kind === 'bad') {
      void badResponse(r.reply, exchange.mechanism).finally(callback);
      return;
    }
    run(exchange, r.data, callback);
  };
}

/** RFC 8314 / Postfix smtpd_tls_auth_only: EHLO lists no AUTH until the session is encrypted. */
export function hideAuthBeforeTls(connection: Pick<AuthConnectionInternals, 'secure' | 'send'>): void {
  const send = connection.send.bind(connection);
  connection.send = (code, data, context) => {
    if (code === 250 && Array.isArray(data) && !connection.secure) data = data.filter((line) => !/^AUTH\b/i.test(line));
    send(code, data, context);
  };
}
