// The MX-facing SMTP listener and the LMTP listener, on smtp-server. Both
// run the same pipeline: recipient policy at RCPT, then (MX only) sender
// authentication checks, then the delivery agent; the reply is sent only
// after every copy is durable.
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { Server, Socket } from 'node:net';
import { newQueueId } from '../queue-id.js';
import type { ServiceContext, ServiceDefinition } from '../server/postino-server.js';
import { DeliveryAgent, type DeliveryOptions, type RecipientOutcome } from '../delivery/agent.js';
import { RecipientPolicy, looksLikeRelayTrick, RELAY_DENIED } from './recipient-policy.js';
import { OWN_ENHANCED_CODE, replyError, reject, tempfail } from './verdict.js';
import { SenderChecks } from './sender-checks.js';
import { parseMessage } from '../../mime/index.js';
import { deliveryConfig } from '../delivery/delivery-config.js';
import { ConnectionLimit } from '../net/connection-limit.js';
import { readMessage } from './message-reader.js';
import { collectGarbage } from '../garbage-collection.js';

export interface SmtpLimits {
  /** Hold the greeting this long and drop clients that talk first (postscreen's pregreet test). */
  greetDelayMs: number;
  maxConnectionsPerIp: number;
  maxMessagesPerConnection: number;
  /** Idle time allowed between commands. */
  commandTimeoutMs: number;
}

export const MX_LIMITS: SmtpLimits = { greetDelayMs: 300, maxConnectionsPerIp: 20, maxMessagesPerConnection: 1000, commandTimeoutMs: 300_000 };

/** A client that waited for the greeting once is trusted to for this long (postscreen's cache). */
const PREGREET_PASS_MS = 24 * 3600 * 1000;
const MAX_PREGREET_CACHE = 100_000;
export const LMTP_LIMITS: SmtpLimits = { greetDelayMs: 0, maxConnectionsPerIp: 100, maxMessagesPerConnection: 10_000, commandTimeoutMs: 300_000 };

type Kind = 'smtp' | 'lmtp';

interface ConnectionLike {
  send(code: number, data?: string | string[], context?: unknown): void;
  handler_RCPT(command: Buffer | string, callback: () => void): void;
  _socket: Socket;
  // Where the session is (smtp-server internals, read by shutdown only):
  // a message being received or decided on, a handler not yet called back, an open envelope.
  _dataStream?: unknown;
  _handlerPending?: boolean;
  session?: { envelope?: { mailFrom?: unknown } };
}

/** What every session still open at shutdown hears (RFC 3463: 4.3.2 system not accepting messages). */
const SHUTTING_DOWN = '4.3.2 Service shutting down, try again later';

/** A session in the middle of a transaction; an idle one can be told goodbye at once. */
function inTransaction(c: ConnectionLike): boolean {
  return Boolean(c._dataStream || c._handlerPending || c.session?.envelope?.mailFrom);
}

/** smtp-server with the few hooks it lacks: pregreet check, our own enhanced codes, early relay-trick refusal. */
class PostinoSmtpServer extends SMTPServer {
  greetDelayMs = 0;
  connectionLimit = new ConnectionLimit(Infinity);
  private readonly passedPregreet = new Map<string, number>();
  /** Sockets held back for the pregreet test: not sessions yet, but open. */
  private readonly waitingForGreeting = new Set<Socket>();
  private shuttingDown = false;

