// An SMTP or LMTP endpoint on smtp-server: the only code that knows the
// library. What it adds to it: the pregreet test, a cap on connections (all,
// and per address), replies that carry our own enhanced codes, replies of
// one pipelined group sent in one segment, the relay-trick answer for paths
// the library refuses as syntax, and a polite shutdown. What to answer is
// the MailReceiver's (src/mx/); this file only carries it to the client.
//
// smtp-server is pinned in package.json: the private members used here
// (connect, connections, and a connection's send, handler_RCPT, _socket,
// _dataStream, _handlerPending) are checked by test/unit/smtp/internals.test.ts.
// A submission endpoint also replaces AUTH (submission-auth.ts).
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { Server, Socket } from 'node:net';
import { ConnectionLimit } from '../net/connection-limit.js';
import { SASL_MECHANISMS } from '../auth/sasl.js';
import { hideAuthBeforeTls, installSubmissionAuth, type AuthConnectionInternals, type SubmissionAuthOptions } from './submission-auth.js';
import type { MailReceiver, ReceiverSession } from '../mx/receiver.js';
import { AUTH_REQUIRED, LOCAL_PROBLEM, SHUTTING_DOWN, TALKED_FIRST, TOO_MANY_FROM_ADDRESS, TOO_MANY_MESSAGES, formatReply, refusalReply, tooManyConnections, type SmtpReply } from '../mx/smtp-reply.js';

export interface SmtpLimits {
  /** Hold the greeting this long and drop clients that talk first (postscreen's pregreet test). */
  greetDelayMs: number;
  maxConnectionsPerIp: number;
  maxMessagesPerConnection: number;
  /** Idle time allowed between commands. */
  commandTimeoutMs: number;
}

export const MX_LIMITS: SmtpLimits = { greetDelayMs: 300, maxConnectionsPerIp: 20, maxMessagesPerConnection: 1000, commandTimeoutMs: 300_000 };
export const LMTP_LIMITS: SmtpLimits = { greetDelayMs: 0, maxConnectionsPerIp: 100, maxMessagesPerConnection: 10_000, commandTimeoutMs: 300_000 };
/** Submission clients are our users' mail programs: no pregreet test; several connections per address (an office behind one NAT). */
export const SUBMISSION_LIMITS: SmtpLimits = { greetDelayMs: 0, maxConnectionsPerIp: 50, maxMessagesPerConnection: 1000, commandTimeoutMs: 300_000 };

/** A client that waited for the greeting once is trusted to for this long (postscreen's cache). */
const PREGREET_PASS_MS = 24 * 3600 * 1000;
const MAX_PREGREET_CACHE = 100_000;

export interface EndpointOptions {
  lmtp: boolean;
  /** Our hostname, in the greeting. */
  hostname: string;
  tls: { key: string | Buffer; cert: string | Buffer };
  /** SIZE: the largest message, in bytes. */
  messageSize: number;
  maxRecipients: number;
  /** All connections at once, pregreet wait included. */
  maxConnections: number;
  /** The count shared with the service's other endpoints (one per listening address); default: this endpoint's own. */
  connectionLimit?: ConnectionLimit;
  limits: SmtpLimits;
  receiver: MailReceiver;
  onError(err: Error): void;
  /** A submission endpoint: AUTH required (after TLS), over the shared SASL server. */
  submission?: SubmissionAuthOptions & { implicitTls: boolean };
}

/** The members of smtp-server's (untyped) connection object used here. */
export interface ConnectionInternals {
  send(code: number, data?: string | string[], context?: unknown): void;
  handler_RCPT(command: Buffer | string, callback: () => void): void;
  _socket: Socket;
  // Where the session is, read by shutdown only: a message being received or
  // decided on, a handler not yet called back, an open envelope.
  _dataStream?: unknown;
  _handlerPending?: boolean;
  session?: { envelope?: { mailFrom?: unknown } };
}

/** Our reply texts carry their own enhanced code; the library must not add another. */
const OWN_ENHANCED_CODE = /^[245]\.\d{1,3}\.\d{1,3} /;

interface ReplyError extends Error {
  responseCode: number;
}

