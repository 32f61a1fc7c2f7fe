// fileinto (RFC 5228 4.1) with :copy (RFC 3894), :create (RFC 5490) and :flags (RFC 5232).
import type { CommandSpec } from '../compile/spec.js';
import { FLOW_NEXT, SieveRuntimeError } from '../runtime/runtime.js';
import { flagsTag, storeFlags } from './flags-support.js';

export function validMailboxName(name: string): boolean {
  // Non-empty, no control characters, well-formed UTF-16 (so valid UTF-8 on disk).
  return name !== '' && !/[\x00-\x1f\x7f]/.test(name) && !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(name);
}

export const fileinto: CommandSpec = {
  kind: 'command',
  name: 'fileinto',
  ext: 'fileinto',
  tags: [{ name: 'copy', ext: 'copy' }, { name: 'create', ext: 'mailbox' }, flagsTag],
  args: ['string'],
  compile(p) {
    // The name is checked when the action is taken, not here: Pigeonhole
    // compiles fileinto "" or a name with a control character too (the store
    // then fails and the message is kept), so such a script uploads to both.
    const box = p.str(0);
    const flags = storeFlags(p);
    const copy = p.has('copy');
    const create = p.has('create');
    const { line, col } = p.node.pos;
    return (rt) => {
      const mailbox = box.ev(rt);
      if (!validMailboxName(mailbox)) throw new SieveRuntimeError(`invalid folder name '${mailbox}' specified for fileinto`, line, col);
      const f = flags(rt);
      rt.addAction(f && f.length ? { type: 'fileinto', mailbox, flags: f, copy, create } : { type: 'fileinto', mailbox, copy, create }, p.node.pos);
      return FLOW_NEXT;
    };
  },
};
