// Domains, accounts, aliases and an account's Sieve scripts, over the same
// services as the CLI (services/admin.ts) and ManageSieve
// (services/sieve-scripts.ts): the same rules, the same messages.
import { z } from 'zod';
import type { AccountRecord } from '../../../storage/ports.js';
import { MailError } from '../../../storage/errors.js';
import { validateScriptName } from '../../../storage/names.js';
import { AdminService } from '../../services/admin.js';
import { SieveScriptService } from '../../services/sieve-scripts.js';
import { audit } from '../../services/audit.js';
import { normalizeDomain, parseAddress, parseOwnedAddress, formatAddress } from '../../addresses.js';
import { checkPassword } from '../../auth/password-policy.js';
import type { AdminDeps } from '../app.js';
import { route } from './route.js';
import { actorOf } from './routes-auth.js';
import { domainOfInput, managesDomain, type Authenticated } from './principal.js';
import { forbidden, inField } from './problem.js';

export const accountSchema = z.object({
  address: z.string(),
  quota: z.number().nullable(),
  usage: z.number(),
  messages: z.number(),
  disabled: z.boolean(),
});
const scriptInfoSchema = z.object({ name: z.string(), active: z.boolean(), size: z.number() });
const aliasSchema = z.object({ address: z.string(), targets: z.array(z.string()) });
const quotaSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable();

/** 403 unless the admin asking manages the domain of this address (or this domain). */
export function mustManage(auth: Authenticated | undefined, domainOrAddress: string): void {
  const domain = domainOrAddress.includes('@') ? domainOfInput(domainOrAddress) : domainOrAddress.trim().replace(/\.$/, '').toLowerCase();
  if (!managesDomain(auth!.principal, domain)) throw forbidden(`${domain ?? domainOrAddress} is not one of your domains`);
}

export async function accountBody(deps: AdminDeps, a: AccountRecord): Promise<z.infer<typeof accountSchema>> {
  const q = await deps.storage.mail.quota(a.id);
  return { address: a.address, quota: a.quota, usage: q.usedBytes, messages: q.usedMessages, disabled: a.disabled };
}

const adminOf = (deps: AdminDeps, auth: Authenticated | undefined) => new AdminService(deps.storage, actorOf(auth));

export function scriptService(deps: AdminDeps, storage: Pick<AdminDeps['storage'], 'directory' | 'scripts' | 'transaction'> = deps.storage): SieveScriptService {
  const { maxScripts, maxScriptSize } = deps.config().sieve;
  return new SieveScriptService(storage, { maxScripts, maxScriptSize });
}

export async function scriptList(deps: AdminDeps, accountId: number): Promise<Array<z.infer<typeof scriptInfoSchema>>> {
  const out = [];
  for (const s of await deps.storage.scripts.list(accountId)) {
    out.push({ name: s.name, active: s.active, size: Buffer.byteLength(await deps.storage.scripts.get(accountId, s.name), 'utf8') });
  }
  return out;
}

async function existingDomain(deps: AdminDeps, input: string): Promise<string> {
  const domain = await inField('domain', () => normalizeDomain(input));
  if (!(await deps.storage.directory.hasDomain(domain))) throw new MailError('NONEXISTENT', `no such domain: ${domain}`);
  return domain;
}

