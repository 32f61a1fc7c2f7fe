// Operations: the outbound and local-retry queues (as `postino queue`), DKIM
// keys (as `postino dkim`), the DNS records to publish and `dns check`, and
// the audit log.
import { z } from 'zod';
import type { QueueStore } from '../../../storage/ports.js';
import { MailError } from '../../../storage/errors.js';
import { queueRow } from '../../services/queue-view.js';
import { audit } from '../../services/audit.js';
import { recordsToPublish } from '../../services/dns-publish.js';
import { checkDomainDns, isDomainName } from '../../services/dns-doctor.js';
import { createDnsResolver } from '../../net/dns.js';
import { defaultSelector, DkimKeyStore } from '../../outbound/dkim-keys.js';
import { normalizeDomain } from '../../addresses.js';
import type { AdminDeps } from '../app.js';
import { route } from './route.js';
import { actorOf } from './routes-auth.js';
import { managesDomain, domainOfInput, type Authenticated } from './principal.js';
import { forbidden, inField } from './problem.js';
import { mustManage } from './routes-directory.js';

/** The queue holding `id` and the entry (outbound first), as `postino queue` finds it. */
async function entryOf(deps: AdminDeps, auth: Authenticated | undefined, id: string): Promise<{ queue: QueueStore; local: boolean }> {
  for (const [queue, local] of [[deps.storage.queue, false], [deps.storage.localRetry, true]] as const) {
    const e = await queue.get(id);
    if (!e) continue;
    if (!managesDomain(auth!.principal, domainOfInput(e.sender) ?? '')) throw forbidden('the sender of this entry is not in your domains');
    return { queue, local };
  }
  throw new MailError('NONEXISTENT', `no such queue entry: ${id}`);
}

const dkimSchema = z.object({ selector: z.string(), type: z.string(), active: z.boolean(), record: z.string(), name: z.string(), value: z.string() });

async function localDomain(deps: AdminDeps, auth: Authenticated | undefined, input: string): Promise<string> {
  mustManage(auth, input);
  const domain = await inField('domain', () => normalizeDomain(input));
  if (!(await deps.storage.directory.hasDomain(domain))) throw new MailError('NONEXISTENT', `${domain} is not a local domain (add it with: postino domain add)`);
  return domain;
}

const queueAction = (verb: 'hold' | 'release', summary: string) =>
  route({
    method: 'POST',
    path: `/queue/{id}/${verb}`,
    summary,
    access: 'admin',
    response: z.object({ id: z.string() }),
    async run({ deps, auth, params }) {
      const { queue } = await entryOf(deps, auth, params.id!);
      await queue[verb](params.id!);
      await deps.storage.transaction((tx) => audit(tx, actorOf(auth), `queue.${verb}`, params.id!, null, null));
      return { id: params.id! };
    },
  });

