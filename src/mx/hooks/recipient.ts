// RCPT TO for a local domain: the address must be an account, an alias with
// a live target, or a subaddress of one; a recipient whose only mailbox is
// already full is told so now rather than after DATA.
import type { MailStore } from '../../../storage/ports.js';
import type { AliasResolver } from '../../delivery/alias-resolver.js';
import type { HookOf } from '../chain.js';
import { errorVerdict, LOOKUP_FAILURE, mailboxFull } from '../smtp-reply.js';
import { ACCEPT } from '../verdict.js';

export interface RecipientHookOptions {
  overQuota: 'tempfail' | 'reject';
}

export function recipientHook(aliases: AliasResolver, mail: MailStore, options: RecipientHookOptions): HookOf<'rcpt'> {
  return {
    name: 'recipient',
    stage: 'rcpt',
    timeoutMs: 10_000,
    async run({ recipient }) {
      const domain = recipient.slice(recipient.lastIndexOf('@') + 1).toLowerCase();
      // Not ours: the relay hook has decided (an authenticated user may send anywhere).
      if (!(await aliases.isLocalDomain(domain))) return ACCEPT;
      let expansion;
      try {
        expansion = await aliases.expand(recipient);
      } catch (err) {
        // An unknown user is a decision; a failing lookup is a temporary failure.
        return errorVerdict(err, LOOKUP_FAILURE);
      }
      if (expansion.remote.length === 0 && expansion.local.length === 1) {
        const account = expansion.local[0]!.account;
        // The account record says whether there is a limit at all; only then is the usage read.
        const q = account.quota === null ? undefined : await mail.quota(account.id);
        if (q && q.limit !== null && q.usedBytes >= q.limit) return mailboxFull(options.overQuota);
      }
      return ACCEPT;
    },
  };
}
