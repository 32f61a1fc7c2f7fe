// The 'imap' (STARTTLS) and 'imaps' (implicit TLS) services: a line listener
// with an IMAP session per connection over the store-backed IMAP backend.
import type { Server } from 'node:net';
import type { ServiceContext, ServiceDefinition } from './postino-server.js';
import { startLineListener, updateListenerTls } from './line-listener.js';
import { ImapSession } from '../protocol/imap/session.js';
import { StoreImapBackend } from '../services/imap-backend.js';
import { authenticatorFor } from './shared-authenticator.js';
import { ConnectionLimit } from '../net/connection-limit.js';
import { firstListenAddress, type ListenAddress } from './listen-address.js';

/** Connections from one address; generous because mail clients open several per account. */
export const IMAP_MAX_CONNECTIONS_PER_IP = 100;

// imap and imaps share one backend (and, with every protocol, one authenticator)
// per storage, and one cap on open connections.
const backends = new WeakMap<object, StoreImapBackend>();
const connectionLimits = new WeakMap<object, ConnectionLimit>();

function connectionLimitFor(ctx: ServiceContext): ConnectionLimit {
  let limit = connectionLimits.get(ctx.storage);
  if (!limit) {
    limit = new ConnectionLimit(ctx.config.limits.maxConnections.imap);
    connectionLimits.set(ctx.storage, limit);
  }
  return limit;
}

function backendFor(ctx: ServiceContext): StoreImapBackend {
  let b = backends.get(ctx.storage);
  if (!b) {
    b = new StoreImapBackend({ mail: ctx.storage.mail }, authenticatorFor(ctx), ctx.config.limits.messageSize);
    backends.set(ctx.storage, b);
  }
  return b;
}

export interface ImapListenerOptions {
  implicitTls: boolean;
  maxConnectionsPerIp?: number;
  /** Tests only: allow LOGIN without TLS. */
  allowPlaintextAuth?: boolean;
  /** Default: the first of config.listen. */
  address?: ListenAddress;
}

export async function startImapListener(ctx: ServiceContext, port: number, options: ImapListenerOptions): Promise<Server> {
  const backend = backendFor(ctx);
  const log = (event: Record<string, unknown>) => {
    if (event.event === 'imap-error' || event.event === 'imap-session-error') ctx.log.error(event);
    else ctx.log.debug(event);
  };
  return startLineListener({
    address: options.address ?? firstListenAddress(ctx.config.listen),
    port,
    tls: { cert: ctx.tls.cert, key: ctx.tls.key },
    implicitTls: options.implicitTls,
    maxConnectionsPerIp: options.maxConnectionsPerIp ?? IMAP_MAX_CONNECTIONS_PER_IP,
    tooManyMessage: Buffer.from('* BYE [UNAVAILABLE] Too many connections from your address\r\n'),
    connectionLimit: connectionLimitFor(ctx),
    busyMessage: Buffer.from('* BYE [UNAVAILABLE] Too many connections, try again later\r\n'),
    onConnection: (conn) => {
      const session = new ImapSession(conn, backend, {
        hostname: ctx.config.hostname,
        allowPlaintextAuth: options.allowPlaintextAuth ?? false,
        startTlsAvailable: true,
        log,
      });
      session.start();
      return session;
    },
    onError: (err) => ctx.log.debug({ event: 'imap-connection-error', err: String(err) }),
  });
}

/** New connections get the new certificate and limit; ctx.config is read per connection already. */
function reloadImap(server: Server, ctx: ServiceContext): () => void {
  return () => {
    updateListenerTls(server, ctx.tls);
    backendFor(ctx).appendLimit = ctx.config.limits.messageSize;
  };
}

export const imapService: ServiceDefinition = {
  name: 'imap',
  start: (ctx, port, address) => startImapListener(ctx, port, { implicitTls: false, address }),
  reload: reloadImap,
};

export const imapsService: ServiceDefinition = {
  name: 'imaps',
  start: (ctx, port, address) => startImapListener(ctx, port, { implicitTls: true, address }),
  reload: reloadImap,
};
