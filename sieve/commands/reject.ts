// reject and ereject (RFC 5429).
import type { CommandSpec } from '../compile/spec.js';
import { FLOW_NEXT } from '../runtime/runtime.js';

function rejectSpec(name: 'reject' | 'ereject'): CommandSpec {
  return {
    kind: 'command',
    name,
    ext: name,
    tags: [],
    args: ['string'],
    compile(p) {
      const reason = p.str(0);
      return (rt) => {
        rt.addAction({ type: name, reason: reason.ev(rt) }, p.node.pos);
        return FLOW_NEXT;
      };
    },
  };
}

export const reject = rejectSpec('reject');
export const ereject = rejectSpec('ereject');
