// Who is asking: a request's credential (bearer token or session cookie)
// resolved to a principal, and logins. Every login, admin or user, goes
// through the authenticator shared with IMAP, POP3, ManageSieve and
// submission: one throttle per client address, one `auth-failed` log line.
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { CredentialRecord, PrincipalRef } from '../../../storage/ports.js';
import { dummyPasswordHash, verifyPassword } from '../../auth/password.js';
import type { AdminDeps } from '../app.js';
import { hashSecret, looksLikeSecret, SESSION_COOKIE, sessionExpiry } from './credentials.js';

export type Principal =
  | { kind: 'superadmin'; name: string }
  | { kind: 'domainadmin'; name: string; domains: string[] }
  | { kind: 'user'; name: string; accountId: number };

export interface Authenticated {
  principal: Principal;
  credential: CredentialRecord;
  /** The presented secret (a session's CSRF token is derived from it). */
  secret: string;
  via: 'token' | 'session';
}

/** Writes of lastUsed are spaced by this much: a script's burst of calls makes one write. */
const TOUCH_EVERY_MS = 60_000;

export function clientIp(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
}

/** The principal a credential names, if it still exists (a removed admin or a disabled account logs in no more). */
export async function principalOf(deps: AdminDeps, ref: PrincipalRef): Promise<Principal | undefined> {
  if (ref.kind === 'admin') {
    const admin = await deps.storage.admin.getAdmin(ref.name);
    if (!admin) return undefined;
    return admin.domains.length === 0 ? { kind: 'superadmin', name: admin.username } : { kind: 'domainadmin', name: admin.username, domains: admin.domains };
  }
  const account = await deps.storage.directory.getAccount(ref.name);
  if (!account || account.disabled) return undefined;
  return { kind: 'user', name: account.address, accountId: account.id };
}

/** The request's credential and principal, or undefined (no credential, unknown, expired, revoked). */
export async function authenticate(c: Context, deps: AdminDeps): Promise<Authenticated | undefined> {
  const header = c.req.header('authorization');
  let secret: string | undefined;
  let via: 'token' | 'session';
  if (header !== undefined) {
    const m = /^Bearer +(\S{1,200})$/i.exec(header);
    secret = m?.[1];
    via = 'token';
  } else {
    secret = getCookie(c, SESSION_COOKIE);
    via = 'session';
  }
  if (secret === undefined || !looksLikeSecret(secret)) return undefined;
  const credential = await deps.storage.admin.findCredential(hashSecret(secret));
  if (!credential || credential.kind !== via) return undefined;
  const now = Date.now();
  if (credential.expires !== null && credential.expires <= now) return undefined;
  const principal = await principalOf(deps, credential.principal);
  if (!principal) return undefined;
  if (via === 'session' || credential.lastUsed === null || now - credential.lastUsed >= TOUCH_EVERY_MS) {
    await deps.storage.admin.touchCredential(credential.id, now, via === 'session' ? sessionExpiry(credential.created, now) : undefined);
  }
  return { principal, credential, secret, via };
}

/**
 * Checks a login: a name with "@" is a mail account (the authenticator's
 * login, as IMAP's), any other an administrator (the same throttle and
 * failure log, checked against the admin's password hash).
 */
export async function login(deps: AdminDeps, username: string, password: string, ip: string | undefined): Promise<PrincipalRef> {
  const ctx = { ip, service: 'admin', mechanism: 'PLAIN' };
  if (username.includes('@')) {
    const account = await deps.authenticator.login(username, password, ctx);
    return { kind: 'user', name: account.address };
  }
  await deps.authenticator.penalty.beforeAttempt(ip);
  const name = username.trim().toLowerCase();
  const admin = name.length > 0 && name.length <= 64 ? await deps.storage.admin.getAdmin(name) : undefined;
  // Spend the same time whether or not the admin exists.
  const ok = await verifyPassword(password, admin?.passwordHash ?? (await dummyPasswordHash()));
  if (!admin || !ok) throw await deps.authenticator.fail(username, admin ? 'wrong password' : 'unknown user', ctx);
  return { kind: 'admin', name: admin.username };
}

/** The domain of an address given in a request, lower case; undefined when it has none (the service refuses it then). */
export function domainOfInput(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  return at < 0 ? undefined : address.slice(at + 1).trim().replace(/\.$/, '').toLowerCase();
}

export function isAdmin(p: Principal): p is Exclude<Principal, { kind: 'user' }> {
  return p.kind !== 'user';
}

/** Whether an admin may manage this domain: a superadmin every one, a domain admin its own. */
export function managesDomain(p: Principal, domain: string | undefined): boolean {
  if (p.kind === 'superadmin') return true;
  if (p.kind !== 'domainadmin') return false;
  return domain === undefined || p.domains.includes(domain.toLowerCase());
}
