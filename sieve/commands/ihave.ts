// ihave (RFC 5463): the ihave test and the error command. The compiler
// (compile/compiler.ts) lets an `if ihave [...]` block use those extensions.
import type { CommandSpec, TestSpec } from '../compile/spec.js';
import { SieveRuntimeError } from '../runtime/runtime.js';
import { knownCapabilityNames } from './capabilities.js';

export const ihave: TestSpec = {
  kind: 'test',
  name: 'ihave',
  ext: 'ihave',
  tags: [],
  args: ['stringlist'],
  compile(p) {
    const caps = p.list(0);
    return (rt) => caps.ev(rt).every((c) => knownCapabilityNames.has(c.toLowerCase()));
  },
};

export const error: CommandSpec = {
  kind: 'command',
  name: 'error',
  ext: 'ihave',
  tags: [],
  args: ['string'],
  compile(p) {
    const msg = p.str(0);
    const { line, col } = p.node.pos;
    return (rt) => {
      throw new SieveRuntimeError(`error: ${msg.ev(rt)}`, line, col);
    };
  },
};
