// Submission, at the end of DATA: every address of every From field must be
// one the authenticated user owns, checked as MAIL FROM is
// (submission-sender.ts), so a client cannot put someone else's name on a
// message the envelope sender is allowed for. config.submission.checkFrom
// turns it off. A message without From is let through: it claims no one.
import type { AliasResolver } from '../../delivery/alias-resolver.js';
import { addrSpecs } from '../../../mime/index.js';
import type { HookOf } from '../chain.js';
import { AUTH_REQUIRED, FROM_WITHOUT_ADDRESS, senderNotOwned } from '../smtp-reply.js';
import { ACCEPT } from '../verdict.js';
import { ownsAddress } from './submission-sender.js';

/** Addresses checked per message at most; a From with more is refused (no real message has that many authors). */
const MAX_FROM_ADDRESSES = 20;

export function submissionFromHeaderHook(aliases: AliasResolver): HookOf<'data'> {
  return {
    name: 'submission-from-header',
    stage: 'data',
    timeoutMs: 10_000,
    async run({ session, message }) {
      const user = session.user;
      if (user === undefined) return AUTH_REQUIRED;
      for (const value of message.header.values('from')) {
        // Not decoded first: encoded words are display names, and decoding could make new commas or brackets.
        const addresses = addrSpecs(value);
        if (addresses.length === 0 || addresses.length > MAX_FROM_ADDRESSES) return FROM_WITHOUT_ADDRESS;
        for (const address of addresses) {
          if (!(await ownsAddress(aliases, user, address))) return senderNotOwned(address, user, 'From header address');
        }
      }
      return ACCEPT;
    },
  };
}
