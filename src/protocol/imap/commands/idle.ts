// IDLE (RFC 2177): changes are delivered as they happen until DONE.
import { defineCommand, AUTHENTICATED, type CommandResult } from '../command.js';
import { expectEnd } from '../parser.js';

export const idleCommand = defineCommand({
  name: 'IDLE',
  states: AUTHENTICATED,
  parse: (args) => expectEnd(args, 0),
  run: async (ctx): Promise<CommandResult> => {
    const line = ctx.continuation('idling');
    ctx.startIdle();
    let text: string;
    try {
      text = (await line).toString('latin1').trim();
    } finally {
      ctx.stopIdle();
    }
    if (text.toUpperCase() !== 'DONE') return { status: 'BAD', text: 'Expected DONE' };
    return { text: 'IDLE terminated' };
  },
});
