// NOOP and CHECK: nothing to do; the session delivers pending mailbox changes after them.
import { defineCommand, ANY_STATE, SELECTED } from '../command.js';
import { expectEnd } from '../parser.js';

export const noopCommand = defineCommand({
  name: 'NOOP',
  states: ANY_STATE,
  parse: (args) => expectEnd(args, 0),
  run: () => ({}),
});

export const checkCommand = defineCommand({
  name: 'CHECK',
  states: SELECTED,
  parse: (args) => expectEnd(args, 0),
  run: () => ({}),
});
