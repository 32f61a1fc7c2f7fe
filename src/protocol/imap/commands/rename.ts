import { defineCommand, AUTHENTICATED, type CommandResult } from '../command.js';
import { astring, expectCount } from '../parser.js';
import { withoutTrailingSeparators } from './create.js';

export const renameCommand = defineCommand({
  name: 'RENAME',
  states: AUTHENTICATED,
  parse: (args, ctx) => {
    expectCount(args, 2);
    return {
      from: ctx.decodeMailboxName(astring(args[0], 'mailbox name')),
      to: withoutTrailingSeparators(ctx.decodeMailboxName(astring(args[1], 'new mailbox name'))),
    };
  },
  run: async (ctx, { from, to }): Promise<CommandResult> => {
    const user = ctx.user!;
    if (to === 'INBOX') return { status: 'NO', code: 'ALREADYEXISTS', text: 'INBOX exists' };
    const source = await ctx.backend.getMailbox(user, from);
    if (!source) return { status: 'NO', code: 'NONEXISTENT', text: 'Mailbox does not exist' };
    if (await ctx.backend.getMailbox(user, to)) return { status: 'NO', code: 'ALREADYEXISTS', text: 'Target mailbox exists already' };
    // A mailbox cannot become its own child (the store refuses it too); checked before any parent is made.
    // A plain NO, as Dovecot answers.
    if (source.name !== 'INBOX' && to.startsWith(source.name + '/')) return { status: 'NO', text: 'A mailbox cannot be renamed under itself' };
    // RFC 3501 6.3.5: the superiors the new name needs are created.
    const levels = to.split('/');
    for (let i = 1; i < levels.length; i++) {
      const parent = levels.slice(0, i).join('/');
      if (!(await ctx.backend.getMailbox(user, parent))) await ctx.backend.createMailbox(user, parent);
    }
    await ctx.backend.renameMailbox(user, from, to);
    const sel = ctx.selected;
    if (sel && from !== 'INBOX' && (sel.name === from || sel.name.startsWith(from + '/'))) sel.name = to + sel.name.slice(from.length);
    return { text: 'RENAME completed' };
  },
});
