// One SMTP client session to a next hop, over nodemailer's SMTPConnection:
// connect (implicit TLS, STARTTLS required, or STARTTLS when offered), AUTH,
// then any number of transactions, each answered per recipient. Every wait is
// bounded: nodemailer's connection, greeting and inactivity timeouts, and an
// overall deadline per operation on top of them.
//
// Internals of nodemailer relied on (nodemailer is pinned; the transport
// tests exercise each): `_socket` (the TLS protocol of the session) and
// `_envelope` (which recipients RCPT accepted when the DATA stage then failed).
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { isAscii } from 'node:buffer';
import type { TLSSocket } from 'node:tls';
import type { RecipientOutcome } from './transport.js';
import { deferralOfError, deferredByError, describeError, oneLine, outcomeOfReply, replyCode } from './smtp-transport-replies.js';

export type TlsPolicy =
  /** TLS from the first byte (port 465). */
  | 'implicit'
  /** STARTTLS or nothing: a server without it is deferred with class 'tls'. */
  | 'starttls'
  /** STARTTLS when the server offers it; plain otherwise (and if the upgrade is refused). */
  | 'opportunistic'
  /** Plain even when STARTTLS is offered: the retry after a failed handshake at the "may" level. */
  | 'none';

export interface SessionTimeouts {
  /** TCP connect plus the whole setup (greeting, EHLO, STARTTLS). */
  connectMs: number;
  /** The greeting. */
  greetingMs: number;
  /** Silence from the server in the middle of a command. */
  idleSocketMs: number;
  /** Any one operation (login, RSET, a whole transaction) at most. */
  operationMs: number;
}

export const DEFAULT_TIMEOUTS: SessionTimeouts = {
  connectMs: 30_000,
  greetingMs: 60_000,
  idleSocketMs: 300_000,
  operationMs: 900_000,
};

export interface SessionOptions {
  /** The address to connect to (already resolved). */
  address: string;
  port: number;
  /** Name for SNI and certificate checks (smarthost); absent for MX delivery. */
  servername?: string;
  tls: TlsPolicy;
  /** Check the server's certificate (smarthost); MX delivery does not (Postfix's "may" level). */
  verifyCertificate: boolean;
  ca?: Buffer;
  auth?: { username: string; password: string };
  /** Our name in EHLO. */
  heloName: string;
  timeouts: SessionTimeouts;
}

/** A failure to set a session up; `stage` says how far it got. */
export class SessionError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly response: string | undefined,
    readonly stage: 'connect' | 'auth',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SessionError';
  }
}

interface NodemailerError extends Error {
  code?: string;
  response?: string;
  responseCode?: number;
  command?: string;
  recipient?: string;
  rejectedErrors?: NodemailerError[];
}

/** The parts of the connection's private envelope read after a failed DATA stage. */
interface EnvelopeState {
  accepted?: string[];
  rejectedErrors?: NodemailerError[];
}

export interface TransactionResult {
  outcomes: RecipientOutcome[];
  /** Whether the session may carry another message (false after a connection-level failure). */
  reusable: boolean;
}

/** Whether the message needs 8BITMIME (a native scan: this runs for every message sent). */
function hasEightBit(raw: Buffer): boolean {
  return !isAscii(raw);
}

/** "mx.example.net[192.0.2.1]:25" (or "192.0.2.1:25" without a name), as Postfix names a next hop. */
export function endpointName(s: Pick<SessionOptions, 'address' | 'port' | 'servername'>): string {
  const ip = s.address.includes(':') ? `[${s.address}]` : s.address;
  return s.servername && s.servername !== s.address ? `${s.servername}[${ip}]:${s.port}` : `${ip}:${s.port}`;
}

/** A session used this recently, cleanly, is reused without an RSET first (ms). */
const FRESH_MS = 2000;

export class SmtpSession {
  private readonly conn: SMTPConnection;
  private dead = false;
  /** The rejecter of the operation in flight, failed by 'error' and 'end'. */
  private failCurrent: ((err: Error) => void) | undefined;
  /** Messages carried so far (the pool retires a session after a number). */
  messages = 0;
  /** Set when a transaction did not end cleanly (the server may hold a half-done one). */
  private dirty = false;
  /** When the last transaction ended. */
  private lastUsed = Date.now();

