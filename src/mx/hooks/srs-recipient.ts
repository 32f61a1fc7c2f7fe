// RCPT TO an SRS address (SRS0=HASH=TT=domain=local@one-of-ours): the
// return path of a message we forwarded, so what comes to it is a bounce
// for the original sender. Accepted only when we made it (the hash), it is
// recent (the timestamp), and the message is a bounce (null sender). The
// delivery agent then routes it like an alias to the original address
// (srsAliases below). The verifier comes from the composition root
// (outbound/srs.ts): mx does not import outbound.
//
// Refusals follow Postfix with postsrsd: an address that does not reverse is
// an unknown user, 550 5.1.1. Unlike postsrsd, which forwards anything sent
// to a valid SRS address, a non-null sender is refused (550 5.7.1): SRS
// addresses are only ever envelope senders, so only DSNs (RFC 3464, null
// sender) and auto-replies that follow RFC 3834 (null sender too) have a
// reason to come back to one; anything else would turn every address we
// ever forwarded with into a three-week open forwarder to its sender.
import type { VirtualAlias } from '../../delivery/alias-resolver.js';
import type { HookOf } from '../chain.js';
import { ACCEPT, reject } from '../verdict.js';

/** What the hook needs of the SRS codec (outbound/srs.ts SrsCodec). */
export interface SrsReverser {
  reverse(
    address: string,
  ): { kind: 'not-srs' } | { kind: 'valid'; original: string } | { kind: 'malformed' } | { kind: 'forged' } | { kind: 'expired' };
}

export const SRS_MALFORMED = reject(550, '5.1.1', 'Invalid SRS address');
export const SRS_FORGED = reject(550, '5.1.1', 'Invalid SRS address: bad signature');
export const SRS_EXPIRED = reject(550, '5.1.1', 'Expired SRS address');
export const SRS_ONLY_BOUNCES = reject(550, '5.7.1', 'SRS addresses accept bounces (null sender) only');

export function srsRecipientHook(srs: SrsReverser, isLocalDomain: (domain: string) => Promise<boolean>): HookOf<'rcpt'> {
  return {
    name: 'srs-recipient',
    stage: 'rcpt',
    timeoutMs: 10_000,
    async run({ from, recipient }) {
      const check = srs.reverse(recipient);
      if (check.kind === 'not-srs') return ACCEPT;
      // Someone else's SRS address: not ours to judge (the relay hook decides).
      if (!(await isLocalDomain(recipient.slice(recipient.lastIndexOf('@') + 1).toLowerCase()))) return ACCEPT;
      switch (check.kind) {
        case 'malformed':
          return SRS_MALFORMED;
        case 'forged':
          return SRS_FORGED;
        case 'expired':
          return SRS_EXPIRED;
        case 'valid':
          return from === '' ? ACCEPT : SRS_ONLY_BOUNCES;
      }
    },
  };
}

/** The SRS addresses that reverse, as virtual aliases of the delivery agent: each stands for the sender it was made from. */
export function srsAliases(srs: SrsReverser): VirtualAlias {
  return (address) => {
    const check = srs.reverse(address);
    return check.kind === 'valid' ? check.original : undefined;
  };
}
