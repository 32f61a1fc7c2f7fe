import { defineCommand, ANY_STATE } from '../command.js';
import { expectCount, isAtom, ImapParseError } from '../parser.js';
import { untagged } from '../response.js';

export const idCommand = defineCommand({
  name: 'ID',
  states: ANY_STATE,
  parse: (args) => {
    expectCount(args, 1);
    if (!isAtom(args[0], 'NIL') && args[0]!.type !== 'list') throw new ImapParseError('Expected a parameter list or NIL');
  },
  run: () => ({ untagged: [untagged('ID', [{ str: 'name' }, { str: 'Postino' }, { str: 'vendor' }, { str: 'Postino' }])] }),
});
