import { defineCommand, AUTHENTICATED, type CommandResult } from '../command.js';
import { astring, expectCount, list } from '../parser.js';
import { untagged } from '../response.js';
import { parseStatusItems, statusValues } from '../mailbox-status.js';

export const statusCommand = defineCommand({
  name: 'STATUS',
  states: AUTHENTICATED,
  parse: (args, ctx) => {
    expectCount(args, 2);
    return { name: ctx.decodeMailboxName(astring(args[0], 'mailbox name')), items: parseStatusItems(list(args[1], 'status items')) };
  },
  run: async (ctx, { name, items }): Promise<CommandResult> => {
    const info = await ctx.backend.getMailbox(ctx.user!, name);
    if (!info) return { status: 'NO', code: 'NONEXISTENT', text: 'Mailbox does not exist' };
    return { untagged: [untagged('STATUS', { str: ctx.encodeMailboxName(info.name) }, await statusValues(ctx, info, items))] };
  },
});
