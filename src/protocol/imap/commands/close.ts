// CLOSE (expunges silently, RFC 3501 6.4.2) and UNSELECT (RFC 3691, does not).
import { defineCommand, SELECTED, type CommandResult } from '../command.js';
import { expectEnd } from '../parser.js';

export const closeCommand = defineCommand({
  name: 'CLOSE',
  states: SELECTED,
  parse: (args) => expectEnd(args, 0),
  run: async (ctx): Promise<CommandResult> => {
    const sel = ctx.selected!;
    if (!sel.readOnly) await ctx.backend.expunge(ctx.user!, sel.mailboxId);
    ctx.select(undefined);
    return {};
  },
});

export const unselectCommand = defineCommand({
  name: 'UNSELECT',
  states: SELECTED,
  parse: (args) => expectEnd(args, 0),
  run: (ctx): CommandResult => {
    ctx.select(undefined);
    return {};
  },
});
