// postino dkim keygen|activate|list: DKIM keys of the local domains
// (outbound/dkim-keys.ts). keygen prints the TXT record to publish; the
// first key of a domain signs at once, a later one after `activate`, which
// checks that its record is in the DNS first (rotation).
import type { CliCommand } from '../command.js';
import { stringOption } from '../command.js';
import { withStorage } from '../storage-context.js';
import { MailError } from '../../../storage/errors.js';
import { loadConfig } from '../../config.js';
import { createDnsResolver } from '../../net/dns.js';
import { defaultSelector, dkimRecordMatches, DkimKeyStore, type DkimKeyInfo, type DkimKeyType } from '../../outbound/dkim-keys.js';

function keyLine(k: DkimKeyInfo): string {
  const size = k.bits !== undefined ? `${k.type} ${k.bits}` : k.type;
  return `${k.domain} ${k.selector} ${size} ${k.active ? 'active' : 'inactive'} ${k.created}\n  ${k.record}`;
}

export const dkimCommands: CliCommand[] = [
  {
    words: ['dkim', 'keygen'],
    usage: 'DOMAIN [--selector S] [--type rsa|ed25519]',
    summary: 'Makes a DKIM key for DOMAIN and prints the DNS TXT record to publish; activate it once published.',
    options: {
      selector: { type: 'string', placeholder: 'S', description: 'the selector (default: one made from the date)' },
      type: { type: 'string', placeholder: 'rsa|ed25519', description: 'the key type (default: rsa)' },
    },
    minArgs: 1,
    maxArgs: 1,
    run: ([rawDomain], options, ctx) =>
      withStorage(ctx, async (storage) => {
        const domain = rawDomain!.toLowerCase();
        const type = stringOption(options, 'type') ?? 'rsa';
        if (type !== 'rsa' && type !== 'ed25519') throw new MailError('BADINPUT', `unknown key type ${JSON.stringify(type)} (rsa or ed25519)`);
        if (!(await storage.directory.hasDomain(domain))) throw new MailError('NONEXISTENT', `${domain} is not a local domain (add it with: postino domain add)`);
        const keys = new DkimKeyStore(ctx.dataDir);
        const selector = stringOption(options, 'selector')?.toLowerCase() ?? defaultSelector(new Date(), (s) => keys.hasKey(domain, s));
        const made = keys.generate(domain, selector, type as DkimKeyType);
        if (ctx.json) ctx.out(JSON.stringify(made));
        else ctx.out(made.record);
        if (!made.active) {
          ctx.err(`${domain} signs with ${keys.activeSelector(domain)} until you publish this record and run: postino dkim activate ${domain} ${selector}`);
        }
      }),
  },
  {
    words: ['dkim', 'activate'],
    usage: 'DOMAIN SELECTOR [--force]',
    summary: 'Signs mail from DOMAIN with this key from now on, once its TXT record is seen in DNS.',
    options: { force: { type: 'boolean', description: 'activate without checking that DNS publishes the key' } },
    minArgs: 2,
    maxArgs: 2,
    async run([rawDomain, rawSelector], options, ctx) {
      const domain = rawDomain!.toLowerCase();
      const selector = rawSelector!.toLowerCase();
      const keys = new DkimKeyStore(ctx.dataDir);
      const key = keys.info(domain, selector);
      if (options.force !== true) {
        const resolver = createDnsResolver(loadConfig(ctx.configPath).dns.servers, { cacheTtlMs: 0 });
        let published: string[];
        try {
          published = ((await resolver(key.name, 'TXT')) as string[][]).map((strings) => strings.join(''));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
          throw new MailError('REFUSED', `${key.name} does not resolve (${code}): publish ${key.record} first, or activate with --force`);
        }
        if (!published.some((txt) => dkimRecordMatches(txt, key.value))) {
          throw new MailError('REFUSED', `${key.name} does not carry this key: publish ${key.record} first, or activate with --force`);
        }
      }
      keys.activate(domain, selector);
      ctx.out(`${domain} now signs with ${selector} (a running server switches within 30 s)`);
    },
  },
  {
    words: ['dkim', 'list'],
    usage: '[DOMAIN] [--json]',
    summary: 'Lists the DKIM keys (of DOMAIN, or all), with the active one and their DNS records.',
    minArgs: 0,
    maxArgs: 1,
    async run([domain], _, ctx) {
      const rows = new DkimKeyStore(ctx.dataDir).list(domain?.toLowerCase());
      if (ctx.json) ctx.out(JSON.stringify(rows));
      else if (rows.length > 0) ctx.out(rows.map(keyLine).join('\n'));
    },
  },
];
