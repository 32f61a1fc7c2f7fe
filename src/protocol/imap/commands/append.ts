// APPEND with flags and date (UIDPLUS APPENDUID in the reply).
import { defineCommand, AUTHENTICATED, type CommandResult } from '../command.js';
import { astring, flagList, ImapParseError, type Arg } from '../parser.js';
import { parseDateTime } from '../response.js';
import { errorCode, errorResult } from '../errors.js';

export const appendCommand = defineCommand({
  name: 'APPEND',
  states: AUTHENTICATED,
  parse: (args, ctx) => {
    if (args.length < 2 || args.length > 4) throw new ImapParseError('Wrong number of arguments');
    const name = ctx.decodeMailboxName(astring(args[0], 'mailbox name'));
    let flags: string[] = [];
    let date: number | undefined;
    let i = 1;
    if (args[i]?.type === 'list') flags = flagList([args[i++] as Arg]);
    if (i < args.length - 1) {
      const d = args[i++]!;
      if (d.type !== 'string') throw new ImapParseError('Expected a date-time string');
      date = parseDateTime(d.value.toString('latin1'));
      if (date === undefined) throw new ImapParseError('Bad date-time');
    }
    const message = args[i];
    if (message === undefined || message.type !== 'string' || i !== args.length - 1) throw new ImapParseError('Expected the message as a literal');
    return { name, flags, date, message: message.value };
  },
  run: async (ctx, { name, flags, date, message }): Promise<CommandResult> => {
    if (message.length === 0) return { status: 'NO', code: 'CANNOT', text: 'Empty message' };
    if (message.length > ctx.backend.appendLimit) return { status: 'NO', code: 'TOOBIG', text: 'Message too big' };
    const user = ctx.user!;
    if (!ctx.backend.findMailbox(user, name)) return { status: 'NO', code: 'TRYCREATE', text: 'Mailbox does not exist' };
    try {
      const r = await ctx.backend.append(user, name, message, flags, date);
      return { code: `APPENDUID ${r.uidValidity} ${r.uid}`, text: 'APPEND completed' };
    } catch (err) {
      if (errorCode(err) === 'NONEXISTENT') return { status: 'NO', code: 'TRYCREATE', text: 'Mailbox does not exist' };
      return errorResult(err);
    }
  },
});
