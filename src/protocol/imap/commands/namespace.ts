import { defineCommand, AUTHENTICATED } from '../command.js';
import { expectEnd } from '../parser.js';
import { untagged } from '../response.js';

export const namespaceCommand = defineCommand({
  name: 'NAMESPACE',
  states: AUTHENTICATED,
  parse: (args) => expectEnd(args, 0),
  run: () => ({ untagged: [untagged('NAMESPACE', [[{ str: '' }, { str: '/' }]], null, null)] }),
});
