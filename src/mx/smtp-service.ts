// The MX-facing SMTP listener and the LMTP listener, on smtp-server. Both
// run the same pipeline: recipient policy at RCPT, then (MX only) sender
// authentication checks, then the delivery agent; the reply is sent only
// after every copy is durable.
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { Server, Socket } from 'node:net';
import { newQueueId } from '../queue-id.js';
import type { ServiceContext, ServiceDefinition } from '../server/postino-server.js';
import { DeliveryAgent, type RecipientOutcome } from '../delivery/agent.js';
import { RecipientPolicy, looksLikeRelayTrick, RELAY_DENIED } from './recipient-policy.js';
import { OWN_ENHANCED_CODE, replyError, reject, tempfail } from './verdict.js';
import { buildFailureDsn } from '../delivery/auto-replies.js';
import { SenderChecks } from './sender-checks.js';
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
}

/** smtp-server with the few hooks it lacks: pregreet check, our own enhanced codes, early relay-trick refusal. */
class PostinoSmtpServer extends SMTPServer {
  greetDelayMs = 0;
  connectionLimit = new ConnectionLimit(Infinity);
  private readonly passedPregreet = new Map<string, number>();

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
    const timer = setTimeout(() => {
      socket.off('data', onData);
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
    socket.once('close', () => clearTimeout(timer));
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
          let raw = read.raw;
          const trace = [receivedHeader(kind, session, config.hostname, id, recipients)];
          let junk = false;
          if (senderChecks) {
            const auth = await senderChecks.check({ raw, ip: session.remoteAddress, helo: session.hostNameAppearsAs || '', mailFrom: from });
            if (auth.refuse) return callback(replyError(auth.refuse));
            trace.push(...auth.headers);
            junk = auth.junk;
            raw = auth.raw;
          }
          const outcomes = await agent.deliver({
            id,
            raw,
            from,
            recipients,
            traceHeaders: trace,
            remoteIp: session.remoteAddress,
            rejectAtSmtp: kind === 'lmtp' || recipients.length === 1,
            junk,
            ...(session.clientHostname ? { remoteHost: session.clientHostname } : {}),
          });
          log.info({ event: 'message', service: kind, id, ip: session.remoteAddress, from, size: raw.length, outcomes: outcomes.map((o) => `${o.recipient}:${o.kind}`) });
          if (kind === 'lmtp') return callback(null, outcomes.map((o) => lmtpReply(o, id)) as unknown as string);
          callback(...smtpReply(outcomes, id, raw, from, config.hostname, storage.queue));
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

function lmtpReply(o: RecipientOutcome, id: string): string | Error {
  if (o.kind === 'delivered') return `2.0.0 <${o.recipient}> ${id} Saved`;
  return replyError({ kind: o.kind === 'tempfail' ? 'tempfail' : 'reject', code: o.code, enhanced: o.enhanced, text: o.text });
}

/** One SMTP reply for all recipients; recipients that failed for good get a bounce instead. */
function smtpReply(
  outcomes: RecipientOutcome[],
  id: string,
  raw: Buffer,
  from: string,
  hostname: string,
  queue: { enqueue(sender: string, recipients: string[], raw: Buffer, reason: string): unknown },
): [Error | null, string?] {
  const temp = outcomes.find((o) => o.kind === 'tempfail');
  // Any temporary failure: ask for the whole message again (a copy may then arrive twice, never zero times).
  if (temp && temp.kind !== 'delivered') return [replyError({ kind: 'tempfail', code: temp.code, enhanced: temp.enhanced, text: temp.text })];
  const rejected = outcomes.filter((o) => o.kind === 'reject');
  if (rejected.length === outcomes.length && rejected[0] && rejected[0].kind !== 'delivered') {
    const r = rejected[0];
    return [replyError({ kind: 'reject', code: r.code, enhanced: r.enhanced, text: r.text })];
  }
  for (const r of rejected) {
    if (r.kind === 'delivered' || from === '') continue;
    queue.enqueue('', [from], buildFailureDsn({ recipient: r.recipient, to: from, status: r.enhanced, diagnostic: `${r.code} ${r.enhanced} ${r.text}`, original: raw, hostname }), 'bounce');
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

export function smtpServices(): ServiceDefinition[] {
  let agent: DeliveryAgent | undefined;
  const running = new Map<Server, PostinoSmtpServer>();
  const start = async (server: PostinoSmtpServer, port: number, host: string) => {
    const s = await listen(server, port, host);
    running.set(s, server);
    return s;
  };
  // smtp-server's close() lets each session finish its transaction, then says 421.
  const stop = (s: Server) => new Promise<void>((resolve) => (running.get(s) ? running.get(s)!.close(() => resolve()) : s.close(() => resolve())));
  const agentFor = (ctx: ServiceContext) =>
    (agent ??= new DeliveryAgent(ctx.storage, deliveryConfig(ctx.config), ctx.log));
  return [
    {
      name: 'smtp',
      start: (ctx, port) => start(createSmtpServer('smtp', ctx, { ...MX_LIMITS, ...ctx.config.smtp.limits }, agentFor(ctx)), port, ctx.config.listen),
      stop,
    },
    {
      name: 'lmtp',
      start: (ctx, port) => start(createSmtpServer('lmtp', ctx, LMTP_LIMITS, agentFor(ctx)), port, ctx.config.listen),
      stop,
    },
  ];
}
