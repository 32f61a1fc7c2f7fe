import { defineCommand, AUTHENTICATED, type CommandResult } from '../command.js';
import { astring, expectCount } from '../parser.js';

export const deleteCommand = defineCommand({
  name: 'DELETE',
  states: AUTHENTICATED,
  parse: (args, ctx) => {
    expectCount(args, 1);
    return ctx.decodeMailboxName(astring(args[0], 'mailbox name'));
  },
  run: async (ctx, name): Promise<CommandResult> => {
    if (name === 'INBOX') return { status: 'NO', code: 'CANNOT', text: 'INBOX cannot be deleted' };
    const user = ctx.user!;
    const info = await ctx.backend.getMailbox(user, name);
    if (!info) return { status: 'NO', code: 'NONEXISTENT', text: 'Mailbox does not exist' };
    if (ctx.selected?.mailboxId === info.id) ctx.select(undefined);
    await ctx.backend.deleteMailbox(user, name);
    return { text: 'DELETE completed' };
  },
});