  override connect(socket: Socket, socketOptions?: Parameters<SMTPServer['connect']>[1]): void {
    // The cap on all connections counts from the accept, pregreet wait included.
    if (!this.connectionLimit.tryOpen()) {
      socket.on('error', () => {});
      socket.end(`421 4.7.0 ${this.options.name ?? ''} Too many connections, try again later\r\n`);
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
        socket.end('554 5.5.0 SMTP protocol violation: talked before the greeting\r\n');
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
    for (const socket of this.waitingForGreeting) {
      socket.end(`421 ${SHUTTING_DOWN}\r\n`);
      socket.destroySoon?.();
    }
    this.waitingForGreeting.clear();
    const sockets = new Set<Socket>();
    const deadline = Date.now() + drainMs;
    for (;;) {
      const late = Date.now() >= deadline;
      for (const c of this.connections as Set<ConnectionLike>) {
        if (!late && inTransaction(c)) continue;
        sockets.add(c._socket);
        // A 421 makes smtp-server end the session (and drop it from connections).
        c.send(421, SHUTTING_DOWN);
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

  private connectNow(socket: Socket, socketOptions?: Parameters<SMTPServer['connect']>[1]): void {
    super.connect(socket, socketOptions);
    const connection = [...this.connections].pop() as unknown as ConnectionLike | undefined;
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
      const raw = command.toString();
      const path = /^RCPT\s+TO\s*:\s*(<[^>]*>|\S+)/i.exec(raw)?.[1];
      if (path && looksLikeRelayTrick(path) && !/^<postmaster>$/i.test(path)) {
        const err = replyError(RELAY_DENIED);
        connection.send(err.responseCode, err.message);
        return callback();
      }
      rcpt(command, callback);
    };
  }
}

function receivedHeader(kind: Kind, session: SMTPServerSession, hostname: string, id: string, recipients: string[]): string {
  const helo = session.hostNameAppearsAs || 'unknown';
  const client = session.clientHostname && !session.clientHostname.startsWith('[') ? session.clientHostname : 'unknown';
  const proto = (kind === 'lmtp' ? 'LMTP' : session.openingCommand === 'HELO' ? 'SMTP' : 'ESMTP') + (session.secure ? 'S' : '');
  const tls = session.secure && session.tlsOptions ? ` (using ${session.tlsOptions.version ?? 'TLS'} with cipher ${session.tlsOptions.name ?? '?'})` : '';
  const forClause = recipients.length === 1 ? `\r\n\tfor <${recipients[0]}>` : '';
  const date = new Date().toUTCString().replace(/GMT$/, '+0000');
  return `Received: from ${helo} (${client} [${session.remoteAddress}])${tls}\r\n\tby ${hostname} (Postino) with ${proto} id ${id}${forClause};\r\n\t${date}`;
}

export function createSmtpServer(kind: Kind, ctx: ServiceContext, limits: SmtpLimits, agent: DeliveryAgent): PostinoSmtpServer {
  const { config, storage, log } = ctx;
  const policy = new RecipientPolicy(storage.directory, storage.mail, { overQuota: config.smtp.overQuota });
  const senderChecks = kind === 'smtp' ? new SenderChecks(config, log) : undefined;
  // LMTP answers each recipient; SMTP gives one reply after DATA for all of them.
  const answer: DeliveryOptions = kind === 'lmtp' ? { answer: 'recipient' } : { answer: 'message', bounceRefused: true };
  const perIp = new Map<string, number>();
  const counted = new Set<string>();

  const options: SMTPServerOptions = {
    lmtp: kind === 'lmtp',
    name: config.hostname,
    banner: 'Postino',
    key: ctx.tls.key,
    cert: ctx.tls.cert,
    size: config.limits.messageSize,
    maxRecipients: config.limits.recipients,
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
      if (n > limits.maxConnectionsPerIp) {
        return callback(replyError({ kind: 'disconnect', code: 421, enhanced: '4.7.0', text: 'Too many connections from your address' }));
      }
      perIp.set(ip, n);
      counted.add(session.id);
      callback();
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
      if ((session.transaction ?? 1) > limits.maxMessagesPerConnection) {
        return callback(replyError({ kind: 'disconnect', code: 421, enhanced: '4.7.0', text: 'Too many messages in one connection' }));
      }
      if (address.address && !address.address.includes('@')) return callback(replyError(reject(553, '5.1.7', 'Sender address must be fully qualified')));
      callback();
    },
    onRcptTo(address, session, callback) {
      let rcpt = address.address;
      if (rcpt.toLowerCase() === 'postmaster') {
        const pm = policy.bareAddressPostmaster(config.hostname);
        if (!pm) return callback(replyError(tempfail(451, '4.3.0', 'No local domain configured')));
        rcpt = pm;
        address.address = pm;
      }
      const verdict = policy.check(rcpt, false);
      if (verdict.kind !== 'accept') {
        log.info({ event: 'rcpt-refused', service: kind, ip: session.remoteAddress, from: session.envelope.mailFrom && session.envelope.mailFrom.address, to: rcpt, code: verdict.code });
        return callback(replyError(verdict));
      }
      callback();
    },
    onData(stream, session, callback) {
      const recipients = session.envelope.rcptTo.map((r) => r.address);
      const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      const id = newQueueId();
      const fail = (code: number, enhanced: string, text: string) => callback(replyError(tempfail(code, enhanced, text)));
      readMessage(stream, { messageBytes: config.limits.messageSize, headerBytes: config.limits.headerSize }, { collectGarbage })
        .then(async (read) => {
          switch (read.kind) {
            case 'gone':
              // Clients hang up mid-message all the time (timeouts, crashes, scanners).
              log.info({ event: 'smtp-client-gone', service: kind, id, ip: session.remoteAddress, bytes: read.bytes }, 'client disconnected in the middle of DATA');
              return callback(replyError(tempfail(451, '4.3.0', 'Message incomplete')));
            case 'failed':
              throw read.err;
            case 'too-big':
              log.info({ event: 'message-too-big', service: kind, id, ip: session.remoteAddress, bytes: read.bytes, limit: config.limits.messageSize });
              return callback(replyError(reject(552, '5.3.4', 'Message size exceeds fixed maximum message size')));
            case 'header-too-big':
              log.info({ event: 'message-too-big', service: kind, id, ip: session.remoteAddress, bytes: read.bytes, headerLimit: config.limits.headerSize });
              return callback(replyError(reject(552, '5.3.4', 'Message header section exceeds fixed maximum size')));
          }
          let message = parseMessage(read.raw);
          const trace = [receivedHeader(kind, session, config.hostname, id, recipients)];
          let junk = false;
          if (senderChecks) {
            const auth = await senderChecks.check({ message, ip: session.remoteAddress, helo: session.hostNameAppearsAs || '', mailFrom: from });
            if (auth.refuse) return callback(replyError(auth.refuse));
            trace.push(...auth.headers);
            junk = auth.junk;
            message = auth.message;
          }
          const raw = message.raw;
          const outcomes = await agent.deliver({
            id,
            raw,
            parsed: message,
            from,
            recipients,
            traceHeaders: trace,
            remoteIp: session.remoteAddress,
            rejectAtSmtp: kind === 'lmtp' || recipients.length === 1,
            junk,
            ...(session.clientHostname ? { remoteHost: session.clientHostname } : {}),
          }, answer);
          log.info({ event: 'message', service: kind, id, ip: session.remoteAddress, from, size: raw.length, outcomes: outcomes.map((o) => `${o.recipient}:${o.kind}`) });
          if (kind === 'lmtp') return callback(null, outcomes.map(lmtpReply) as unknown as string);
          callback(...smtpReply(outcomes, id));
        })
        .catch((err: unknown) => {
          log.error({ event: 'data-failed', service: kind, id, err: (err as Error)?.message });
          fail(451, '4.3.0', 'Temporary local problem, try again later');
        });
    },
  };
  const server = new PostinoSmtpServer(options);
  server.greetDelayMs = limits.greetDelayMs;
  server.connectionLimit = new ConnectionLimit(config.limits.maxConnections[kind]);
  server.on('error', (err) => log.warn({ event: 'smtp-error', service: kind, err: err.message }));
  return server;
}

function lmtpReply(o: RecipientOutcome): string | Error {
  if (o.kind === 'delivered') return `2.0.0 <${o.recipient}> ${o.detail}`;
  return replyError({ kind: o.kind === 'tempfail' ? 'tempfail' : 'reject', code: o.code, enhanced: o.enhanced, text: o.text });
}

/**
 * One SMTP reply for all recipients. The agent has already made it one
 * answer: a part that failed temporarily after another was stored is kept for
 * a local retry (delivered), recipients refused for good among accepted ones
 * got a DSN. What is left: "try again" for all, refused for all, or accepted.
 */
function smtpReply(outcomes: RecipientOutcome[], id: string): [Error | null, string?] {
  const temp = outcomes.find((o) => o.kind === 'tempfail');
  // Nothing stored (or the rest could not be queued): ask for the whole message again.
  if (temp && temp.kind !== 'delivered') return [replyError({ kind: 'tempfail', code: temp.code, enhanced: temp.enhanced, text: temp.text })];
  const rejected = outcomes.filter((o) => o.kind === 'reject');
  if (rejected.length === outcomes.length && rejected[0] && rejected[0].kind !== 'delivered') {
    const r = rejected[0];
    return [replyError({ kind: 'reject', code: r.code, enhanced: r.enhanced, text: r.text })];
  }
  return [null, `2.0.0 Ok: queued as ${id}`];
}

function listen(server: PostinoSmtpServer, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, host, () => {
      server.server.off('error', reject);
      resolve(server.server);
    });
  });
}

