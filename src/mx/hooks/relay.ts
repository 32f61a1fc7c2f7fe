// Anti-relay, the first duty of an MX: RCPT TO is accepted only for a local
// domain (its accounts, aliases and subaddresses are the recipient hook's
// business); anything else from an unauthenticated session is relaying and
// is refused, whatever MAIL FROM says.
import type { Directory } from '../../../storage/ports.js';
import type { AliasResolver } from '../../delivery/alias-resolver.js';
import type { HookOf } from '../chain.js';
import { BAD_RECIPIENT_SYNTAX, RELAY_DENIED } from '../smtp-reply.js';
import { ACCEPT } from '../verdict.js';

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

/** RFC 5321 4.1.1.3: the bare <postmaster> must be accepted; it means postmaster@ our primary domain. */
export async function bareAddressPostmaster(directory: Directory, hostname: string): Promise<string | undefined> {
  const domains = (await directory.listDomains()).map((d) => d.name);
  const own = domains.find((d) => hostname === d || hostname.endsWith(`.${d}`));
  const domain = own ?? domains[0];
  return domain ? `postmaster@${domain}` : undefined;
}

export function relayHook(aliases: AliasResolver): HookOf<'rcpt'> {
  return {
    name: 'relay',
    stage: 'rcpt',
    timeoutMs: 10_000,
    async run({ recipient, session }) {
      if (looksLikeRelayTrick(recipient)) return RELAY_DENIED;
      const at = recipient.lastIndexOf('@');
      if (at <= 0) return BAD_RECIPIENT_SYNTAX;
      const domain = recipient.slice(at + 1).toLowerCase();
      if (!(await aliases.isLocalDomain(domain)) && session.user === undefined) return RELAY_DENIED;
      return ACCEPT;
    },
  };
}