export const directoryRoutes = [
  route({
    method: 'GET',
    path: '/domains',
    summary: 'Domains with their numbers of accounts and aliases (a domain admin sees its own)',
    access: 'admin',
    response: z.array(z.object({ domain: z.string(), accounts: z.number(), aliases: z.number() })),
    async run({ deps, auth }) {
      const accounts = await deps.storage.directory.listAccounts();
      const aliases = await deps.storage.directory.listAliases();
      const count = (addresses: string[], d: string) => addresses.filter((a) => a.slice(a.lastIndexOf('@') + 1) === d).length;
      return (await deps.storage.directory.listDomains())
        .filter((d) => managesDomain(auth!.principal, d.name))
        .map((d) => ({ domain: d.name, accounts: count(accounts.map((a) => a.address), d.name), aliases: count(aliases.map((a) => a.address), d.name) }));
    },
  }),
  route({
    method: 'POST',
    path: '/domains',
    summary: 'Add a domain with postmaster@ and abuse@ aliased to `postmaster` (with `password`: a new account there)',
    access: 'superadmin',
    status: 201,
    field: 'domain',
    body: z.object({ domain: z.string().max(253), postmaster: z.string().max(320), password: z.string().max(4096).optional() }),
    response: z.object({ domain: z.string(), postmaster: z.string() }),
    async run({ deps, auth, body }) {
      const domain = await inField('domain', () => normalizeDomain(body.domain));
      const p = await inField('postmaster', () => parseAddress(body.postmaster));
      const postmaster = formatAddress({ local: p.local.toLowerCase(), domain: p.domain });
      if (body.password !== undefined && p.domain === domain) await inField('password', () => checkPassword(body.password!, postmaster, false));
      await inField('domain', () =>
        adminOf(deps, auth).addDomain(body.domain, body.postmaster, body.password === undefined ? undefined : { password: body.password, allowWeak: false }),
      );
      return { domain, postmaster };
    },
  }),
  route({
    method: 'DELETE',
    path: '/domains/{domain}',
    summary: 'Remove a domain with its accounts (their files set aside) and aliases',
    access: 'superadmin',
    status: 204,
    field: 'domain',
    async run({ deps, auth, params }) {
      await adminOf(deps, auth).removeDomain(params.domain!);
    },
  }),
  route({
    method: 'GET',
    path: '/domains/{domain}/accounts',
    summary: 'The accounts of a domain with their usage',
    access: 'admin',
    response: z.array(accountSchema),
    async run({ deps, auth, params }) {
      mustManage(auth, params.domain!);
      const domain = await existingDomain(deps, params.domain!);
      const out = [];
      for (const a of await deps.storage.directory.listAccounts()) if (a.domain === domain) out.push(await accountBody(deps, a));
      return out;
    },
  }),
  route({
    method: 'GET',
    path: '/domains/{domain}/aliases',
    summary: 'The aliases of a domain',
    access: 'admin',
    response: z.array(aliasSchema),
    async run({ deps, auth, params }) {
      mustManage(auth, params.domain!);
      const domain = await existingDomain(deps, params.domain!);
      return (await deps.storage.directory.listAliases())
        .filter((a) => a.address.slice(a.address.lastIndexOf('@') + 1) === domain)
        .map((a) => ({ address: a.address, targets: a.targets }));
    },
  }),

  route({
    method: 'POST',
    path: '/accounts',
    summary: 'Add an account',
    access: 'admin',
    status: 201,
    field: 'address',
    body: z.object({ address: z.string().max(320), password: z.string().max(4096), quota: quotaSchema.optional() }),
    response: accountSchema,
    async run({ deps, auth, body }) {
      mustManage(auth, body.address);
      const address = formatAddress(await inField('address', () => parseOwnedAddress(body.address)));
      if (await deps.storage.directory.hasDomain(address.slice(address.lastIndexOf('@') + 1))) {
        if (!(await deps.storage.directory.getAccount(address)) && !(await deps.storage.directory.getAlias(address))) {
          await inField('password', () => checkPassword(body.password, address, false));
        }
      }
      const added = await adminOf(deps, auth).addUser({ address: body.address, password: body.password, quota: body.quota ?? null });
      return accountBody(deps, added.account);
    },
  }),
  route({
    method: 'GET',
    path: '/accounts/{address}',
    summary: 'An account with its usage',
    access: 'admin',
    field: 'address',
    response: accountSchema,
    async run({ deps, auth, params }) {
      mustManage(auth, params.address!);
      return accountBody(deps, await adminOf(deps, auth).account(params.address!));
    },
  }),
  route({
    method: 'PATCH',
    path: '/accounts/{address}',
    summary: 'Disable or enable an account, change its quota or password',
    access: 'admin',
    field: 'address',
    body: z.object({ disabled: z.boolean().optional(), quota: quotaSchema.optional(), password: z.string().max(4096).optional() }).strict(),
    response: accountSchema,
    async run({ deps, auth, params, body }) {
      mustManage(auth, params.address!);
      const admin = adminOf(deps, auth);
      const account = await admin.account(params.address!);
      if (body.password !== undefined) await inField('password', () => checkPassword(body.password!, account.address, false));
      if (body.password !== undefined) await admin.setPassword(account.address, body.password, false);
      if (body.quota !== undefined) await inField('quota', () => admin.setQuota(account.address, body.quota!));
      if (body.disabled !== undefined) await admin.setDisabled(account.address, body.disabled);
      return accountBody(deps, await admin.account(account.address));
    },
  }),
  route({
    method: 'DELETE',
    path: '/accounts/{address}',
    summary: 'Remove an account (its mail and scripts are set aside under DIR/removed/)',
    access: 'admin',
    status: 204,
    field: 'address',
    async run({ deps, auth, params }) {
      mustManage(auth, params.address!);
      await adminOf(deps, auth).removeUser(params.address!);
    },
  }),

  route({
    method: 'PUT',
    path: '/aliases/{address}',
    summary: 'Create an alias or replace its targets',
    access: 'admin',
    field: 'address',
    body: z.object({ targets: z.array(z.string().max(320)).max(1000) }),
    response: aliasSchema,
    async run({ deps, auth, params, body }) {
      mustManage(auth, params.address!);
      await inField('address', () => parseOwnedAddress(params.address!));
      if (body.targets.length === 0) await inField('targets', () => Promise.reject(new MailError('BADINPUT', 'an alias needs at least one target')));
      for (const [i, t] of body.targets.entries()) await inField(`targets.${i}`, () => parseAddress(t));
      return adminOf(deps, auth).setAlias(params.address!, body.targets);
    },
  }),
  route({
    method: 'DELETE',
    path: '/aliases/{address}',
    summary: 'Remove an alias (postmaster@ and abuse@ must keep a target)',
    access: 'admin',
    status: 204,
    field: 'address',
    async run({ deps, auth, params }) {
      mustManage(auth, params.address!);
      await adminOf(deps, auth).removeAlias(params.address!);
    },
  }),

  route({
    method: 'GET',
    path: '/accounts/{address}/scripts',
    summary: "An account's Sieve scripts",
    access: 'admin',
    field: 'address',
    response: z.array(scriptInfoSchema),
    async run({ deps, auth, params }) {
      mustManage(auth, params.address!);
      return scriptList(deps, (await scriptService(deps).account(params.address!)).id);
    },
  }),
  route({
    method: 'GET',
    path: '/accounts/{address}/scripts/{name}',
    summary: 'One Sieve script',
    access: 'admin',
    field: 'name',
    response: z.object({ name: z.string(), active: z.boolean(), script: z.string() }),
    async run({ deps, auth, params }) {
      mustManage(auth, params.address!);
      const svc = scriptService(deps);
      const account = await inField('address', () => svc.account(params.address!));
      const script = await svc.get(account, params.name!);
      const active = (await deps.storage.scripts.active(account.id))?.name === params.name;
      return { name: params.name!, active, script };
    },
  }),
  route({
    method: 'PUT',
    path: '/accounts/{address}/scripts/{name}',
    summary: 'Store a Sieve script (validated; a 400 names the line:col), activating it if asked',
    access: 'admin',
    field: 'script',
    body: z.object({ script: z.string(), activate: z.boolean().optional() }),
    response: z.object({ name: z.string(), active: z.boolean(), script: z.string() }),
    async run({ deps, auth, params, body }) {
      mustManage(auth, params.address!);
      const account = await inField('address', () => scriptService(deps).account(params.address!));
      const name = await inField('name', () => validateScriptName(params.name!));
      scriptService(deps).check(body.script); // outside the unit of work: compiling may take a while
      await deps.storage.transaction(async (tx) => {
        await scriptService(deps, { directory: tx.directory, scripts: tx.scripts, transaction: (b) => tx.transaction(b) }).put(account, name, body.script, body.activate === true);
        await audit(tx, actorOf(auth), 'script.put', `${account.address}/${name}`, null, { name, activate: body.activate === true, size: Buffer.byteLength(body.script) });
      });
      const active = (await deps.storage.scripts.active(account.id))?.name === name;
      return { name, active, script: body.script };
    },
  }),
  route({
    method: 'POST',
    path: '/accounts/{address}/scripts/{name}/activate',
    summary: 'Make a script the active one',
    access: 'admin',
    field: 'name',
    response: z.object({ name: z.string(), active: z.boolean() }),
    async run({ deps, auth, params }) {
      mustManage(auth, params.address!);
      const account = await inField('address', () => scriptService(deps).account(params.address!));
      const name = validateScriptName(params.name!);
      await deps.storage.transaction(async (tx) => {
        if (!(await tx.scripts.exists(account.id, name))) throw new MailError('NONEXISTENT', `no such script: ${name}`);
        const before = (await tx.scripts.active(account.id))?.name ?? null;
        await tx.scripts.activate(account.id, name);
        await audit(tx, actorOf(auth), 'script.activate', `${account.address}/${name}`, { active: before }, { active: name });
      });
      return { name, active: true };
    },
  }),
  route({
    method: 'DELETE',
    path: '/accounts/{address}/scripts/{name}',
    summary: 'Remove a script',
    access: 'admin',
    status: 204,
    field: 'name',
    async run({ deps, auth, params }) {
      mustManage(auth, params.address!);
      const account = await inField('address', () => scriptService(deps).account(params.address!));
      const name = validateScriptName(params.name!);
      await deps.storage.transaction(async (tx) => {
        await tx.scripts.remove(account.id, name);
        await audit(tx, actorOf(auth), 'script.remove', `${account.address}/${name}`, { name }, null);
      });
    },
  }),
];
