// One route of the admin API as data: method, path, who may call it, the zod
// schemas of its body, query and answer, and a handler returning data. The
// same table mounts the routes (validation, auth, CSRF, problem details) and
// makes the OpenAPI document, so the description cannot drift from them.
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { AdminDeps } from '../app.js';
import { ApiProblem, forbidden, problemOf, problemResponse, unauthorized, type FieldMessage } from './problem.js';
import { authenticate, clientIp, type Authenticated } from './principal.js';
import { csrfTokenMatches } from './credentials.js';

export const API_PREFIX = '/api/v1';

/**
 * Who may call: `public` anyone (login), `any` anyone logged in, `admin` a
 * superadmin or domain admin (the handler checks the domain), `superadmin`
 * only a superadmin, `user` only a mail account (self-service).
 */
export type Access = 'public' | 'any' | 'admin' | 'superadmin' | 'user';

export interface Call<B, Q> {
  c: Context;
  deps: AdminDeps;
  /** Undefined only on `public` routes. */
  auth: Authenticated | undefined;
  body: B;
  query: Q;
  /** Path parameters, URL-decoded. */
  params: Record<string, string>;
  ip: string | undefined;
}

export interface Route<B = unknown, Q = unknown> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** OpenAPI style, below /api/v1: '/accounts/{address}'. */
  path: string;
  summary: string;
  access: Access;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  /** The success answer's schema; absent for 204. */
  response?: z.ZodType;
  /** The success status (200 unless said). */
  status?: 200 | 201 | 204;
  /** The request field a service's input error is about unless the handler says otherwise. */
  field?: string;
  run(call: Call<B, Q>): Promise<unknown>;
}

/** Declares a route with its types inferred from its schemas. */
export function route<B = undefined, Q = undefined>(r: Route<B, Q>): Route {
  return r as unknown as Route;
}

function zodErrors(error: z.ZodError, prefix = ''): FieldMessage[] {
  return error.issues.map((i) => ({ field: prefix + i.path.map(String).join('.'), message: i.message }));
}

function badInput(errors: FieldMessage[]): ApiProblem {
  return new ApiProblem(400, 'bad-input', errors[0]?.message ?? 'bad input', errors);
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

async function readBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiProblem(400, 'bad-input', 'the body is not valid JSON', [{ field: '', message: 'the body is not valid JSON' }]);
  }
}

export function mountRoutes(app: Hono, deps: AdminDeps, routes: readonly Route[]): void {
  for (const r of routes) {
    const path = API_PREFIX + r.path.replace(/\{(\w+)\}/g, ':$1');
    app.on(r.method, path, async (c) => {
      try {
        let auth: Authenticated | undefined;
        if (r.access !== 'public') {
          auth = await authenticate(c, deps);
          if (!auth) throw unauthorized();
          const kind = auth.principal.kind;
          if (r.access === 'user' && kind !== 'user') throw forbidden('only a mail account can use this');
          if ((r.access === 'admin' || r.access === 'superadmin') && kind === 'user') throw forbidden('administrators only');
          if (r.access === 'superadmin' && kind !== 'superadmin') throw forbidden('superadmins only');
          if (auth.via === 'session' && !SAFE_METHODS.has(c.req.method) && !csrfTokenMatches(auth.secret, c.req.header('x-csrf-token'))) {
            throw new ApiProblem(403, 'csrf', 'the X-CSRF-Token header is missing or wrong');
          }
        }
        let body: unknown;
        if (r.body) {
          const parsed = r.body.safeParse(await readBody(c));
          if (!parsed.success) throw badInput(zodErrors(parsed.error));
          body = parsed.data;
        }
        let query: unknown;
        if (r.query) {
          const parsed = r.query.safeParse(c.req.query());
          if (!parsed.success) throw badInput(zodErrors(parsed.error));
          query = parsed.data;
        }
        const result = await r.run({ c, deps, auth, body, query, params: c.req.param() as Record<string, string>, ip: clientIp(c) });
        if (result instanceof Response) return result;
        const status = r.status ?? 200;
        if (status === 204) return c.body(null, 204);
        return c.json(result as object, status);
      } catch (err) {
        const problem = problemOf(err, r.field);
        if (!problem) throw err; // the app's onError logs it and answers 500
        return problemResponse(c, problem);
      }
    });
  }
}

// ---- OpenAPI 3.1 -----------------------------------------------------------------

function schemaOf(s: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const json = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

const PROBLEM = {
  description: 'RFC 9457 problem details',
  content: {
    'application/problem+json': {
      schema: {
        type: 'object',
        required: ['type', 'title', 'status'],
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer' },
          detail: { type: 'string' },
          errors: { type: 'array', items: { type: 'object', required: ['field', 'message'], properties: { field: { type: 'string' }, message: { type: 'string' } } } },
        },
      },
    },
  },
};

export function openApiDocument(routes: readonly Route[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const query: unknown[] = [];
    if (r.query) {
      const q = schemaOf(r.query, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) query.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema });
    }
    const status = String(r.status ?? 200);
    const responses: Record<string, unknown> = {
      [status]: r.response ? { description: 'success', content: { 'application/json': { schema: schemaOf(r.response, 'output') } } } : { description: 'success' },
      default: PROBLEM,
    };
    (paths[API_PREFIX + r.path] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      'x-access': r.access,
      ...(r.access === 'public' ? { security: [] } : {}),
      parameters: [...params, ...query],
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(r.body, 'input') } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Postino admin API', version: '1' },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'an API token (POST /api/v1/tokens)' },
        session: { type: 'apiKey', in: 'cookie', name: 'postino_session', description: 'a browser session; non-GET requests also need the X-CSRF-Token header' },
      },
    },
    security: [{ bearer: [] }, { session: [] }],
    paths,
  };
}
