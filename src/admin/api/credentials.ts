// The secrets the admin port hands out: API tokens and browser session
// cookies. Only a SHA-256 of a secret is stored (a secret is 256 random bits,
// so a slow hash buys nothing); the CSRF token of a session is derived from
// its secret, so it needs no storage and is known only to whoever holds the
// HttpOnly cookie's value, i.e. the server and the page it gave it to.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'postino_session';
/** A session ends after this long without a request... */
export const SESSION_IDLE_MS = 30 * 60 * 1000;
/** ...and this long after the login, however busy. */
export const SESSION_MAX_MS = 12 * 60 * 60 * 1000;

const SECRET = /^(?:pt|ps)_[A-Za-z0-9_-]{43}$/;

/** A new secret: "pt_" for API tokens, "ps_" for sessions, then 32 random bytes in base64url. */
export function newSecret(kind: 'token' | 'session'): string {
  return `${kind === 'token' ? 'pt' : 'ps'}_${randomBytes(32).toString('base64url')}`;
}

/** A public id for a credential (lists, revocation). */
export function newCredentialId(): string {
  return randomBytes(9).toString('base64url');
}

/** Whether text has the shape of a secret (checked before any lookup; bounds what a client can make us hash). */
export function looksLikeSecret(text: string): boolean {
  return SECRET.test(text);
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function csrfTokenFor(sessionSecret: string): string {
  return createHash('sha256').update('postino-csrf\0').update(sessionSecret, 'utf8').digest('base64url');
}

export function csrfTokenMatches(sessionSecret: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const expected = Buffer.from(csrfTokenFor(sessionSecret));
  const given = Buffer.from(presented);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** When a session used at `now` (made at `created`) expires: idle timeout, capped by the maximum age. */
export function sessionExpiry(created: number, now: number): number {
  return Math.min(now + SESSION_IDLE_MS, created + SESSION_MAX_MS);
}
