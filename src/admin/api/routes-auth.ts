// Sessions (browser logins), API tokens and administrator accounts.
import { z } from 'zod';
import { setCookie, deleteCookie } from 'hono/cookie';
import type { CredentialRecord } from '../../../storage/ports.js';
import { AdminAccountService, adminInfo, validateAdminName } from '../../services/admin-accounts.js';
import { normalizeDomain } from '../../addresses.js';
import { checkPassword } from '../../auth/password-policy.js';
import { audit } from '../../services/audit.js';
import { MailError } from '../../../storage/errors.js';
import { route } from './route.js';
import { csrfTokenFor, hashSecret, newCredentialId, newSecret, SESSION_COOKIE, SESSION_MAX_MS, sessionExpiry } from './credentials.js';
import { login, principalOf, type Authenticated, type Principal } from './principal.js';
import { ApiProblem, inField, unauthorized } from './problem.js';

export const principalSchema = z.object({
  kind: z.enum(['superadmin', 'domainadmin', 'user']),
  name: z.string(),
  domains: z.array(z.string()).optional(),
});

const sessionSchema = z.object({ principal: principalSchema, csrfToken: z.string().nullable() });

function principalBody(p: Principal): z.infer<typeof principalSchema> {
  return p.kind === 'domainadmin' ? { kind: p.kind, name: p.name, domains: p.domains } : { kind: p.kind, name: p.name };
}

export function actorOf(auth: Authenticated | undefined): string {
  return auth?.principal.name ?? 'anonymous';
}

const adminSchema = z.object({ username: z.string(), kind: z.enum(['superadmin', 'domainadmin']), domains: z.array(z.string()), created: z.string() });
const tokenSchema = z.object({ id: z.string(), name: z.string(), created: z.string(), lastUsed: z.string().nullable() });
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const authRoutes = [
  route({
    method: 'POST',
    path: '/session',
    summary: 'Log in (an admin by name, a mail user by address); sets the session cookie',
    access: 'public',
    body: z.object({ username: z.string().min(1).max(320), password: z.string().min(1).max(1024) }),
    response: sessionSchema,
    async run({ c, deps, body, ip }) {
      let ref;
      try {
        ref = await login(deps, body.username, body.password, ip);
      } catch (err) {
        if (err instanceof MailError && err.code === 'AUTHFAILED') throw new ApiProblem(401, 'auth-failed', 'authentication failed');
        throw err;
      }
      const principal = await principalOf(deps, ref);
      if (!principal) throw unauthorized();
      const secret = newSecret('session');
      const now = Date.now();
      await deps.storage.admin.pruneCredentials(now);
      await deps.storage.admin.addCredential({
        id: newCredentialId(),
        kind: 'session',
        name: 'browser',
        hash: hashSecret(secret),
        principal: ref,
        created: now,
        lastUsed: now,
        expires: sessionExpiry(now, now),
      });
      setCookie(c, SESSION_COOKIE, secret, { secure: true, httpOnly: true, sameSite: 'Strict', path: '/', maxAge: SESSION_MAX_MS / 1000 });
      return { principal: principalBody(principal), csrfToken: csrfTokenFor(secret) };
    },
  }),
  route({
    method: 'GET',
    path: '/session',
    summary: 'Who is logged in (and the CSRF token of a browser session)',
    access: 'any',
    response: sessionSchema,
    async run({ auth }) {
      return { principal: principalBody(auth!.principal), csrfToken: auth!.via === 'session' ? csrfTokenFor(auth!.secret) : null };
    },
  }),
  route({
    method: 'DELETE',
    path: '/session',
    summary: 'Log out',
    access: 'any',
    status: 204,
    async run({ c, deps, auth }) {
      if (auth!.via === 'session') await deps.storage.admin.removeCredential(auth!.credential.id).catch(() => {});
      deleteCookie(c, SESSION_COOKIE, { secure: true, httpOnly: true, sameSite: 'Strict', path: '/' });
    },
  }),

  route({
    method: 'GET',
    path: '/tokens',
    summary: 'The API tokens of the admin asking',
    access: 'admin',
    response: z.array(tokenSchema),
    async run({ deps, auth }) {
      const tokens = await deps.storage.admin.listCredentials({ kind: 'admin', name: auth!.principal.name }, 'token');
      return tokens.map((t) => ({ id: t.id, name: t.name, created: iso(t.created)!, lastUsed: iso(t.lastUsed) }));
    },
  }),
  route({
    method: 'POST',
    path: '/tokens',
    summary: 'Make an API token acting as the admin asking; the token is shown only in this answer',
    access: 'admin',
    status: 201,
    body: z.object({ name: z.string().trim().min(1).max(100) }),
    response: z.object({ id: z.string(), name: z.string(), token: z.string() }),
    async run({ deps, auth, body }) {
      const secret = newSecret('token');
      const now = Date.now();
      const record: CredentialRecord = {
        id: newCredentialId(),
        kind: 'token',
        name: body.name,
        hash: hashSecret(secret),
        principal: { kind: 'admin', name: auth!.principal.name },
        created: now,
        lastUsed: null,
        expires: null,
      };
      await deps.storage.transaction(async (tx) => {
        await tx.admin.addCredential(record);
        await audit(tx, actorOf(auth), 'token.add', record.id, null, { id: record.id, name: record.name });
      });
      return { id: record.id, name: record.name, token: secret };
    },
  }),
  route({
    method: 'DELETE',
    path: '/tokens/{id}',
    summary: 'Revoke an API token (of the admin asking); it stops working at once',
    access: 'admin',
    status: 204,
    async run({ deps, auth, params }) {
      const mine = await deps.storage.admin.listCredentials({ kind: 'admin', name: auth!.principal.name }, 'token');
      const token = mine.find((t) => t.id === params.id);
      if (!token) throw new MailError('NONEXISTENT', `no such token: ${params.id}`);
      await deps.storage.transaction(async (tx) => {
        await tx.admin.removeCredential(token.id);
        await audit(tx, actorOf(auth), 'token.remove', token.id, { id: token.id, name: token.name }, null);
      });
    },
  }),

  route({
    method: 'GET',
    path: '/admins',
    summary: 'Administrators',
    access: 'superadmin',
    response: z.array(adminSchema),
    async run({ deps }) {
      return (await deps.storage.admin.listAdmins()).map(adminInfo);
    },
  }),
  route({
    method: 'POST',
    path: '/admins',
    summary: 'Add an administrator (no domains: a superadmin)',
    access: 'superadmin',
    status: 201,
    field: 'username',
    body: z.object({ username: z.string().max(320), password: z.string().max(4096), domains: z.array(z.string().max(253)).max(1000).optional() }),
    response: adminSchema,
    async run({ deps, auth, body }) {
      // The service's own checks, run first to say which field a message is about.
      const name = await inField('username', () => validateAdminName(body.username));
      const domains = body.domains ?? [];
      for (const [i, d] of domains.entries()) await inField(`domains.${i}`, () => normalizeDomain(d));
      await inField('password', () => checkPassword(body.password, `${name}@admin`, false));
      return new AdminAccountService(deps.storage, actorOf(auth)).add(body.username, body.password, domains);
    },
  }),
  route({
    method: 'DELETE',
    path: '/admins/{username}',
    summary: 'Remove an administrator with its tokens and sessions',
    access: 'superadmin',
    status: 204,
    async run({ deps, auth, params }) {
      await new AdminAccountService(deps.storage, actorOf(auth)).remove(params.username!);
    },
  }),
];
