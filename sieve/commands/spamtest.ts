// spamtest, spamtestplus and virustest (RFC 5235), reading the scores the
// scanning stage put in the header (host.spamtest / host.virustest say which).
// spamtest: "0" when untested, 1..10 scaled from the score; :percent (spamtestplus)
// gives 0..100. virustest: the header's 0..5 as is, "0" when absent.
import type { TestSpec } from '../compile/spec.js';
import { buildMatcher, matchTags } from './common.js';
import type { Runtime } from '../runtime/runtime.js';

function score(rt: Runtime, header: string): number | undefined {
  const v = rt.rawHeader(header)[0];
  if (v === undefined) return undefined;
  const m = /^\s*(-?\d+(?:\.\d+)?)/.exec(v);
  return m ? Number(m[1]) : undefined;
}

export function spamValue(rt: Runtime, percent: boolean): string {
  const cfg = rt.host.spamtest === undefined ? { header: 'X-Spam-Score', max: 10 } : rt.host.spamtest;
  if (cfg === null) return '0';
  const s = score(rt, cfg.header);
  if (s === undefined) return '0';
  const ratio = Math.min(1, Math.max(0, s / cfg.max));
  if (percent) return String(Math.round(ratio * 100));
  // 1..10, each step a ninth of the range, rounded down as Pigeonhole does (a 5 of 10 is 5, not 6).
  return String(1 + Math.floor(ratio * 9));
}

export const spamtest: TestSpec = {
  kind: 'test',
  name: 'spamtest',
  ext: 'spamtest',
  tags: [...matchTags, { name: 'percent', ext: 'spamtestplus' }],
  args: ['string'],
  compile(p) {
    const m = buildMatcher(p, 0);
    const percent = p.has('percent');
    return (rt) => m.test(rt, [spamValue(rt, percent)]);
  },
};

export const virustest: TestSpec = {
  kind: 'test',
  name: 'virustest',
  ext: 'virustest',
  tags: matchTags,
  args: ['string'],
  compile(p) {
    const m = buildMatcher(p, 0);
    return (rt) => {
      const cfg = rt.host.virustest === undefined ? { header: 'X-Virus-Score', max: 5 } : rt.host.virustest;
      if (cfg === null) return m.test(rt, ['0']);
      const s = score(rt, cfg.header);
      if (s === undefined) return m.test(rt, ['0']);
      // 1 = clean ... 5 = certainly infected, scaled from the header's 0..max and rounded down (as Pigeonhole).
      const ratio = Math.min(1, Math.max(0, s / cfg.max));
      return m.test(rt, [String(1 + Math.floor(ratio * 4))]);
    };
  },
};
