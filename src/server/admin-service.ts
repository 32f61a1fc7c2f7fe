// The 'admin' service: HTTPS on the admin port (the mail listeners' certificate),
// serving the admin app (API, panel, autoconfig, metrics). It binds to
// config.admin.listen, loopback unless configured otherwise.
import { createServer, type Server as HttpsServer } from 'node:https';
import type { Server } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { ServiceContext, ServiceDefinition } from './postino-server.js';
import { authenticatorFor } from './shared-authenticator.js';
import { buildAdminApp, type AdminDeps } from '../admin/app.js';
import { adminRouteModules } from '../admin/route-modules.js';
import type { ListenAddress } from './listen-address.js';

/** Request head and body limits and timeouts a browser or script never needs more of. */
const HEADERS_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 60_000;
const MAX_HEADER_SIZE = 16 * 1024;

// Reload replaces the context; requests read it through this holder.
const contexts = new WeakMap<Server, { ctx: ServiceContext }>();

async function startAdmin(ctx: ServiceContext, port: number, address: ListenAddress): Promise<Server> {
  const holder = { ctx };
  const deps: AdminDeps = {
    config: () => holder.ctx.config,
    storage: ctx.storage,
    log: ctx.log,
    authenticator: authenticatorFor(ctx),
    dataDir: ctx.dataDir,
    ...(ctx.metrics ? { metrics: ctx.metrics } : {}),
  };
  const app = buildAdminApp(deps, adminRouteModules);
  const server: HttpsServer = createServer(
    {
      cert: ctx.tls.cert,
      key: ctx.tls.key,
      maxHeaderSize: MAX_HEADER_SIZE,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
    },
    getRequestListener(app.fetch),
  );
  server.on('tlsClientError', (err) => ctx.log.debug({ event: 'admin-tls-error', err: String(err) }));
  contexts.set(server, holder);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: address.host, ipv6Only: address.ipv6Only }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

async function stopAdmin(server: Server, drainMs: number): Promise<void> {
  const https = server as HttpsServer;
  const closed = new Promise<void>((resolve) => https.close(() => resolve()));
  https.closeIdleConnections();
  const timer = setTimeout(() => https.closeAllConnections(), drainMs);
  await closed;
  clearTimeout(timer);
}

export const adminService: ServiceDefinition = {
  name: 'admin',
  hosts: (config) => config.admin.listen,
  start: startAdmin,
  stop: stopAdmin,
  reload(server, ctx) {
    return () => {
      (server as HttpsServer).setSecureContext({ cert: ctx.tls.cert, key: ctx.tls.key });
      const holder = contexts.get(server);
      if (holder) holder.ctx = ctx;
    };
  },
};
