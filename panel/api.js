// The panel's only way to the server: fetch on /api/v1 of the same origin,
// the session cookie sent by the browser, the CSRF token on every change.
let csrfToken = '';

export function setCsrfToken(token) {
  csrfToken = token ?? '';
}

/** A refusal from the API (RFC 9457 problem details). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    /** [{field, message}] when the API named the fields. */
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { title: text.slice(0, 200) };
  }
  if (!res.ok) throw new ApiError(res.status, data ?? {});
  return data;
}

/** Encodes an address or name for a path segment. */
export const seg = (value) => encodeURIComponent(value);
