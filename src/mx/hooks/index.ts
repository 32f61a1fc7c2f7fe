// Each endpoint's policy, in order. Content scanning and the submission
// rules join these lists as hooks of their own.
import type { Config } from '../../config.js';
import type { Directory, MailStore } from '../../../storage/ports.js';
import { AliasResolver } from '../../delivery/alias-resolver.js';
import type { Hook } from '../chain.js';
import type { ReceiverKind } from '../receiver.js';
import { recipientHook } from './recipient.js';
import { relayHook } from './relay.js';
import { senderAuthenticationHook } from './sender-authentication.js';

export interface PolicyStores {
  directory: Directory;
  mail: MailStore;
}

export function endpointHooks(kind: ReceiverKind, config: Config, stores: PolicyStores): Hook[] {
  const aliases = new AliasResolver(stores.directory);
  const rcpt = [relayHook(aliases), recipientHook(aliases, stores.mail, { overQuota: config.smtp.overQuota })];
  // LMTP's peer (the MTA in front) has checked the sender already.
  return kind === 'smtp' ? [...rcpt, senderAuthenticationHook(config)] : rcpt;
}