/** One listening socket, and the server instances behind it: the newest takes new connections, older ones keep theirs. */
interface Listener {
  current: PostinoSmtpServer;
  instances: Set<PostinoSmtpServer>;
}

export function smtpServices(): ServiceDefinition[] {
  // One agent per configuration, shared by SMTP and LMTP.
  const agents = new WeakMap<ServiceContext['config'], DeliveryAgent>();
  const agentFor = (ctx: ServiceContext) => {
    let agent = agents.get(ctx.config);
    if (!agent) {
      agent = new DeliveryAgent(ctx.storage, deliveryConfig(ctx.config), ctx.log);
      agents.set(ctx.config, agent);
    }
    return agent;
  };
  const listeners = new Map<Server, Listener>();

  const define = (kind: Kind, limitsFor: (ctx: ServiceContext) => SmtpLimits): ServiceDefinition => ({
    name: kind,
    async start(ctx, port) {
      const instance = createSmtpServer(kind, ctx, limitsFor(ctx), agentFor(ctx));
      const s = await listen(instance, port, ctx.config.listen);
      listeners.set(s, { current: instance, instances: new Set([instance]) });
      return s;
    },
    // A new configuration or certificate: a new server instance (settings, policy,
    // agent, TLS context, all built from ctx) takes the connections accepted from
    // now on; open sessions finish on the instance that accepted them.
    reload(s, ctx) {
      const listener = listeners.get(s);
      if (!listener) return () => {};
      const next = createSmtpServer(kind, ctx, limitsFor(ctx), agentFor(ctx));
      return () => {
        for (const old of listener.instances) if (old !== listener.current && !old.hasClients()) listener.instances.delete(old);
        s.removeAllListeners('connection');
        // smtp-server's connection handler is the 'connection' listener of its own net.Server.
        s.on('connection', (socket: Socket) => next.server.emit('connection', socket));
        listener.current = next;
        listener.instances.add(next);
      };
    },
    async stop(s, drainMs) {
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      const instances = [...(listeners.get(s)?.instances ?? [])];
      await Promise.all(instances.map((instance) => instance.shutdown(drainMs)));
      await closed;
      listeners.delete(s);
    },
  });
  return [
    define('smtp', (ctx) => ({ ...MX_LIMITS, ...ctx.config.smtp.limits })),
    define('lmtp', () => LMTP_LIMITS),
  ];
}
