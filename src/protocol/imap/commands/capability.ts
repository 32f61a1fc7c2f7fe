import { defineCommand, ANY_STATE } from '../command.js';
import { expectEnd } from '../parser.js';
import { untagged } from '../response.js';

export const capabilityCommand = defineCommand({
  name: 'CAPABILITY',
  states: ANY_STATE,
  parse: (args) => expectEnd(args, 0),
  run: (ctx) => ({ untagged: [untagged('CAPABILITY', ...ctx.capabilities())] }),
});
