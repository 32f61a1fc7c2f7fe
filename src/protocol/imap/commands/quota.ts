// QUOTA (RFC 9208): one root "" per account, STORAGE in KiB.
import { defineCommand, AUTHENTICATED, type CommandResult, type SessionContext } from '../command.js';
import { astring, expectCount } from '../parser.js';
import { untagged, type ImapResponse } from '../response.js';

async function quotaResponse(ctx: SessionContext): Promise<ImapResponse | undefined> {
  const q = await ctx.backend.quota(ctx.user!);
  if (q.limit === null) return undefined;
  return untagged('QUOTA', { str: '' }, ['STORAGE', Math.ceil(q.usedBytes / 1024), Math.floor(q.limit / 1024)]);
}

export const getquotarootCommand = defineCommand({
  name: 'GETQUOTAROOT',
  states: AUTHENTICATED,
  parse: (args, ctx) => {
    expectCount(args, 1);
    return ctx.decodeMailboxName(astring(args[0], 'mailbox name'));
  },
  run: async (ctx, name): Promise<CommandResult> => {
    const info = await ctx.backend.getMailbox(ctx.user!, name);
    if (!info) return { status: 'NO', code: 'NONEXISTENT', text: 'Mailbox does not exist' };
    const q = await quotaResponse(ctx);
    const wire = { str: ctx.encodeMailboxName(info.name) };
    return { untagged: q ? [untagged('QUOTAROOT', wire, { str: '' }), q] : [untagged('QUOTAROOT', wire)] };
  },
});

export const getquotaCommand = defineCommand({
  name: 'GETQUOTA',
  states: AUTHENTICATED,
  parse: (args) => {
    expectCount(args, 1);
    return astring(args[0], 'quota root');
  },
  run: async (ctx, root): Promise<CommandResult> => {
    const q = root === '' ? await quotaResponse(ctx) : undefined;
    if (!q) return { status: 'NO', code: 'NONEXISTENT', text: 'No such quota root' };
    return { untagged: [q] };
  },
});

export const setquotaCommand = defineCommand({
  name: 'SETQUOTA',
  states: AUTHENTICATED,
  parse: () => undefined,
  run: (): CommandResult => ({ status: 'NO', code: 'NOPERM', text: 'Quotas are set by the administrator' }),
});
