// RFC 9457 problem details for every error of the admin API, and the one
// mapping from Postino's errors to HTTP statuses. A 400 names the field
// the message is about (`errors[0].field`).
import type { Context } from 'hono';
import { MailError } from '../../../storage/errors.js';

export interface FieldMessage {
  field: string;
  message: string;
}

export interface Problem {
  /** `urn:postino:problem:CODE`, e.g. urn:postino:problem:csrf. */
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldMessage[];
}

/** A refusal decided by the HTTP layer itself (not logged in, not allowed, CSRF...). */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors?: FieldMessage[],
  ) {
    super(message);
  }
}

export const unauthorized = () => new ApiProblem(401, 'unauthorized', 'not logged in');
export const forbidden = (why = 'not allowed') => new ApiProblem(403, 'forbidden', why);

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

const STATUS_OF: Record<MailError['code'], [number, string]> = {
  BADINPUT: [400, 'bad-input'],
  WEAKPASSWORD: [400, 'weak-password'],
  LIMIT: [400, 'limit'],
  NONEXISTENT: [404, 'not-found'],
  ALREADYEXISTS: [409, 'exists'],
  REFUSED: [409, 'refused'],
  OVERQUOTA: [409, 'over-quota'],
  AUTHFAILED: [401, 'auth-failed'],
  DISABLED: [403, 'disabled'],
  THROTTLED: [429, 'throttled'],
  TEMPFAIL: [503, 'tempfail'],
  NOSPACE: [507, 'no-space'],
  INTERNAL: [500, 'internal'],
};

/** Which request field a service error is about (set by the route that made the call). */
const fields = new WeakMap<Error, string>();

/** Runs fn; an input error it throws is about `field`. */
export async function inField<T>(field: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Error && !fields.has(err)) fields.set(err, field);
    throw err;
  }
}

/** The problem for an error; undefined for one that is not for clients (a bug: logged, answered 500). */
export function problemOf(err: unknown, defaultField: string | undefined): Problem | undefined {
  if (err instanceof ApiProblem) {
    return { type: `urn:postino:problem:${err.code}`, title: TITLES[err.status] ?? 'Error', status: err.status, detail: err.message, ...(err.errors ? { errors: err.errors } : {}) };
  }
  if (err instanceof MailError && err.code !== 'INTERNAL') {
    const [status, code] = STATUS_OF[err.code];
    const problem: Problem = { type: `urn:postino:problem:${code}`, title: TITLES[status] ?? 'Error', status, detail: err.message };
    const field = fields.get(err) ?? defaultField;
    if (status === 400 && field !== undefined) problem.errors = [{ field, message: err.message }];
    return problem;
  }
  return undefined;
}

export function problemResponse(c: Context, p: Problem): Response {
  return c.body(JSON.stringify(p), p.status as 400, { 'content-type': 'application/problem+json' });
}
