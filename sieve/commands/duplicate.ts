// duplicate (RFC 7352). The host keeps the seen-ids store; the engine works
// out the id: :uniqueid, the :header's value, or Message-ID, prefixed by the
// :handle so independent tests do not collide.
import type { TestSpec } from '../compile/spec.js';

export const duplicate: TestSpec = {
  kind: 'test',
  name: 'duplicate',
  ext: 'duplicate',
  tags: [
    { name: 'handle', arg: 'string' },
    { name: 'header', arg: 'string', group: 'source' },
    { name: 'uniqueid', arg: 'string', group: 'source' },
    { name: 'seconds', arg: 'number' },
    { name: 'last' },
  ],
  args: [],
  compile(p) {
    const handle = p.tagStr('handle');
    const header = p.tagStr('header');
    const uniqueid = p.tagStr('uniqueid');
    const seconds = p.tagNum('seconds') ?? 7 * 86400;
    const last = p.has('last');
    return (rt) => {
      let id: string | undefined;
      if (uniqueid) id = uniqueid.ev(rt);
      else {
        const v = rt.rawHeader(header ? header.ev(rt) : 'message-id')[0];
        id = v === undefined ? undefined : v.trim();
      }
      // RFC 7352 3.1: no id means the test is false (nothing to compare).
      if (id === undefined) return false;
      const h = handle ? handle.ev(rt) : '';
      return rt.host.duplicate?.(id, { handle: h, seconds, last }) ?? false;
    };
  },
};
