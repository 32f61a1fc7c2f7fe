// EXPUNGE and UID EXPUNGE (UIDPLUS). The EXPUNGE responses come from the
// change feed, delivered by the session after the command.
import { defineCommand, SELECTED, type CommandResult } from '../command.js';
import { expectCount, expectEnd } from '../parser.js';
import { parseMessageSet, resolveMessageSet, type MessageSetArg } from '../message-set.js';

export const expungeCommand = defineCommand({
  name: 'EXPUNGE',
  states: SELECTED,
  parse: (args) => expectEnd(args, 0),
  run: async (ctx): Promise<CommandResult> => {
    const sel = ctx.selected!;
    if (sel.readOnly) return { status: 'NO', code: 'READ-ONLY', text: 'Mailbox is read-only' };
    await ctx.backend.expunge(ctx.user!, sel.mailboxId);
    return {};
  },
});

export const uidExpungeCommand = defineCommand({
  name: 'UID EXPUNGE',
  states: SELECTED,
  parse: (args): MessageSetArg => {
    expectCount(args, 1);
    return parseMessageSet(args[0], true);
  },
  run: async (ctx, set): Promise<CommandResult> => {
    const sel = ctx.selected!;
    if (sel.readOnly) return { status: 'NO', code: 'READ-ONLY', text: 'Mailbox is read-only' };
    const uids = resolveMessageSet(sel, set);
    const deleted = (await ctx.backend.messages(ctx.user!, sel.mailboxId, uids))
      .filter((r) => r.flags.includes('\\Deleted'))
      .map((r) => r.uid);
    if (deleted.length > 0) await ctx.backend.expunge(ctx.user!, sel.mailboxId, deleted);
    return {};
  },
});
