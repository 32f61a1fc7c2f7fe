// vacation (RFC 5230) and :seconds (RFC 6131). The engine decides that an
// answer is wanted and with which period; the host applies the RFC 5230
// section 4.5/4.6 checks (own address in To/Cc, list mail, response memory).
import type { CommandSpec } from '../compile/spec.js';
import { FLOW_NEXT } from '../runtime/runtime.js';
import type { VacationAction } from '../runtime/actions.js';

const DAY = 86400;

export const vacation: CommandSpec = {
  kind: 'command',
  name: 'vacation',
  ext: 'vacation',
  tags: [
    { name: 'days', arg: 'number', group: 'period' },
    { name: 'seconds', arg: 'number', group: 'period', ext: 'vacation-seconds' },
    { name: 'subject', arg: 'string' },
    { name: 'from', arg: 'string' },
    { name: 'addresses', arg: 'stringlist' },
    { name: 'mime' },
    { name: 'handle', arg: 'string' },
  ],
  args: ['string'],
  compile(p) {
    const reason = p.str(0);
    const days = p.tagNum('days');
    const secs = p.tagNum('seconds');
    const subject = p.tagStr('subject');
    const from = p.tagStr('from');
    const addresses = p.tagList('addresses');
    const handle = p.tagStr('handle');
    const mime = p.has('mime');
    return (rt) => {
      const cfg = rt.host.vacation ?? {};
      const min = cfg.minSeconds ?? DAY;
      const max = cfg.maxSeconds ?? Infinity; // Pigeonhole: no maximum unless configured
      let seconds = secs ?? (days !== undefined ? days * DAY : (cfg.defaultSeconds ?? 7 * DAY));
      if (seconds < min) seconds = min;
      if (seconds > max) seconds = max;
      const r = reason.ev(rt);
      const s = subject?.ev(rt);
      const f = from?.ev(rt);
      const a: VacationAction = {
        type: 'vacation',
        seconds,
        reason: r,
        addresses: addresses ? addresses.ev(rt) : [],
        mime,
        handle: handle ? handle.ev(rt) : `${r}${s ?? '<default-subject>'}${f ?? '<default-from>'}${mime ? '<MIME>' : '<NO-MIME>'}`,
      };
      if (s !== undefined) a.subject = s;
      if (f !== undefined) a.from = f;
      rt.addAction(a, p.node.pos);
      return FLOW_NEXT;
    };
  },
};
