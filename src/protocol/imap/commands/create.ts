// CREATE, with missing superior names created too (RFC 3501 6.3.3) and
// CREATE-SPECIAL-USE (RFC 6154).
import { defineCommand, AUTHENTICATED, type CommandResult } from '../command.js';
import { astring, expectCount, isAtom, list, ImapParseError } from '../parser.js';
import type { SpecialUse } from '../backend.js';

const USES = new Set(['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive', '\\All', '\\Flagged']);

/** The name without trailing hierarchy separators (a loop: /\/+$/ backtracks over a long run of them). */
export function withoutTrailingSeparators(name: string): string {
  let end = name.length;
  while (end > 0 && name[end - 1] === '/') end--;
  return name.slice(0, end);
}

export const createCommand = defineCommand({
  name: 'CREATE',
  states: AUTHENTICATED,
  parse: (args, ctx) => {
    expectCount(args, 1, 2);
    const name = withoutTrailingSeparators(ctx.decodeMailboxName(astring(args[0], 'mailbox name')));
    let specialUse: SpecialUse | null = null;
    if (args[1] !== undefined) {
      const params = list(args[1], 'create parameters');
      if (!isAtom(params[0], 'USE')) throw new ImapParseError('Unknown CREATE parameter');
      const uses = list(params[1], 'USE list');
      if (uses.length !== 1 || !isAtom(uses[0])) throw new ImapParseError('Expected one special-use attribute');
      const use = uses[0].value;
      const canonical = [...USES].find((u) => u.toLowerCase() === use.toLowerCase());
      if (canonical === undefined) throw new ImapParseError('Unknown special-use attribute');
      specialUse = canonical as SpecialUse;
    }
    return { name, specialUse };
  },
  run: async (ctx, { name, specialUse }): Promise<CommandResult> => {
    const user = ctx.user!;
    if (name === '' ) return { status: 'NO', code: 'CANNOT', text: 'Empty mailbox name' };
    if (name === 'INBOX') return { status: 'NO', code: 'ALREADYEXISTS', text: 'INBOX always exists' };
    if (await ctx.backend.getMailbox(user, name)) return { status: 'NO', code: 'ALREADYEXISTS', text: 'Mailbox exists already' };
    const levels = name.split('/');
    for (let i = 1; i < levels.length; i++) {
      const parent = levels.slice(0, i).join('/');
      if (!(await ctx.backend.getMailbox(user, parent))) await ctx.backend.createMailbox(user, parent);
    }
    await ctx.backend.createMailbox(user, name, specialUse);
    return { text: 'CREATE completed' };
  },
});
