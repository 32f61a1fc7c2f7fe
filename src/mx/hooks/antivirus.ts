// ClamAV at the end of DATA (MX and LMTP): infected mail refused 554 5.7.1
// naming the signature (nothing stored); clamd unavailable, too slow, busy or
// failing its self-test: 451 4.7.1, or with antivirus.failOpen accepted and
// marked unscanned; otherwise an X-Virus-Scanned field, and for clean mail
// X-Virus-Score: 0 (what Sieve's virustest reads as "1", no virus). X-Virus-Scanned and
// X-Virus-Score fields that arrive with the message are removed: only ours count.
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import type { Antivirus } from '../../scan/antivirus.js';
import { isVirusField, virusFields } from '../../scan/antivirus.js';
import type { HookOf } from '../chain.js';
import { virusFound, virusScannerUnavailable } from '../smtp-reply.js';
import { ACCEPT } from '../verdict.js';

/** What a check refused for a failing self-test counts as (no scan was made). */
const SELF_TEST_FAILING = { scanner: 'clamd', verdict: { kind: 'unscanned', reason: 'self-test failing' } } as const;

/** Past the scan budget the chain's own timeout is only a backstop. */
const CHAIN_MARGIN_MS = 5_000;

/** A self-test that misses EICAR stops new mail at MAIL FROM already (unless failOpen). */
export function antivirusReadyHook(av: Antivirus): HookOf<'mail'> {
  return {
    name: 'antivirus-ready',
    stage: 'mail',
    timeoutMs: 1_000,
    run: () => Promise.resolve(av.selfTestFailing && !av.failOpen ? virusScannerUnavailable('self-test failing') : ACCEPT),
  };
}

export function antivirusHook(av: Antivirus, log?: Logger, metrics?: Metrics): HookOf<'data'> {
  return {
    name: 'antivirus',
    stage: 'data',
    timeoutMs: av.timeoutMs + CHAIN_MARGIN_MS,
    async run({ message, session, from }) {
      const outcome = await av.check(message.raw);
      metrics?.scanned(outcome.result ?? SELF_TEST_FAILING);
      if (outcome.action === 'refuse') return virusFound(outcome.signature);
      if (outcome.action === 'tempfail') {
        log?.warn({ event: 'virus-scan-failed', session: session.id, ip: session.remoteAddress, from, clamd: av.where, reason: outcome.reason, ms: outcome.result?.ms });
        return virusScannerUnavailable(outcome.reason);
      }
      return {
        kind: 'accept',
        headers: virusFields(outcome),
        message: message.without((f) => isVirusField(f.key)),
      };
    },
  };
}