/** The error smtp-server turns into the reply "<code> <enhanced> <text>" (a 421 ends the session). */
function replyError(r: SmtpReply): ReplyError {
  const err = new Error(`${r.enhanced} ${r.text}`) as ReplyError;
  err.responseCode = r.close ? 421 : r.code;
  return err;
}

/** What smtp-server's onData callback takes for a reply: an error, or the text of a 250. */
function dataAnswer(r: SmtpReply): ReplyError | string {
  return r.code < 400 ? `${r.enhanced} ${r.text}` : replyError(r);
}

/** A session in the middle of a transaction; an idle one can be told goodbye at once. */
function inTransaction(c: ConnectionInternals): boolean {
  return Boolean(c._dataStream || c._handlerPending || c.session?.envelope?.mailFrom);
}

function receiverSession(s: SMTPServerSession): ReceiverSession {
  return {
    id: s.id,
    remoteAddress: s.remoteAddress,
    helo: s.hostNameAppearsAs || '',
    secure: s.secure,
    ...(s.clientHostname ? { clientHostname: s.clientHostname } : {}),
    ...(s.openingCommand ? { openingCommand: s.openingCommand } : {}),
    ...(s.secure && s.tlsOptions ? { tls: { version: s.tlsOptions.version, name: s.tlsOptions.name } } : {}),
    ...(s.user !== undefined && s.user !== null ? { user: String(s.user) } : {}),
  };
}

/** What the endpoint adds to smtp-server's own options. */
interface EndpointExtras {
  greetDelayMs: number;
  connectionLimit: ConnectionLimit;
  /** The answer for a RCPT path the library would call a syntax error, if it is a relay attempt. */
  rawPathRefusal(path: string): SmtpReply | undefined;
  /** Called with each new session's connection, after the endpoint's own wrapping (submission's AUTH). */
  onSession?(connection: ConnectionInternals & AuthConnectionInternals): void;
}

/** smtp-server with the few hooks it lacks. */
export class SmtpEndpoint extends SMTPServer {
  private readonly greetDelayMs: number;
  private readonly connectionLimit: ConnectionLimit;
  private readonly rawPathRefusal: EndpointExtras['rawPathRefusal'];
  private readonly onSession: EndpointExtras['onSession'];
  private readonly passedPregreet = new Map<string, number>();
  /** Sockets held back for the pregreet test: not sessions yet, but open. */
  private readonly waitingForGreeting = new Set<Socket>();
  private shuttingDown = false;

  constructor(options: SMTPServerOptions, extras: EndpointExtras) {
    super(options);
    this.greetDelayMs = extras.greetDelayMs;
    this.connectionLimit = extras.connectionLimit;
    this.rawPathRefusal = extras.rawPathRefusal;
    this.onSession = extras.onSession;
  }

  override connect(socket: Socket, socketOptions?: Parameters<SMTPServer['connect']>[1]): void {
    // The cap on all connections counts from the accept, pregreet wait included.
    if (!this.connectionLimit.tryOpen()) {
      socket.on('error', () => {});
      socket.end(`${formatReply(tooManyConnections(this.options.name ?? ''))}\r\n`);
      setTimeout(() => socket.destroy(), 2000).unref();
      return;
    }
    socket.once('close', () => this.connectionLimit.close());
    const ip = socket.remoteAddress ?? '';
    const passed = this.passedPregreet.get(ip);
    if (this.greetDelayMs <= 0 || (passed !== undefined && passed > Date.now())) return this.connectNow(socket, socketOptions);
    let early = false;
    const onData = () => {
      early = true;
    };
    socket.on('data', onData);
    this.waitingForGreeting.add(socket);
    const timer = setTimeout(() => {
      this.waitingForGreeting.delete(socket);
      socket.off('data', onData);
      if (this.shuttingDown) return;
      if (early) {
        socket.end(`${formatReply(TALKED_FIRST)}\r\n`);
        socket.destroySoon?.();
        return;
      }
      socket.pause();
      if (this.passedPregreet.size >= MAX_PREGREET_CACHE) this.passedPregreet.clear();
      this.passedPregreet.set(ip, Date.now() + PREGREET_PASS_MS);
      this.connectNow(socket, socketOptions);
    }, this.greetDelayMs);
    socket.once('close', () => {
      clearTimeout(timer);
      this.waitingForGreeting.delete(socket);
    });
  }

