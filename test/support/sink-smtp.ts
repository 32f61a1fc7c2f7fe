// A sink SMTP (or LMTP) server for tests, on smtp-server: it stands in for a
// smarthost (STARTTLS or implicit TLS, AUTH required) or a recipient's MX,
// answers as scripted (per recipient and per attempt: "451 then 250"), and
// records what it received. Listens on 127.0.0.1, a free port; stop() ends it.
//
//   const sink = await startSink({ tls: 'starttls', requireTls: true, auth: { username: 'u', password: 'p' } });
//   const sink = await startSink({ rcptReplies: { 'grey@x.test': ['451 4.7.1 greylisted, try again later', '250'] } });
//   ... sink.messages, sink.connections, await sink.waitForMessages(3) ...
//   await sink.stop();
//
// Replies are written like on the wire: "550 5.1.1 no such user" (the code,
// then the text); "250" accepts. Each attempt at a recipient takes the next
// reply of its list; the last one repeats.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerAuthentication, type SMTPServerSession } from 'smtp-server';
import { loadTls } from '../../src/server/tls.js';

export interface SinkOptions {
  /** TLS offered: STARTTLS (default), implicit TLS from the first byte, or none (no STARTTLS advertised). */
  tls?: 'starttls' | 'implicit' | 'none';
  /** Refuse MAIL FROM before STARTTLS (530 5.7.0). */
  requireTls?: boolean;
  /** AUTH required with these credentials (only after TLS unless tls is 'none'). */
  auth?: { username: string; password: string };
  /** Scripted RCPT replies per recipient address (case-insensitive). */
  rcptReplies?: Record<string, string[]>;
  /** Scripted replies to MAIL FROM, per transaction. */
  mailReplies?: string[];
  /** Scripted replies at the end of DATA, per transaction. */
  dataReplies?: string[];
  /** Scripted greetings per connection: a non-2xx one is sent and the connection closed ("421 4.3.2 busy"). */
  connectReplies?: string[];
  /** Speak LMTP instead of SMTP (e.g. behind a scratch Postfix). */
  lmtp?: boolean;
  /** SIZE limit advertised (bytes). */
  size?: number;
  /** Name in the banner and EHLO reply. */
  hostname?: string;
  /** Address to listen on (default 127.0.0.1; another 127.x address lets two sinks share a port, as two MX hosts do). */
  listenHost?: string;
  /** Port (default 0: a free one). */
  port?: number;
  /** Highest TLS version offered: 'TLSv1.1' makes a server whose STARTTLS no current client can complete. */
  tlsMaxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
}

export interface SinkMessage {
  from: string;
  to: string[];
  raw: Buffer;
  /** The connection it came over (1, 2, ... in order of connection). */
  connection: number;
  secure: boolean;
  /** "TLSv1.3" when over TLS. */
  tlsProtocol: string | undefined;
  /** The authenticated user, if any. */
  user: string | undefined;
}

