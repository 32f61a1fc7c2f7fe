// environment (RFC 5183): items come from the host; "phase" defaults to
// "during", "name" to Postino, unknown items make the test false.
import type { TestSpec } from '../compile/spec.js';
import { buildMatcher, matchTags } from './common.js';

const defaults: Record<string, string> = { name: 'Postino', phase: 'during', version: '0.1.0' };

export const environment: TestSpec = {
  kind: 'test',
  name: 'environment',
  ext: 'environment',
  tags: matchTags,
  args: ['string', 'stringlist'],
  compile(p) {
    const name = p.str(0);
    const m = buildMatcher(p, 1);
    return (rt) => {
      const n = name.ev(rt).toLowerCase();
      const v = rt.host.environment?.[n] ?? defaults[n];
      return v === undefined ? false : m.test(rt, [v]);
    };
  },
};
