// GET /metrics on the admin port: the server's registry in Prometheus's text
// format. The admin port listens on loopback by default, where a Prometheus
// scrape needs no credentials; with `metrics.token` set, a scrape must send it
// as a bearer token (Prometheus: `authorization: { credentials: ... }`).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AdminRouteModule } from '../app.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether the Authorization header carries the token (compared in constant time, whatever its length). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = header === undefined ? null : /^Bearer ([\x21-\x7e]{1,1024})$/i.exec(header);
  return m !== null && timingSafeEqual(digest(m[1]!), digest(token));
}

const problem = (status: number, title: string) => ({ type: 'about:blank', title, status });
const PROBLEM = { 'content-type': 'application/problem+json' };

export const metricsRoutes: AdminRouteModule = {
  name: 'metrics',
  mount(app, deps) {
    app.get('/metrics', async (c) => {
      const metrics = deps.metrics;
      if (!metrics) return c.json(problem(404, 'Not Found'), 404, PROBLEM);
      const token = deps.config().metrics.token;
      if (token !== undefined && !bearerMatches(c.req.header('authorization'), token)) {
        return c.json(problem(401, 'Unauthorized'), 401, { ...PROBLEM, 'www-authenticate': 'Bearer realm="postino metrics"' });
      }
      const body = await metrics.registry.metrics();
      return c.body(body, 200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
    });
    app.all('/metrics', (c) => c.json(problem(405, 'Method Not Allowed'), 405, { ...PROBLEM, allow: 'GET, HEAD' }));
  },
};
