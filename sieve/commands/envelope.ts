// envelope (RFC 5228 5.4), with "auth" as RFC 5228 allows extensions to add.
import type { TestSpec } from '../compile/spec.js';
import { addressPart, addressPartTags, buildMatcher, matchTags, selectAddressPart } from './common.js';

const parts = new Set(['from', 'to', 'auth']);

export const envelope: TestSpec = {
  kind: 'test',
  name: 'envelope',
  ext: 'envelope',
  tags: [...matchTags, ...addressPartTags],
  args: ['stringlist', 'stringlist'],
  compile(p) {
    const names = p.list(0);
    for (const n of names.constant ?? [])
      if (!parts.has(n.toLowerCase())) p.fail(`specified envelope part '${n}' is not supported by the envelope test`, p.argPos(0));
    const m = buildMatcher(p, 1);
    const part = addressPart(p);
    return (rt) => {
      const values: string[] = [];
      for (const raw of names.ev(rt)) {
        const n = raw.toLowerCase();
        const a = n === 'from' ? rt.envelope.from : n === 'to' ? rt.envelope.to : n === 'auth' ? rt.envelope.auth : undefined;
        if (a === undefined) continue;
        // The null reverse-path "<>" matches only "" with :all (RFC 5228 5.4).
        if (a === '') {
          if (part === 'all') values.push('');
          continue;
        }
        const v = selectAddressPart(rt, a, part);
        if (v !== undefined) values.push(v);
        else if (m.isCount) values.push('');
      }
      return m.test(rt, values);
    };
  },
};
