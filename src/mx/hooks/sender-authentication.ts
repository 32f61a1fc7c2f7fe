// SPF, DKIM, DMARC (and ARC) for mail arriving at the MX, at the end of DATA:
// an Authentication-Results field for the message, forged ones claiming our
// name removed (RFC 8601 section 5), and for a DMARC p=reject failure a
// decision: refuse (when configured) or file into Junk. A check that fails
// (it should not) gives no verdict, so the chain answers 451: never deliver
// a message without its verdict.
import type { Config } from '../../config.js';
import { createDnsResolver, type DnsResolver } from '../../net/dns.js';
import type { HookOf } from '../chain.js';
import { checkSender, removeOwnAuthResults, VerdictCache } from '../sender-auth.js';
import { dmarcRejects } from '../smtp-reply.js';

/** Several DNS lookups, each bounded by the resolver's own timeout (5 s), SPF allowing ten of them. */
const SENDER_AUTHENTICATION_TIMEOUT_MS = 120_000;

export function senderAuthenticationHook(config: Config, resolver: DnsResolver = createDnsResolver(config.dns.servers)): HookOf<'data'> {
  const cache = new VerdictCache();
  return {
    name: 'sender-authentication',
    stage: 'data',
    timeoutMs: SENDER_AUTHENTICATION_TIMEOUT_MS,
    async run({ message, session, from }) {
      const r = await checkSender({ message, ip: session.remoteAddress, helo: session.helo, mailFrom: from, hostname: config.hostname, resolver, cache });
      if (r.dmarc.result === 'fail' && r.dmarc.policy === 'reject' && config.smtp.dmarcReject) return dmarcRejects(r.dmarc.domain);
      const failedPolicy = r.dmarc.result === 'fail' && (r.dmarc.policy === 'reject' || r.dmarc.policy === 'quarantine');
      return {
        kind: 'accept',
        headers: [r.header.replace(/\r?\n$/, '')],
        junk: failedPolicy,
        message: removeOwnAuthResults(message, config.hostname),
      };
    },
  };
}