  /** Some client is still connected to this instance (a session, or a socket waiting for its greeting). */
  hasClients(): boolean {
    return this.connections.size > 0 || this.waitingForGreeting.size > 0;
  }

  /**
   * Ends every session, politely and soon: an idle one hears 421 at once, one
   * in a transaction may finish it for up to drainMs (a message whose DATA is
   * arriving, or whose delivery runs) and hears 421 then. The listening socket
   * is the caller's to close.
   */
  async shutdown(drainMs: number): Promise<void> {
    this.shuttingDown = true;
    const goodbye = refusalReply(SHUTTING_DOWN);
    for (const socket of this.waitingForGreeting) {
      socket.end(`${formatReply(goodbye)}\r\n`);
      socket.destroySoon?.();
    }
    this.waitingForGreeting.clear();
    const sockets = new Set<Socket>();
    const deadline = Date.now() + drainMs;
    for (;;) {
      const late = Date.now() >= deadline;
      for (const c of this.connections as Set<ConnectionInternals>) {
        if (!late && inTransaction(c)) continue;
        sockets.add(c._socket);
        // A 421 makes smtp-server end the session (and drop it from connections).
        c.send(421, `${goodbye.enhanced} ${goodbye.text}`);
      }
      if (this.connections.size === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // A client that never closes its side must not keep the process up.
    const open = [...sockets].filter((socket) => !socket.destroyed);
    if (open.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(open.map((socket) => new Promise((resolve) => socket.once('close', resolve)))),
      new Promise((resolve) => (timer = setTimeout(resolve, 1000))),
    ]);
    clearTimeout(timer);
    for (const socket of open) socket.destroy();
  }

  /** Resolves with the listening socket once it listens. */
  listening(port: number, address: string | { host: string; ipv6Only: boolean }): Promise<Server> {
    const { host, ipv6Only } = typeof address === 'string' ? { host: address, ipv6Only: false } : address;
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port, host, ipv6Only }, () => {
        this.server.off('error', reject);
        resolve(this.server);
      });
    });
  }

  private connectNow(socket: Socket, socketOptions?: Parameters<SMTPServer['connect']>[1]): void {
    super.connect(socket, socketOptions);
    const connection = [...this.connections].pop() as ConnectionInternals | undefined;
    if (!connection) return;
    const send = connection.send.bind(connection);
    // Replies to one pipelined group (MAIL, RCPT..., DATA) go out in one
    // segment: each write is a syscall here and a wake-up at the client.
    // A 220 (greeting, STARTTLS) is never held: TLS may start right after it.
    let corked: Socket | undefined;
    const uncork = () => {
      const s = corked;
      corked = undefined;
      s?.uncork();
    };
    connection.send = (code, data, context) => {
      const socket = connection._socket;
      if (code === 220) uncork();
      else if (!corked && !socket.destroyed) {
        corked = socket;
        socket.cork();
        process.nextTick(uncork);
      }
      send(code, data, typeof data === 'string' && OWN_ENHANCED_CODE.test(data) ? false : context);
    };
    const rcpt = connection.handler_RCPT.bind(connection);
    connection.handler_RCPT = (command, callback) => {
      // Quoted local parts and friends never reach onRcptTo (the library calls
      // them syntax errors); they are relay attempts and get the relay answer.
      const path = /^RCPT\s+TO\s*:\s*(<[^>]*>|\S+)/i.exec(command.toString())?.[1];
      const refusal = path === undefined ? undefined : this.rawPathRefusal(path);
      if (refusal) {
        const err = replyError(refusal);
        connection.send(err.responseCode, err.message);
        return callback();
      }
      rcpt(command, callback);
    };
    this.onSession?.(connection as ConnectionInternals & AuthConnectionInternals);
  }
}

