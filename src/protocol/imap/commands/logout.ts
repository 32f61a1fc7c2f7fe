import { defineCommand, ANY_STATE } from '../command.js';
import { expectEnd } from '../parser.js';
import { statusResponse } from '../response.js';

export const logoutCommand = defineCommand({
  name: 'LOGOUT',
  states: ANY_STATE,
  parse: (args) => expectEnd(args, 0),
  run: () => ({ untagged: [statusResponse('BYE', 'Logging out')], after: 'logout' as const }),
});
