// fileinto (RFC 5228 4.1) with :copy (RFC 3894), :create (RFC 5490) and :flags (RFC 5232).
import type { CommandSpec } from '../compile/spec.js';
import { FLOW_NEXT } from '../runtime/runtime.js';
import { flagsTag, storeFlags } from './flags-support.js';

export const fileinto: CommandSpec = {
  kind: 'command',
  name: 'fileinto',
  ext: 'fileinto',
  tags: [{ name: 'copy', ext: 'copy' }, { name: 'create', ext: 'mailbox' }, flagsTag],
  args: ['string'],
  compile(p) {
    // The name is not checked here nor when the script runs: as in
    // Pigeonhole, fileinto "" or a name with a control character is an
    // action whose store fails when it is carried out (the delivery puts
    // that copy in INBOX and logs it), and the rest of the script still counts.
    const box = p.str(0);
    const flags = storeFlags(p);
    const copy = p.has('copy');
    const create = p.has('create');
    return (rt) => {
      const mailbox = box.ev(rt);
      const f = flags(rt);
      rt.addAction(f && f.length ? { type: 'fileinto', mailbox, flags: f, copy, create } : { type: 'fileinto', mailbox, copy, create }, p.node.pos);
      return FLOW_NEXT;
    };
  },
};
