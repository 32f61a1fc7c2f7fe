// NOTIFY (RFC 5465): NOTIFY NONE, or NOTIFY SET [STATUS] (filter events)...
// The session keeps the resulting state (notify.ts) and sends what it
// produces; SET STATUS answers with the current STATUS of the mailboxes.
import { defineCommand, AUTHENTICATED, type CommandResult, type SessionContext } from '../command.js';
import { badEventCode, parseNotify, type NotifySpec } from '../notify.js';
import type { Arg } from '../parser.js';
import { uidFetchCommand } from './fetch.js';

export const notifyCommand = defineCommand({
  name: 'NOTIFY',
  states: AUTHENTICATED,
  parse: (args: Arg[], ctx: SessionContext): NotifySpec | undefined => {
    const spec = parseNotify(args, (w) => ctx.decodeMailboxName(w));
    // A fetch-att list is checked now, as FETCH would (BAD on an unknown item).
    const atts = spec?.groups.find((g) => g.fetchAtts)?.fetchAtts;
    if (atts) uidFetchCommand.parse([{ type: 'atom', value: '1' }, { type: 'list', items: atts }], ctx);
    return spec;
  },
  run: async (ctx, spec): Promise<CommandResult> => {
    if (spec?.unsupported) return { status: 'NO', code: badEventCode(spec.unsupported), text: 'Unsupported notify event' };
    return { untagged: await ctx.setNotify(spec), text: 'NOTIFY completed' };
  },
});
