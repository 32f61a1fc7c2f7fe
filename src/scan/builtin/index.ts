// The builtin spam engine: no daemon, the rule table of rules.ts applied by
// the detectors of checks.ts. It cannot be unreachable; a detector that throws
// (it should not) makes the verdict `unscanned`, like any other scanner.
import { parseMessage } from '../../../mime/index.js';
import type { ScanBudget, ScanInput, ScanResult, Scanner, SpamTest } from '../scanner.js';
import { allChecks } from './checks.js';
import { RULE_BY_NAME } from './rules.js';

export { RULES } from './rules.js';
export { GTUBE } from './checks.js';

/** What the builtin engine reads besides the scanner input. */
export interface BuiltinInput extends ScanInput {
  /** Authentication-Results values this server wrote (SPF/DKIM/DMARC of the MX). */
  authResults?: readonly string[];
}

export class BuiltinSpamScanner implements Scanner {
  readonly name = 'builtin';
  readonly kind = 'spam' as const;

  constructor(
    private readonly options: { hostname: string; required: number; now?: () => number },
  ) {}

  scan(input: BuiltinInput, _budget?: ScanBudget): Promise<ScanResult> {
    const started = Date.now();
    try {
      const message = input.message ?? parseMessage(input.raw);
      const names = allChecks(message, {
        authResults: input.authResults ?? [],
        envelopeFrom: input.from,
        hostname: this.options.hostname,
        now: (this.options.now ?? Date.now)(),
      });
      const tests: SpamTest[] = names.map((n) => {
        const rule = RULE_BY_NAME.get(n)!;
        return { name: rule.name, score: rule.score, description: rule.description };
      });
      const score = Math.round(tests.reduce((sum, t) => sum + t.score, 0) * 10) / 10;
      return Promise.resolve({ scanner: this.name, engine: 'Postino builtin', verdict: { kind: 'score', score, required: this.options.required, tests }, ms: Date.now() - started });
    } catch (err) {
      return Promise.resolve({ scanner: this.name, engine: 'Postino builtin', verdict: { kind: 'unscanned', reason: `rule failed: ${(err as Error).message}`.slice(0, 100) }, ms: Date.now() - started });
    }
  }
}