  private constructor(readonly options: SessionOptions) {
    const t = options.timeouts;
    this.conn = new SMTPConnection({
      host: options.address,
      port: options.port,
      secure: options.tls === 'implicit',
      requireTLS: options.tls === 'starttls',
      opportunisticTLS: options.tls === 'opportunistic',
      ignoreTLS: options.tls === 'none',
      name: options.heloName,
      connectionTimeout: t.connectMs,
      greetingTimeout: t.greetingMs,
      socketTimeout: t.idleSocketMs,
      socketCloseTimeout: 2000,
      dnsTimeout: t.connectMs,
      maxResponseSize: 64 * 1024,
      logger: false,
      tls: {
        rejectUnauthorized: options.verifyCertificate,
        ...(options.servername ? { servername: options.servername } : {}),
        ...(options.ca ? { ca: options.ca } : {}),
      },
    });
    // An SMTPConnection emits 'error' on any socket failure; unheard, it
    // would crash the process.
    this.conn.on('error', (err: Error) => {
      this.dead = true;
      this.failCurrent?.(err);
    });
    this.conn.on('end', () => {
      this.dead = true;
      // nodemailer ends the connection first and calls back with the reply
      // that ended it (a 421) right after: let that callback win.
      setImmediate(() => {
        const err = new Error('connection closed') as NodemailerError;
        err.code = 'ECONNECTION';
        this.failCurrent?.(err);
      });
    });
  }

  /** "host[ip]:port" style name of the other end, for outcomes and logs. */
  get endpoint(): string {
    return endpointName(this.options);
  }

  get alive(): boolean {
    return !this.dead && !this.conn.destroyed;
  }

  /** The TLS protocol of the session ("TLSv1.3"), undefined when plain. */
  get tlsProtocol(): string | undefined {
    if (!this.conn.secure) return undefined;
    const socket = this.conn._socket as TLSSocket | false | null;
    const proto = socket && typeof socket.getProtocol === 'function' ? socket.getProtocol() : null;
    return proto ?? undefined;
  }

  /** Connects, greets, upgrades to TLS as the policy says, and logs in when credentials are given. */
  static async open(options: SessionOptions): Promise<SmtpSession> {
    const session = new SmtpSession(options);
    try {
      await session.run<void>(options.timeouts.connectMs + options.timeouts.greetingMs, (done) =>
        session.conn.connect((err) => done(err ?? null)),
      );
    } catch (err) {
      session.close();
      const e = err as NodemailerError;
      throw new SessionError(describeError(err), e.code ?? 'ECONNECTION', e.response, 'connect', { cause: err });
    }
    if (options.auth) {
      if (!session.conn.secure) {
        session.close();
        throw new SessionError('the server offers no TLS; credentials are never sent in the clear', 'ETLS', undefined, 'auth');
      }
      try {
        await session.run<void>(options.timeouts.operationMs, (done) =>
          session.conn.login({ user: options.auth?.username, pass: options.auth?.password }, (err) => done(err)),
        );
      } catch (err) {
        session.close();
        const e = err as NodemailerError;
        throw new SessionError(describeError(err), e.code ?? 'EAUTH', e.response, 'auth', { cause: err });
      }
    }
    return session;
  }

