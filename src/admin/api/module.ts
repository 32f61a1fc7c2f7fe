// The admin HTTP API (/api/v1): one route table (see route.ts) mounted on the
// admin app, bodies bounded, and its OpenAPI 3.1 description made from the
// same table. Hono: no dependencies, Web-standard Request/Response, a small
// router; the admin port (src/server/admin-service.ts) already serves it.
import { bodyLimit } from 'hono/body-limit';
import type { AdminRouteModule } from '../app.js';
import { API_PREFIX, mountRoutes, openApiDocument, type Route } from './route.js';
import { ApiProblem, problemOf, problemResponse } from './problem.js';
import { authRoutes } from './routes-auth.js';
import { directoryRoutes } from './routes-directory.js';
import { meRoutes } from './routes-me.js';
import { opsRoutes } from './routes-ops.js';

/** No request body of the API needs more (a Sieve script is bounded by config.sieve.maxScriptSize within it). */
export const MAX_BODY_BYTES = 1024 * 1024;

export const apiRoutes: readonly Route[] = [...authRoutes, ...directoryRoutes, ...meRoutes, ...opsRoutes];

export const adminApiModule: AdminRouteModule = {
  name: 'api',
  mount(app, deps) {
    app.use(
      `${API_PREFIX}/*`,
      bodyLimit({
        maxSize: MAX_BODY_BYTES,
        onError: (c) => problemResponse(c, problemOf(new ApiProblem(413, 'too-large', `the body is larger than ${MAX_BODY_BYTES} bytes`), undefined)!),
      }),
    );
    const document = openApiDocument(apiRoutes);
    app.get(`${API_PREFIX}/openapi.json`, (c) => c.json(document));
    mountRoutes(app, deps, apiRoutes);
  },
};