export function createEndpoint(o: EndpointOptions): SmtpEndpoint {
  const { receiver, limits } = o;
  const perIp = new Map<string, number>();
  const counted = new Set<string>();
  const answer = (callback: (err?: Error | null) => void) => (reply: SmtpReply | undefined) => callback(reply ? replyError(reply) : null);
  // A rejected promise here would be a bug in the receiver; it still answers "try again", never accepts.
  const failed = (callback: (err?: Error | null) => void) => (err: unknown) => {
    o.onError(err instanceof Error ? err : new Error(String(err)));
    callback(replyError(refusalReply(LOCAL_PROBLEM)));
  };

  const options: SMTPServerOptions = {
    lmtp: o.lmtp,
    name: o.hostname,
    banner: 'Postino',
    key: o.tls.key,
    cert: o.tls.cert,
    size: o.messageSize,
    maxRecipients: o.maxRecipients,
    disabledCommands: ['AUTH'],
    hideENHANCEDSTATUSCODES: false,
    hideSTARTTLS: false,
    hide8BITMIME: false,
    hidePIPELINING: false,
    hideSMTPUTF8: false,
    hideDSN: true,
    disableReverseLookup: true,
    socketTimeout: limits.commandTimeoutMs,
    closeTimeout: 30_000,
    logger: false,
    onConnect(session, callback) {
      const ip = session.remoteAddress;
      const n = (perIp.get(ip) ?? 0) + 1;
      if (n > limits.maxConnectionsPerIp) return callback(replyError(refusalReply(TOO_MANY_FROM_ADDRESS)));
      perIp.set(ip, n);
      counted.add(session.id);
      receiver.connect(receiverSession(session)).then(answer(callback), failed(callback));
    },
    onClose(session) {
      // Only connections that were counted in are counted out.
      if (!counted.delete(session.id)) return;
      const ip = session.remoteAddress;
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
    },
    onMailFrom(address, session, callback) {
      if ((session.transaction ?? 1) > limits.maxMessagesPerConnection) return callback(replyError(refusalReply(TOO_MANY_MESSAGES)));
      receiver.mailFrom(receiverSession(session), address.address).then(answer(callback), failed(callback));
    },
    onRcptTo(address, session, callback) {
      const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      const accepted = session.envelope.rcptTo.map((r) => r.address);
      receiver.rcptTo(receiverSession(session), from, address.address, accepted).then((r) => {
        if ('reply' in r) return callback(replyError(r.reply));
        address.address = r.recipient;
        callback();
      }, failed(callback));
    },
    onData(stream, session, callback) {
      const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      const recipients = session.envelope.rcptTo.map((r) => r.address);
      receiver.data(receiverSession(session), from, recipients, stream).then((reply) => {
        if (Array.isArray(reply)) return callback(null, reply.map(dataAnswer) as unknown as string);
        const a = dataAnswer(reply);
        if (typeof a === 'string') callback(null, a);
        else callback(a);
      }, failed(callback));
    },
  };
  const submission = o.submission;
  if (submission) {
    Object.assign(options, {
      // 465: TLS from the first byte; 587: STARTTLS, and AUTH only after it.
      secure: submission.implicitTls,
      disabledCommands: submission.implicitTls ? ['STARTTLS'] : [],
      authMethods: [...SASL_MECHANISMS],
      authOptional: false,
      allowInsecureAuth: false,
      // smtp-server's own check answers MAIL/RCPT/DATA before AUTH; the text carries our enhanced code.
      authRequiredMessage: `${AUTH_REQUIRED.enhanced} ${AUTH_REQUIRED.text}`,
    } satisfies Partial<SMTPServerOptions>);
  }
  const endpoint = new SmtpEndpoint(options, {
    greetDelayMs: limits.greetDelayMs,
    connectionLimit: o.connectionLimit ?? new ConnectionLimit(o.maxConnections),
    rawPathRefusal: (path) => receiver.refuseRawPath(path),
    ...(submission
      ? {
          onSession: (connection: ConnectionInternals & AuthConnectionInternals) => {
            hideAuthBeforeTls(connection);
            installSubmissionAuth(connection, submission);
          },
        }
      : {}),
  });
  endpoint.on('error', o.onError);
  return endpoint;
}
