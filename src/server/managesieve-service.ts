// The 'managesieve' service (RFC 5804, port 4190): a line listener with a
// ManageSieve session per connection over the script store; STARTTLS, then
// AUTHENTICATE with the shared SASL mechanisms and authenticator.
import type { Server } from 'node:net';
import type { ServiceContext, ServiceDefinition } from './postino-server.js';
import { startLineListener, updateListenerTls } from './line-listener.js';
import { ManageSieveSession } from '../protocol/managesieve/session.js';
import { StoreManageSieveBackend } from '../services/managesieve-backend.js';
import { authenticatorFor } from './shared-authenticator.js';
import { ConnectionLimit } from '../net/connection-limit.js';
import { firstListenAddress, type ListenAddress } from './listen-address.js';

/** Connections from one address (a webmail in front opens several). */
export const MANAGESIEVE_MAX_CONNECTIONS_PER_IP = 20;
/** All ManageSieve connections together: editing filters is rare. */
export const MANAGESIEVE_MAX_CONNECTIONS = 200;

const backends = new WeakMap<object, StoreManageSieveBackend>();

function quotasOf(ctx: ServiceContext) {
  return { maxScripts: ctx.config.sieve.maxScripts, maxScriptSize: ctx.config.sieve.maxScriptSize };
}

function backendFor(ctx: ServiceContext): StoreManageSieveBackend {
  let b = backends.get(ctx.storage);
  if (!b) {
    b = new StoreManageSieveBackend(ctx.storage, authenticatorFor(ctx), quotasOf(ctx));
    backends.set(ctx.storage, b);
  }
  return b;
}

export async function startManageSieveListener(ctx: ServiceContext, port: number, address: ListenAddress = firstListenAddress(ctx.config.listen)): Promise<Server> {
  const backend = backendFor(ctx);
  const log = (event: Record<string, unknown>) => {
    if (event.event === 'managesieve-error' || event.event === 'managesieve-session-error') ctx.log.error(event);
    else ctx.log.debug(event);
  };
  return startLineListener({
    address,
    port,
    tls: { cert: ctx.tls.cert, key: ctx.tls.key },
    implicitTls: false,
    maxConnectionsPerIp: MANAGESIEVE_MAX_CONNECTIONS_PER_IP,
    tooManyMessage: Buffer.from('BYE "Too many connections from your address"\r\n'),
    connectionLimit: new ConnectionLimit(MANAGESIEVE_MAX_CONNECTIONS),
    busyMessage: Buffer.from('BYE (TRYLATER) "Too many connections, try again later"\r\n'),
    onConnection: (conn) => {
      const session = new ManageSieveSession(conn, backend, { log });
      session.start();
      return session;
    },
    onError: (err) => ctx.log.debug({ event: 'managesieve-connection-error', err: String(err) }),
  });
}

export const manageSieveService: ServiceDefinition = {
  name: 'managesieve',
  start: (ctx, port, address) => startManageSieveListener(ctx, port, address),
  reload: (server, ctx) => () => {
    updateListenerTls(server, ctx.tls);
    backendFor(ctx).setQuotas(quotasOf(ctx));
  },
};
