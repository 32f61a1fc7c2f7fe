// APPEND (RFC 3501 6.3.11) with MULTIAPPEND (RFC 3502: several messages,
// all or none), literal8 data (RFC 3516), UTF8 (~{n}) data once UTF8=ACCEPT
// is enabled (RFC 6855 4), and UIDPLUS APPENDUID with every new UID.
import { defineCommand, AUTHENTICATED, type CommandResult, type SessionContext } from '../command.js';
import { astring, flagList, ImapParseError, isAtom, type Arg } from '../parser.js';
import { parseDateTime } from '../response.js';
import { errorCode, errorResult } from '../errors.js';
import { formatUidList } from '../sequence.js';

interface AppendMessage {
  flags: string[];
  date: number | undefined;
  data: Buffer;
}

const isFlagList = (a: Arg | undefined): boolean => a?.type === 'list' && a.items.every((f) => f.type === 'atom');

/** One append-message: [flag-list] [date-time] (literal / literal8 / UTF8 (literal8)), from args[i]. */
function parseMessage(args: Arg[], i: number, ctx: SessionContext): [AppendMessage, number] {
  let flags: string[] = [];
  let date: number | undefined;
  if (isFlagList(args[i])) flags = flagList([args[i++]!]);
  const d = args[i];
  if (d?.type === 'string' && !d.literal) {
    date = parseDateTime(d.value.toString('latin1'));
    if (date === undefined) throw new ImapParseError('Bad date-time');
    i++;
  }
  const a = args[i++];
  if (a?.type === 'string' && a.literal) return [{ flags, date, data: a.value }, i];
  if (isAtom(a, 'UTF8')) {
    if (!ctx.enabled.has('UTF8=ACCEPT')) throw new ImapParseError('UTF8 data needs ENABLE UTF8=ACCEPT');
    const inner = args[i++];
    const lit = inner?.type === 'list' && inner.items.length === 1 ? inner.items[0] : undefined;
    if (lit?.type !== 'string' || lit.binary !== true) throw new ImapParseError('UTF8 data must be a literal8 in parentheses');
    return [{ flags, date, data: lit.value }, i];
  }
  throw new ImapParseError('Expected the message as a literal');
}

export const appendCommand = defineCommand({
  name: 'APPEND',
  states: AUTHENTICATED,
  parse: (args, ctx) => {
    if (args.length < 2) throw new ImapParseError('Wrong number of arguments');
    const name = ctx.decodeMailboxName(astring(args[0], 'mailbox name'));
    const messages: AppendMessage[] = [];
    for (let i = 1; i < args.length; ) {
      const [m, next] = parseMessage(args, i, ctx);
      messages.push(m);
      i = next;
    }
    return { name, messages };
  },
  run: async (ctx, { name, messages }): Promise<CommandResult> => {
    for (const m of messages) {
      if (m.data.length === 0) return { status: 'NO', code: 'CANNOT', text: 'Empty message' };
      if (m.data.length > ctx.backend.appendLimit) return { status: 'NO', code: 'TOOBIG', text: 'Message too big' };
    }
    const user = ctx.user!;
    const box = ctx.backend.findMailbox(user, name);
    if (!box) return { status: 'NO', code: 'TRYCREATE', text: 'Mailbox does not exist' };
    // One unit: all the messages with ascending UIDs in their order, or none (RFC 3502 6).
    let appended;
    try {
      appended = await ctx.backend.appendMany(
        user,
        name,
        messages.map((m) => ({ raw: m.data, flags: m.flags, internalDate: m.date })),
      );
    } catch (err) {
      if (errorCode(err) === 'NONEXISTENT') return { status: 'NO', code: 'TRYCREATE', text: 'Mailbox does not exist' };
      return errorResult(err);
    }
    const { uidValidity, uids } = appended;
    return { code: `APPENDUID ${uidValidity} ${formatUidList(uids)}`, text: 'APPEND completed' };
  },
});
