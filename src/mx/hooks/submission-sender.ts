// Submission: MAIL FROM must be an address the authenticated user owns
// (Postfix's reject_sender_login_mismatch): their own address (or a
// subaddress of it), or an alias whose targets reach them. Domain
// administrators do not exist yet; when they do, a domain they administer
// belongs here too. The null sender is allowed (clients send MDNs and
// auto-replies with it); the From header is checked on its own.
// Unauthenticated use is refused here as well, whatever the transport did.
import { isMailError } from '../../../storage/errors.js';
import type { AliasResolver } from '../../delivery/alias-resolver.js';
import type { HookOf } from '../chain.js';
import { AUTH_REQUIRED, senderNotOwned } from '../smtp-reply.js';
import { ACCEPT } from '../verdict.js';

/**
 * Whether `user` (an account's address) may send as `address`. A lookup
 * that fails (storage) throws: the chain answers 451, never a wrong 553.
 */
export async function ownsAddress(aliases: AliasResolver, user: string, address: string): Promise<boolean> {
  const wanted = user.toLowerCase();
  if (address.toLowerCase() === wanted) return true;
  const at = address.lastIndexOf('@');
  if (at <= 0 || !(await aliases.isLocalDomain(address.slice(at + 1)))) return false;
  try {
    const expansion = await aliases.expand(address);
    return expansion.local.some((d) => d.account.address.toLowerCase() === wanted);
  } catch (err) {
    // No such address, an alias loop, an expansion too big: not the user's.
    if (isMailError(err, 'NONEXISTENT') || isMailError(err, 'REFUSED') || isMailError(err, 'LIMIT')) return false;
    throw err;
  }
}

export function submissionSenderHook(aliases: AliasResolver): HookOf<'mail'> {
  return {
    name: 'submission-sender',
    stage: 'mail',
    timeoutMs: 10_000,
    async run({ session, from }) {
      if (session.user === undefined) return AUTH_REQUIRED;
      if (from === '') return ACCEPT;
      return (await ownsAddress(aliases, session.user, from)) ? ACCEPT : senderNotOwned(from, session.user, 'Sender address');
    },
  };
}
