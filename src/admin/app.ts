// The admin port's HTTP application: one Hono app that the admin service
// serves over TLS. Each part (API, web panel, autoconfig, metrics) mounts its
// own routes from a module listed in route-modules.ts, so they grow apart.
import { Hono } from 'hono';
import type { Storage } from '../../storage/ports.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { PrometheusMetrics } from './metrics/prometheus.js';

/** What every route module may use; `config()` is read per request (a reload replaces it). */
export interface AdminDeps {
  config(): Config;
  storage: Storage;
  log: Logger;
  /** The authenticator shared with IMAP, POP3, ManageSieve and submission (one throttle, one failure log). */
  authenticator: Authenticator;
  /** The data directory `serve` runs on. */
  dataDir: string;
  /** The server's metrics registry (absent outside serve). */
  metrics?: PrometheusMetrics;
}

/** One part of the admin port, mounting its routes on the app. */
export interface AdminRouteModule {
  name: string;
  mount(app: Hono, deps: AdminDeps): void;
}

export function buildAdminApp(deps: AdminDeps, modules: readonly AdminRouteModule[]): Hono {
  const app = new Hono();
  for (const module of modules) module.mount(app, deps);
  app.notFound((c) => c.json({ type: 'about:blank', title: 'Not Found', status: 404 }, 404, { 'content-type': 'application/problem+json' }));
  app.onError((err, c) => {
    deps.log.error({ event: 'admin-http-error', path: c.req.path, err: String(err) });
    return c.json({ type: 'about:blank', title: 'Internal Server Error', status: 500 }, 500, { 'content-type': 'application/problem+json' });
  });
  return app;
}
