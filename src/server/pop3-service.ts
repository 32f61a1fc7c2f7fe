// The 'pop3' (STLS) and 'pop3s' (implicit TLS) services: a line listener
// with a POP3 session per connection over the store-backed POP3 backend.
import type { Server } from 'node:net';
import type { ServiceContext, ServiceDefinition } from './postino-server.js';
import { startLineListener, updateListenerTls } from './line-listener.js';
import { Pop3Session } from '../protocol/pop3/session.js';
import { StorePop3Backend } from '../services/pop3-backend.js';
import { authenticatorFor } from './shared-authenticator.js';
import { ConnectionLimit } from '../net/connection-limit.js';
import { firstListenAddress, type ListenAddress } from './listen-address.js';

/** Connections from one address (fetchers behind one NAT, a household). */
export const POP3_MAX_CONNECTIONS_PER_IP = 50;

// pop3 and pop3s share one backend (so one lock table: one session per
// account across both), one authenticator with every protocol, and one cap.
const backends = new WeakMap<object, StorePop3Backend>();
const connectionLimits = new WeakMap<object, ConnectionLimit>();

function backendFor(ctx: ServiceContext): StorePop3Backend {
  let b = backends.get(ctx.storage);
  if (!b) {
    b = new StorePop3Backend(ctx.storage.mail, authenticatorFor(ctx));
    backends.set(ctx.storage, b);
  }
  return b;
}

function connectionLimitFor(ctx: ServiceContext): ConnectionLimit {
  let limit = connectionLimits.get(ctx.storage);
  if (!limit) {
    limit = new ConnectionLimit(ctx.config.pop3.maxConnections);
    connectionLimits.set(ctx.storage, limit);
  }
  return limit;
}

export async function startPop3Listener(ctx: ServiceContext, port: number, implicitTls: boolean, address = firstListenAddress(ctx.config.listen)): Promise<Server> {
  const backend = backendFor(ctx);
  const log = (event: Record<string, unknown>) => {
    if (event.event === 'pop3-error') ctx.log.error(event);
    else ctx.log.debug(event);
  };
  return startLineListener({
    address,
    port,
    tls: { cert: ctx.tls.cert, key: ctx.tls.key },
    implicitTls,
    maxConnectionsPerIp: POP3_MAX_CONNECTIONS_PER_IP,
    tooManyMessage: Buffer.from('-ERR [SYS/TEMP] Too many connections from your address\r\n'),
    connectionLimit: connectionLimitFor(ctx),
    busyMessage: Buffer.from('-ERR [SYS/TEMP] Too many connections, try again later\r\n'),
    onConnection: (conn) => {
      const session = new Pop3Session(conn, backend, {
        hostname: ctx.config.hostname,
        // Read per connection: a reload changes it for new sessions.
        allowPlaintextAuth: ctx.config.pop3.allowPlaintextAuth,
        startTlsAvailable: !implicitTls,
        log,
      });
      session.start();
      return session;
    },
    onError: (err) => ctx.log.debug({ event: 'pop3-connection-error', err: String(err) }),
  });
}

function reloadPop3(server: Server, ctx: ServiceContext): () => void {
  return () => updateListenerTls(server, ctx.tls);
}

export const pop3Service: ServiceDefinition = {
  name: 'pop3',
  start: (ctx, port, address) => startPop3Listener(ctx, port, false, address),
  reload: reloadPop3,
};

export const pop3sService: ServiceDefinition = {
  name: 'pop3s',
  start: (ctx, port, address) => startPop3Listener(ctx, port, true, address),
  reload: reloadPop3,
};