  /**
   * Runs one nodemailer call; settles once, on its callback, on a connection
   * error or close, or at the deadline (which closes the connection).
   */
  private run<T>(timeoutMs: number, start: (done: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null | undefined, value?: T): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.failCurrent = undefined;
        if (err) reject(err);
        else resolve(value as T);
      };
      const timer = setTimeout(() => {
        const err = new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`) as NodemailerError;
        err.code = 'ETIMEDOUT';
        finish(err);
        this.close();
      }, timeoutMs);
      if (this.dead) {
        const err = new Error('connection closed') as NodemailerError;
        err.code = 'ECONNECTION';
        finish(err);
        return;
      }
      this.failCurrent = (err) => finish(err);
      try {
        start(finish);
      } catch (err) {
        finish(err as Error);
      }
    });
  }

  /**
   * RSET before reuse: ends a half-done transaction and shows the session
   * still works. Skipped right after a clean transaction (the common case
   * under load): a server that closed the session since is noticed by the
   * close event, and a close in flight only defers that message.
   */
  async reset(): Promise<void> {
    if (!this.dirty && Date.now() - this.lastUsed < FRESH_MS) return;
    await this.run<boolean>(Math.min(this.options.timeouts.operationMs, this.options.timeouts.idleSocketMs), (done) =>
      this.conn.reset((err, ok) => done(err, ok)),
    );
    this.dirty = false;
  }

  /**
   * One transaction: MAIL, RCPT for each recipient, DATA. Never rejects: each
   * recipient gets the reply that decided it (RCPT for the refused ones,
   * MAIL or the end of DATA for the others), or a deferral when the
   * connection failed.
   */
  async send(sender: string, recipients: string[], raw: Buffer): Promise<TransactionResult> {
    this.messages++;
    const destination = this.endpoint;
    const tls = this.tlsProtocol;
    const decorate = (o: RecipientOutcome): RecipientOutcome => ({ ...o, destination, ...(tls ? { tls } : {}) });
    try {
      const info = await this.run<SMTPConnection.SentMessageInfo>(this.options.timeouts.operationMs, (done) =>
        this.conn.send(
          { from: sender, to: recipients, size: raw.length, use8BitMime: hasEightBit(raw) },
          raw,
          (err, result) => done(err, result),
        ),
      );
      const refused = new Map<string, string>();
      for (const e of (info.rejectedErrors ?? []) as NodemailerError[]) if (e.recipient) refused.set(e.recipient, e.response ?? '');
      const outcomes = recipients.map((address) => {
        const reply = refused.get(address);
        if (reply !== undefined) return decorate(outcomeOfReply(address, reply, 'RCPT'));
        return decorate(outcomeOfReply(address, info.response || '250 2.0.0 accepted', 'DATA'));
      });
      this.lastUsed = Date.now();
      return { outcomes, reusable: this.alive };
    } catch (caught) {
      const err = caught as NodemailerError;
      this.dirty = true;
      this.lastUsed = Date.now();
      return { outcomes: this.outcomesOfFailure(err, recipients).map(decorate), reusable: this.alive };
    }
  }

  private outcomesOfFailure(err: NodemailerError, recipients: string[]): RecipientOutcome[] {
    const envelope = (this.conn as unknown as { _envelope?: EnvelopeState | false })._envelope || {};
    const refused = new Map<string, string>();
    for (const e of err.rejectedErrors ?? envelope.rejectedErrors ?? []) if (e.recipient) refused.set(e.recipient, e.response ?? '');
    const accepted = new Set(envelope.accepted ?? []);
    const rcptStage = (address: string): RecipientOutcome | undefined => {
      const reply = refused.get(address);
      return reply === undefined ? undefined : outcomeOfReply(address, reply, 'RCPT');
    };

    // The server refused the sender: that reply answers for everyone.
    if (err.command === 'MAIL FROM' && err.response) {
      return recipients.map((a) => outcomeOfReply(a, err.response as string, 'MAIL'));
    }
    // Every recipient refused at RCPT.
    if (err.code === 'EENVELOPE' && err.command === 'RCPT TO') {
      return recipients.map((a) => rcptStage(a) ?? outcomeOfReply(a, err.response ?? '451 4.4.0 refused', 'RCPT'));
    }
    // DATA refused, or the message refused at its end: for those RCPT accepted.
    if (err.command === 'DATA' && err.response) {
      return recipients.map((a) => rcptStage(a) ?? outcomeOfReply(a, err.response as string, 'DATA'));
    }
    // Larger than the server's SIZE: it will never take it.
    if (err.code === 'EMESSAGE' && !err.response && /size/i.test(err.message)) {
      return recipients.map((address) => ({ address, status: 'failed', reply: oneLine(`552 5.3.4 ${err.message}`) }));
    }
    // The connection failed mid-way. A 5xx already given at RCPT stands; the
    // rest is tried again later (a message whose end-of-data reply was lost
    // may arrive twice: RFC 5321 6.1 prefers that to losing it).
    // A 4xx that ended the session (421 "shutting down") is kept as the reply.
    const closing = err.response && replyCode(oneLine(err.response))?.toString().startsWith('4') ? oneLine(err.response) : undefined;
    const deferral = deferralOfError(err);
    const detail = describeError(err);
    return recipients.map((a) => {
      const o = rcptStage(a);
      if (o && o.status === 'failed' && !accepted.has(a)) return o;
      return closing ? outcomeOfReply(a, closing, 'MAIL') : deferredByError(a, deferral, detail);
    });
  }

  /** QUIT when the session is healthy, then close; never throws. */
  close(): void {
    this.dead = true;
    try {
      if (!this.conn.destroyed) {
        this.conn.quit();
        this.conn.close();
      }
    } catch {
      // closing a broken connection: nothing left to do
    }
  }
}
