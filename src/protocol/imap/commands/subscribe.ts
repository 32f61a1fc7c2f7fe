import { defineCommand, AUTHENTICATED, type CommandResult, type SessionContext } from '../command.js';
import { astring, expectCount, type Arg } from '../parser.js';

const parse = (args: Arg[], ctx: SessionContext) => {
  expectCount(args, 1);
  return ctx.decodeMailboxName(astring(args[0], 'mailbox name'));
};

const run = (subscribed: boolean) => async (ctx: SessionContext, name: string): Promise<CommandResult> => {
  await ctx.backend.setSubscribed(ctx.user!, name, subscribed);
  return {};
};

export const subscribeCommand = defineCommand({ name: 'SUBSCRIBE', states: AUTHENTICATED, parse, run: run(true) });
export const unsubscribeCommand = defineCommand({ name: 'UNSUBSCRIBE', states: AUTHENTICATED, parse, run: run(false) });
