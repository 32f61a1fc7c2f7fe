// Spam scoring at the end of DATA (MX and LMTP), after the sender checks
// (their Authentication-Results feed the builtin rules): over
// spam.rejectScore (or rspamd says reject) 550 5.7.1, nothing stored; the
// engine unavailable, too slow, busy, or rspamd asking to greylist: 451;
// otherwise X-Spam-Score / X-Spam-Status (and X-Spam-Flag: YES over
// spam.junkScore, which the default Junk script and spamtest read). X-Spam-*
// fields that arrive with the message are removed first: only ours count.
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import type { SpamCheck } from '../../scan/spam.js';
import { isSpamField } from '../../scan/spam.js';
import type { HookOf } from '../chain.js';
import { spamRejected, spamTryLater } from '../smtp-reply.js';

/** Past the scan budget the chain's own timeout is only a backstop. */
const CHAIN_MARGIN_MS = 5_000;

/** Our own Authentication-Results (the sender-authentication hook's), from the fields added before us. */
function ownAuthResults(added: readonly string[] | undefined): string[] {
  return (added ?? []).filter((f) => /^authentication-results:/i.test(f)).map((f) => f.slice(f.indexOf(':') + 1));
}

export function spamHook(spam: SpamCheck, log?: Logger, metrics?: Metrics): HookOf<'data'> {
  return {
    name: 'spam',
    stage: 'data',
    timeoutMs: spam.timeoutMs + CHAIN_MARGIN_MS,
    async run({ message, session, from, recipients, added }) {
      const cleaned = message.without((f) => isSpamField(f.key));
      const outcome = await spam.check({
        raw: cleaned.raw,
        message: cleaned,
        from,
        recipients,
        remoteIp: session.remoteAddress,
        ...(session.helo ? { helo: session.helo } : {}),
        authResults: ownAuthResults(added),
      });
      metrics?.scanned(outcome.result);
      const v = outcome.result.verdict;
      const tests = v.kind === 'score' ? v.tests.map((t) => t.name) : [];
      if (outcome.action === 'reject') {
        log?.info({ event: 'spam-rejected', session: session.id, ip: session.remoteAddress, from, engine: spam.where, score: outcome.score, tests });
        return spamRejected((Math.round(outcome.score * 10) / 10).toFixed(1));
      }
      if (outcome.action === 'tempfail') {
        log?.warn({ event: 'spam-check-failed', session: session.id, ip: session.remoteAddress, from, engine: spam.where, reason: outcome.reason, ms: outcome.result.ms });
        return spamTryLater(outcome.reason);
      }
      return { kind: 'accept', headers: outcome.headers, message: cleaned };
    },
  };
}
