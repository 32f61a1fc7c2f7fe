// SPF, DKIM, DMARC (and ARC) for mail arriving at the MX, turned into an
// Authentication-Results field and, for DMARC p=reject failures, a policy
// decision: refuse (when configured) or deliver to Junk.
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { createDnsResolver, type DnsResolver } from '../net/dns.js';
import { checkSender, removeOwnAuthResults, VerdictCache } from './sender-auth.js';
import { reject, type Refusal } from './verdict.js';
import type { ParsedMessage } from '../../mime/index.js';

export interface SenderCheckOutcome {
  /** Header fields to add (no line ends). */
  headers: string[];
  /** Set when the message must be refused at the end of DATA. */
  refuse?: Refusal;
  /** DMARC says reject or quarantine and it failed: file into Junk. */
  junk: boolean;
  /** The message without forged Authentication-Results fields claiming our name (RFC 8601 section 5). */
  message: ParsedMessage;
}

export class SenderChecks {
  private readonly resolver: DnsResolver;
  private readonly verdicts = new VerdictCache();

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.resolver = createDnsResolver(config.dns.servers);
  }

  async check(input: { message: ParsedMessage; ip: string; helo: string; mailFrom: string }): Promise<SenderCheckOutcome> {
    try {
      const r = await checkSender({ ...input, hostname: this.config.hostname, resolver: this.resolver, cache: this.verdicts });
      const headers = [r.header.replace(/\r?\n$/, '')];
      const message = removeOwnAuthResults(input.message, this.config.hostname);
      const failedPolicy = r.dmarc.result === 'fail' && (r.dmarc.policy === 'reject' || r.dmarc.policy === 'quarantine');
      if (r.dmarc.result === 'fail' && r.dmarc.policy === 'reject' && this.config.smtp.dmarcReject) {
        return { headers, junk: false, message, refuse: reject(550, '5.7.1', `DMARC policy of ${r.dmarc.domain ?? 'the sender domain'} rejects this message`) };
      }
      return { headers, junk: failedPolicy, message };
    } catch (err) {
      // checkSender does not throw by contract; if it ever does, deliver without a verdict.
      this.log.error({ event: 'sender-checks-failed', err: (err as Error).message });
      return { headers: [], junk: false, message: removeOwnAuthResults(input.message, this.config.hostname) };
    }
  }
}