export const opsRoutes = [
  route({
    method: 'GET',
    path: '/queue',
    summary: 'The queues, as `postino queue list --json` (a domain admin sees entries whose sender is in its domains)',
    access: 'admin',
    response: z.array(z.record(z.string(), z.unknown())),
    async run({ deps, auth }) {
      const now = Date.now();
      const rows = [
        ...(await deps.storage.queue.list()).map((e) => queueRow(e, 'outbound', now)),
        ...(await deps.storage.localRetry.list()).map((e) => queueRow(e, 'local', now)),
      ];
      return rows.filter((r) => managesDomain(auth!.principal, domainOfInput(r.sender) ?? ''));
    },
  }),
  route({
    method: 'POST',
    path: '/queue/flush',
    summary: 'Try every entry now (as `postino queue flush`: serve picks the request up within about a second)',
    access: 'superadmin',
    status: 204,
    async run({ deps, auth }) {
      await deps.storage.queue.requestFlush();
      await deps.storage.localRetry.requestFlush();
      await deps.storage.transaction((tx) => audit(tx, actorOf(auth), 'queue.flush', '*', null, null));
    },
  }),
  queueAction('hold', 'Put an entry on hold (as postsuper -h)'),
  queueAction('release', 'Release an entry from hold'),
  route({
    method: 'DELETE',
    path: '/queue/{id}',
    summary: 'Delete an entry',
    access: 'admin',
    status: 204,
    async run({ deps, auth, params }) {
      const { queue } = await entryOf(deps, auth, params.id!);
      const before = await queue.get(params.id!);
      await queue.remove(params.id!);
      await deps.storage.transaction((tx) =>
        audit(tx, actorOf(auth), 'queue.delete', params.id!, before ? { sender: before.sender, recipients: before.recipients, reason: before.reason } : null, null),
      );
    },
  }),

  route({
    method: 'GET',
    path: '/domains/{domain}/dkim',
    summary: "The domain's DKIM keys with the TXT record of each",
    access: 'admin',
    response: z.array(dkimSchema),
    async run({ deps, auth, params }) {
      const domain = await localDomain(deps, auth, params.domain!);
      return new DkimKeyStore(deps.dataDir).list(domain).map((k) => ({ selector: k.selector, type: k.type, active: k.active, record: k.record, name: k.name, value: k.value }));
    },
  }),
  route({
    method: 'POST',
    path: '/domains/{domain}/dkim',
    summary: 'Make a DKIM key (as `postino dkim keygen`); the first signs at once, a later one after `postino dkim activate`',
    access: 'admin',
    status: 201,
    field: 'selector',
    body: z.object({ selector: z.string().max(63).optional(), type: z.enum(['rsa', 'ed25519']).optional() }),
    response: dkimSchema,
    async run({ deps, auth, params, body }) {
      const domain = await localDomain(deps, auth, params.domain!);
      const keys = new DkimKeyStore(deps.dataDir);
      const selector = body.selector?.toLowerCase() ?? defaultSelector(new Date(), (s) => keys.hasKey(domain, s));
      const made = keys.generate(domain, selector, body.type ?? 'rsa');
      await deps.storage.transaction((tx) => audit(tx, actorOf(auth), 'dkim.keygen', `${selector}._domainkey.${domain}`, null, { selector, type: made.type, active: made.active }));
      return { selector: made.selector, type: made.type, active: made.active, record: made.record, name: made.name, value: made.value };
    },
  }),
  route({
    method: 'GET',
    path: '/domains/{domain}/dns',
    summary: 'The DNS records to publish for the domain (MX, SPF, DKIM, DMARC, autoconfig, SRV)',
    access: 'admin',
    response: z.array(z.object({ type: z.string(), name: z.string(), value: z.string(), purpose: z.string() })),
    async run({ deps, auth, params }) {
      const domain = await localDomain(deps, auth, params.domain!);
      return recordsToPublish(domain, deps.config().hostname, deps.dataDir);
    },
  }),
  route({
    method: 'GET',
    path: '/domains/{domain}/dns-check',
    summary: 'What DNS says about the domain, as `postino dns check --json`',
    access: 'admin',
    response: z.record(z.string(), z.unknown()),
    async run({ deps, auth, params }) {
      mustManage(auth, params.domain!);
      if (!isDomainName(params.domain!)) throw await inField('domain', () => new MailError('BADINPUT', `not a domain name: ${JSON.stringify(params.domain!.slice(0, 100))}`));
      const config = deps.config();
      const report = await checkDomainDns({
        domain: params.domain!,
        hostname: config.hostname,
        resolver: createDnsResolver(config.dns.servers),
        dataDir: deps.dataDir,
        ...(config.relay?.smarthost ? { smarthost: config.relay.smarthost.host } : {}),
      });
      return report;
    },
  }),

  route({
    method: 'GET',
    path: '/audit',
    summary: 'The audit log, newest first (a domain admin sees entries about its domains)',
    access: 'admin',
    query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100), before: z.coerce.number().int().min(1).optional() }),
    response: z.array(
      z.object({ id: z.number(), at: z.string(), actor: z.string(), action: z.string(), target: z.string(), before: z.unknown(), after: z.unknown() }),
    ),
    async run({ deps, auth, query }) {
      const { limit, before } = query as { limit: number; before?: number };
      const p = auth!.principal;
      const out = [];
      let cursor = before;
      // A domain admin's page is filtered from the whole log, read in slices.
      for (let round = 0; round < 50 && out.length < limit; round++) {
        const slice = await deps.storage.admin.listAudit(p.kind === 'superadmin' ? limit : 500, cursor);
        for (const e of slice) {
          const domain = e.target.includes('@') ? domainOfInput(e.target.split('/')[0]!) : e.target.split('/')[0]!.replace(/^[^.]*\._domainkey\./, '');
          if (p.kind === 'superadmin' || managesDomain(p, domain)) out.push(e);
          if (out.length >= limit) break;
        }
        if (slice.length === 0 || p.kind === 'superadmin') break;
        cursor = slice[slice.length - 1]!.id;
      }
      return out.map((e) => ({ ...e, at: new Date(e.at).toISOString(), before: e.before === null ? null : JSON.parse(e.before), after: e.after === null ? null : JSON.parse(e.after) }));
    },
  }),
];
