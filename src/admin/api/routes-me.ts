// Self-service for a mail account: its usage, its password, its
// out-of-office reply (a Sieve script, services/vacation.ts), its filters.
import { z } from 'zod';
import { AdminService } from '../../services/admin.js';
import { VacationService } from '../../services/vacation.js';
import { checkPassword } from '../../auth/password-policy.js';
import { MailError } from '../../../storage/errors.js';
import type { AdminDeps } from '../app.js';
import { route } from './route.js';
import { ApiProblem, inField } from './problem.js';
import { scriptList } from './routes-directory.js';
import type { Authenticated } from './principal.js';

const vacationSchema = z.object({
  enabled: z.boolean(),
  subject: z.string().max(998),
  message: z.string().max(64 * 1024),
  days: z.number().int().min(1).max(365),
  from: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'not a date (YYYY-MM-DD)').optional(),
  until: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'not a date (YYYY-MM-DD)').optional(),
});

async function me(deps: AdminDeps, auth: Authenticated | undefined) {
  const account = await deps.storage.directory.getAccount(auth!.principal.name);
  if (!account) throw new MailError('NONEXISTENT', `no such account: ${auth!.principal.name}`);
  return account;
}

function vacations(deps: AdminDeps, auth: Authenticated | undefined): VacationService {
  const { maxScripts, maxScriptSize } = deps.config().sieve;
  return new VacationService(deps.storage, { maxScripts, maxScriptSize }, auth!.principal.name);
}

export const meRoutes = [
  route({
    method: 'GET',
    path: '/me',
    summary: 'The account logged in: address, quota, usage',
    access: 'user',
    response: z.object({ address: z.string(), quota: z.number().nullable(), usage: z.number(), messages: z.number() }),
    async run({ deps, auth }) {
      const account = await me(deps, auth);
      const q = await deps.storage.mail.quota(account.id);
      return { address: account.address, quota: account.quota, usage: q.usedBytes, messages: q.usedMessages };
    },
  }),
  route({
    method: 'POST',
    path: '/me/password',
    summary: 'Change the password (the current one is asked again)',
    access: 'user',
    status: 204,
    field: 'password',
    body: z.object({ current: z.string().max(4096), password: z.string().max(4096) }),
    async run({ deps, auth, body, ip }) {
      const account = await me(deps, auth);
      try {
        await deps.authenticator.login(account.address, body.current, { ip, service: 'admin', mechanism: 'PLAIN' });
      } catch (err) {
        if (err instanceof MailError && err.code === 'AUTHFAILED') throw new ApiProblem(400, 'bad-input', 'the current password is wrong', [{ field: 'current', message: 'the current password is wrong' }]);
        throw err;
      }
      await inField('password', () => checkPassword(body.password, account.address, false));
      await new AdminService(deps.storage, account.address).setPassword(account.address, body.password, false);
      // The change ended every session of the account; this one goes on.
      await deps.storage.admin.addCredential(auth!.credential);
    },
  }),
  route({
    method: 'GET',
    path: '/me/vacation',
    summary: 'The out-of-office reply',
    access: 'user',
    response: vacationSchema,
    async run({ deps, auth }) {
      return vacations(deps, auth).get((await me(deps, auth)).id);
    },
  }),
  route({
    method: 'PUT',
    path: '/me/vacation',
    summary: 'Set the out-of-office reply (a Sieve script named "vacation", active while enabled)',
    access: 'user',
    field: 'message',
    body: vacationSchema,
    response: vacationSchema,
    async run({ deps, auth, body }) {
      const account = await me(deps, auth);
      return vacations(deps, auth).set(account, body);
    },
  }),
  route({
    method: 'GET',
    path: '/me/scripts',
    summary: "The account's Sieve scripts (filters)",
    access: 'user',
    response: z.array(z.object({ name: z.string(), active: z.boolean(), size: z.number() })),
    async run({ deps, auth }) {
      return scriptList(deps, (await me(deps, auth)).id);
    },
  }),
];
