// Each endpoint's policy, in order. Content scanning and the submission
// rules join these lists as hooks of their own.
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import { sharedAntivirus } from '../../scan/antivirus.js';
import { antivirusHook, antivirusReadyHook } from './antivirus.js';
import { sharedSpamCheck } from '../../scan/spam.js';
import { spamHook } from './spam.js';
import type { Directory, MailStore } from '../../../storage/ports.js';
import { AliasResolver } from '../../delivery/alias-resolver.js';
import type { Hook } from '../chain.js';
import type { ReceiverKind } from '../receiver.js';
import { recipientHook } from './recipient.js';
import { relayHook } from './relay.js';
import { senderAuthenticationHook } from './sender-authentication.js';
import { submissionSenderHook } from './submission-sender.js';
import { submissionFromHeaderHook } from './submission-from-header.js';
import { SendingCounter, submissionLimitHooks } from './submission-limits.js';
import { srsAliases, srsRecipientHook, type SrsReverser } from './srs-recipient.js';

export interface PolicyStores {
  directory: Directory;
  mail: MailStore;
}

/** One sending counter per storage: submission and submissions share it, and a reload keeps it. */
const sendingCounters = new WeakMap<object, SendingCounter>();

/**
 * Submission: an authenticated user's own addresses only, within the
 * sending limits, to any recipient (no relay restriction once
 * authenticated); local recipients must exist. No SPF/DKIM/DMARC check:
 * the client is one of ours.
 */
function submissionHooks(config: Config, stores: PolicyStores, aliases: AliasResolver): Hook[] {
  let counter = sendingCounters.get(stores.directory);
  if (!counter) {
    counter = new SendingCounter();
    sendingCounters.set(stores.directory, counter);
  }
  const [limitsMail, limitsRcpt, limitsData] = submissionLimitHooks(counter, () => config.submission.limits);
  const hooks: Hook[] = [submissionSenderHook(aliases), limitsMail, relayHook(aliases), limitsRcpt, recipientHook(aliases, stores.mail, { overQuota: config.smtp.overQuota })];
  if (config.submission.checkFrom) hooks.push(submissionFromHeaderHook(aliases));
  // Last of its stage: only a message the other checks accepted counts.
  hooks.push(limitsData);
  return hooks;
}

/**
 * srs: the SRS verifier (outbound/srs.ts), when the server has its secret; the MX and LMTP then take
 * bounces to SRS addresses (never submission: an SRS address is nobody's own). Without it they are unknown users.
 */
export function endpointHooks(kind: ReceiverKind, config: Config, stores: PolicyStores, srs?: SrsReverser, log?: Logger, metrics?: Metrics): Hook[] {
  if (kind === 'submission') return submissionHooks(config, stores, new AliasResolver(stores.directory));
  const aliases = new AliasResolver(stores.directory, srs && srsAliases(srs));
  const srsHooks = srs ? [srsRecipientHook(srs, (d) => aliases.isLocalDomain(d))] : [];
  const rcpt = [relayHook(aliases), ...srsHooks, recipientHook(aliases, stores.mail, { overQuota: config.smtp.overQuota })];
  // LMTP's peer (the MTA in front) has checked the sender already.
  const hooks: Hook[] = kind === 'smtp' ? [...rcpt, senderAuthenticationHook(config)] : rcpt;
  // Content scanning: last of the data stage, on the message the other checks accepted.
  if (config.antivirus) {
    const av = sharedAntivirus(config.antivirus, log);
    hooks.unshift(antivirusReadyHook(av));
    hooks.push(antivirusHook(av, log, metrics));
  }
  // Spam scoring after the virus scan (an infected message is refused before it costs a spam check).
  if (config.spam) hooks.push(spamHook(sharedSpamCheck(config.spam, config.hostname), log, metrics));
  return hooks;
}