export interface Sink {
  host: string;
  port: number;
  /** The server's self-signed certificate (PEM; names localhost and 127.0.0.1), for a client's CA. */
  cert: Buffer;
  /** Messages accepted at the end of DATA, in order. */
  messages: SinkMessage[];
  /** Connections accepted so far. */
  readonly connections: number;
  /** The most connections that were open at once. */
  readonly maxConcurrent: number;
  /** AUTH attempts refused. */
  readonly authFailures: number;
  /** Every RCPT seen, with the reply it got ("a@x 451"). */
  rcptLog: string[];
  /** Resolves once `count` messages were accepted; rejects after timeoutMs. */
  waitForMessages(count: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

let certificate: { cert: Buffer; key: Buffer } | undefined;

/** One self-signed certificate per test process (openssl via the server's own TLS code). */
export function sinkCertificate(): { cert: Buffer; key: Buffer } {
  if (!certificate) {
    const dir = mkdtempSync(path.join(tmpdir(), 'postino-sink-tls-'));
    try {
      const made = loadTls(dir, 'localhost', undefined);
      certificate = { cert: made.cert, key: made.key };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return certificate;
}

/** An Error smtp-server turns into the scripted reply. */
function replyError(reply: string): Error & { responseCode: number } {
  const m = /^(\d{3})(?:[ -](.*))?$/s.exec(reply.trim());
  const err = new Error(m?.[2] ?? reply) as Error & { responseCode: number };
  err.responseCode = m ? Number(m[1]) : 451;
  return err;
}

function isAccept(reply: string | undefined): boolean {
  return reply === undefined || /^2/.test(reply);
}

/** Takes the next scripted reply (the last repeats). */
function next(list: string[] | undefined, counter: Map<string, number>, key: string): string | undefined {
  if (!list || list.length === 0) return undefined;
  const n = counter.get(key) ?? 0;
  counter.set(key, n + 1);
  return list[Math.min(n, list.length - 1)];
}

export async function startSink(options: SinkOptions = {}): Promise<Sink> {
  const tls = options.tls ?? 'starttls';
  const { cert, key } = sinkCertificate();
  const rcptScripts = new Map<string, string[]>();
  for (const [addr, list] of Object.entries(options.rcptReplies ?? {})) rcptScripts.set(addr.toLowerCase(), list);
  const counters = new Map<string, number>();
  const messages: SinkMessage[] = [];
  const rcptLog: string[] = [];
  const waiters: Array<() => void> = [];
  const connectionOf = new Map<string, number>();
  let connections = 0;
  let open = 0;
  let maxConcurrent = 0;
  let authFailures = 0;

  const disabled: string[] = [];
  if (tls === 'none') disabled.push('STARTTLS');
  if (!options.auth) disabled.push('AUTH');

  const server = new SMTPServer({
    secure: tls === 'implicit',
    key,
    cert,
    name: options.hostname ?? 'sink.test',
    banner: 'sink ready',
    lmtp: options.lmtp ?? false,
    logger: false,
    disabledCommands: disabled,
    hideSTARTTLS: tls === 'none',
    authOptional: !options.auth,
    allowInsecureAuth: tls === 'none',
    authMethods: ['PLAIN', 'LOGIN'],
    ...(options.size ? { size: options.size } : {}),
    ...(options.tlsMaxVersion ? { minVersion: 'TLSv1' as const, maxVersion: options.tlsMaxVersion } : {}),
    socketTimeout: 30_000,
    closeTimeout: 200,
    onConnect(session: SMTPServerSession, callback: (err?: Error) => void) {
      connections++;
      open++;
      maxConcurrent = Math.max(maxConcurrent, open);
      connectionOf.set(session.id, connections);
      const reply = next(options.connectReplies, counters, ' connect');
      callback(isAccept(reply) ? undefined : replyError(reply as string));
    },
    onClose() {
      open = Math.max(0, open - 1);
    },
    onAuth(auth: SMTPServerAuthentication, _session: SMTPServerSession, callback) {
      const want = options.auth;
      if (want && auth.username === want.username && auth.password === want.password) {
        callback(null, { user: auth.username });
        return;
      }
      authFailures++;
      callback(replyError('535 5.7.8 authentication credentials invalid'));
    },
    onMailFrom(_address, session: SMTPServerSession, callback) {
      if (options.requireTls && !session.secure) {
        callback(replyError('530 5.7.0 must issue a STARTTLS command first'));
        return;
      }
      const reply = next(options.mailReplies, counters, ' mail');
      callback(isAccept(reply) ? undefined : replyError(reply as string));
    },
    onRcptTo(address, _session: SMTPServerSession, callback) {
      const addr = address.address.toLowerCase();
      const reply = next(rcptScripts.get(addr), counters, `rcpt ${addr}`);
      rcptLog.push(`${address.address} ${reply?.slice(0, 3) ?? '250'}`);
      callback(isAccept(reply) ? undefined : replyError(reply as string));
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const reply = next(options.dataReplies, counters, ' data');
        if (!isAccept(reply)) {
          callback(replyError(reply as string));
          return;
        }
        const cipher = session.tlsOptions as { version?: string } | false | undefined;
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          connection: connectionOf.get(session.id) ?? 0,
          secure: session.secure,
          tlsProtocol: cipher ? cipher.version : undefined,
          user: typeof session.user === 'string' ? session.user : undefined,
        });
        for (const wake of waiters.splice(0)) wake();
        // smtp-server answers "250 " + the text given here.
        const text = reply ? /^2\d\d[ -](.+)$/s.exec(reply)?.[1] : undefined;
        if (text) callback(null, text);
        else callback();
      });
    },
  });
  server.on('error', () => {
    // a client that vanished mid-session: the session is over, the sink goes on
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.listenHost ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.server.address() as AddressInfo).port;
  let stopped = false;

  return {
    host: options.listenHost ?? '127.0.0.1',
    port,
    cert,
    messages,
    get connections() {
      return connections;
    },
    get maxConcurrent() {
      return maxConcurrent;
    },
    get authFailures() {
      return authFailures;
    },
    rcptLog,
    async waitForMessages(count: number, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`sink: ${messages.length} of ${count} messages after ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(remaining, 500));
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
