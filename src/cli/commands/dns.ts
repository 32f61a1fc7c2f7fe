// postino dns check D [--json] [--address IP]: what DNS says about D against
// this server (MX, SPF, DKIM, DMARC, PTR) and what to publish. Exit 0 when all
// is right (warnings allowed), 2 when something is missing or wrong, 75 when
// DNS failed temporarily and nothing was found wrong.
import { isIP } from 'node:net';
import type { CliCommand } from '../command.js';
import { listOption } from '../command.js';
import { loadConfig } from '../../config.js';
import { createDnsResolver } from '../../net/dns.js';
import { checkDomainDns, exitCodeOf, formatReport, isDomainName } from '../../services/dns-doctor.js';
import { MailError } from '../../../storage/errors.js';

/**
 * The listen address, when it is this server's public one: not a wildcard,
 * loopback, private (RFC 1918, ULA) or link-local address, which sit behind NAT.
 */
function publicListenAddress(listen: string): string | undefined {
  const ip = listen.trim();
  if (isIP(ip) === 4) {
    const [a = 0, b = 0] = ip.split('.').map(Number);
    const local = a === 0 || a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
    return local ? undefined : ip;
  }
  if (isIP(ip) === 6) {
    const lower = ip.toLowerCase();
    const local = lower === '::' || lower === '::1' || /^f[cd]/.test(lower) || /^fe[89ab]/.test(lower);
    return local ? undefined : ip;
  }
  return undefined;
}

export const dnsCommands: CliCommand[] = [
  {
    words: ['dns', 'check'],
    usage: 'D [--json] [--address IP ...]',
    summary: 'Checks MX, SPF, DKIM, DMARC and reverse DNS for domain D against this server and says what to publish; exit 0 only when all is right.',
    options: {
      address: { type: 'string', multiple: true, placeholder: 'IP', description: 'a public address of this server (default: the public one in "listen")' },
    },
    minArgs: 1,
    maxArgs: 1,
    async run([domain], options, ctx) {
      if (!isDomainName(domain!)) throw new MailError('BADINPUT', `not a domain name: ${JSON.stringify(domain!.slice(0, 100))}`);
      const addresses = listOption(options, 'address');
      const bad = addresses.find((a) => isIP(a) === 0);
      if (bad !== undefined) throw new MailError('BADINPUT', `--address: not an IP address: ${JSON.stringify(bad.slice(0, 100))}`);
      const config = loadConfig(ctx.configPath);
      const listenIp = config.listen.map(publicListenAddress).find((ip) => ip !== undefined);
      const report = await checkDomainDns({
        domain: domain!,
        hostname: config.hostname,
        resolver: createDnsResolver(config.dns.servers),
        dataDir: ctx.dataDir,
        ...(addresses.length > 0 ? { addresses } : listenIp ? { addresses: [listenIp] } : {}),
        ...(config.relay?.smarthost ? { smarthost: config.relay.smarthost.host } : {}),
        clientPorts: config.ports,
      });
      ctx.out(ctx.json ? JSON.stringify(report) : formatReport(report));
      return exitCodeOf(report);
    },
  },
];
