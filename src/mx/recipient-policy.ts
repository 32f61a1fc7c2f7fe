// Anti-relay, the first duty of an MX: RCPT TO is accepted only for a
// local domain's account, alias or subaddress of one; anything else from an
// unauthenticated session is relaying and is refused, whatever MAIL FROM says.
import type { Directory } from '../../storage/ports.js';
import type { MailStore } from '../../storage/ports.js';
import { isMailError } from '../../storage/errors.js';
import { AliasResolver } from '../delivery/alias-resolver.js';
import { ACCEPT, reject, tempfail, type Verdict } from './verdict.js';

export const RELAY_DENIED = reject(554, '5.7.1', 'Relay access denied');

/**
 * Address forms that route mail onwards rather than name a mailbox here:
 * source routes, the percent hack, bang paths, quoted local parts holding
 * "@". Refused as relaying even when the last domain is ours.
 */
export function looksLikeRelayTrick(rawPath: string): boolean {
  const path = rawPath.trim().replace(/^<|>$/g, '');
  if (path.startsWith('@')) return true;
  if (path.includes('"') || path.includes('\\')) return true;
  const at = path.lastIndexOf('@');
  const local = at < 0 ? path : path.slice(0, at);
  return /[%!@:]/.test(local);
}

export interface RecipientPolicyOptions {
  overQuota: 'tempfail' | 'reject';
}

export class RecipientPolicy {
  private readonly aliases: AliasResolver;

  constructor(
    private readonly directory: Directory,
    private readonly mail: MailStore,
    private readonly options: RecipientPolicyOptions,
  ) {
    this.aliases = new AliasResolver(directory);
  }

  /** RFC 5321 4.1.1.3: the bare <postmaster> must be accepted; it means postmaster@ our primary domain. */
  bareAddressPostmaster(hostname: string): string | undefined {
    const domains = this.directory.listDomains().map((d) => d.name);
    const own = domains.find((d) => hostname === d || hostname.endsWith(`.${d}`));
    const domain = own ?? domains[0];
    return domain ? `postmaster@${domain}` : undefined;
  }

  check(address: string, authenticated: boolean): Verdict {
    if (looksLikeRelayTrick(address)) return RELAY_DENIED;
    const at = address.lastIndexOf('@');
    if (at <= 0) return reject(550, '5.1.3', 'Bad recipient address syntax');
    const domain = address.slice(at + 1).toLowerCase();
    if (!this.aliases.isLocalDomain(domain)) return authenticated ? ACCEPT : RELAY_DENIED;
    let expansion;
    try {
      expansion = this.aliases.expand(address);
    } catch (err) {
      if (isMailError(err, 'NONEXISTENT')) return reject(550, '5.1.1', 'User unknown in local recipient table');
      if (isMailError(err) && err.smtpCode && err.enhanced) return reject(err.smtpCode, err.enhanced, err.message);
      return tempfail(451, '4.3.0', 'Temporary lookup failure');
    }
    // A recipient whose only mailbox is already full: say so now, not after DATA.
    if (expansion.remote.length === 0 && expansion.local.length === 1) {
      const account = expansion.local[0]!.account;
      // The account record says whether there is a limit at all; only then is the usage read.
      const q = account.quota === null ? undefined : this.mail.quota(account.id);
      if (q && q.limit !== null && q.usedBytes >= q.limit) {
        return this.options.overQuota === 'reject'
          ? reject(552, '5.2.2', 'Mailbox full')
          : tempfail(452, '4.2.2', 'Mailbox full, try again later');
      }
    }
    return ACCEPT;
  }
}
