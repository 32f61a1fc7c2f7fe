// mailbox (RFC 5490): mailboxexists. (fileinto :create is in fileinto.ts.)
import type { TestSpec } from '../compile/spec.js';

export const mailboxexists: TestSpec = {
  kind: 'test',
  name: 'mailboxexists',
  ext: 'mailbox',
  tags: [],
  args: ['stringlist'],
  compile(p) {
    const names = p.list(0);
    return (rt) => {
      for (const n of names.ev(rt)) if (!(rt.host.mailboxExists?.(n) ?? false)) return false;
      return true;
    };
  },
};
