// COPY and MOVE (RFC 6851), sequence and UID forms, with UIDPLUS COPYUID.
import { defineCommand, SELECTED, type CommandResult, type SessionContext } from '../command.js';
import { astring, expectCount, type Arg } from '../parser.js';
import { statusResponse } from '../response.js';
import { parseMessageSet, resolveMessageSet, type MessageSetArg } from '../message-set.js';
import { formatUidList } from '../sequence.js';

interface CopyArgs {
  set: MessageSetArg;
  target: string;
}

const parser = (byUid: boolean) => (args: Arg[], ctx: SessionContext): CopyArgs => {
  expectCount(args, 2);
  return { set: parseMessageSet(args[0], byUid), target: ctx.decodeMailboxName(astring(args[1], 'mailbox name')) };
};

const runner = (move: boolean) => async (ctx: SessionContext, { set, target }: CopyArgs): Promise<CommandResult> => {
  const sel = ctx.selected!;
  const user = ctx.user!;
  if (move && sel.readOnly) return { status: 'NO', code: 'READ-ONLY', text: 'Mailbox is read-only' };
  const uids = resolveMessageSet(sel, set);
  const dest = await ctx.backend.findMailbox(user, target);
  if (!dest) return { status: 'NO', code: 'TRYCREATE', text: 'Mailbox does not exist' };
  if (uids.length === 0) return { text: move ? 'MOVE completed' : 'COPY completed' };
  // A MOVE between two mailboxes is one step in the store; into the same mailbox it is a copy, then an expunge.
  const between = move && dest.id !== sel.mailboxId;
  const pairs = await (between ? ctx.backend.move(user, sel.mailboxId, uids, dest.id) : ctx.backend.copy(user, sel.mailboxId, uids, dest.id));
  if (pairs.length === 0) return { text: 'No messages' };
  const code = `COPYUID ${dest.uidValidity} ${formatUidList(pairs.map((p) => p[0]))} ${formatUidList(pairs.map((p) => p[1]))}`;
  if (!move) return { code, text: 'COPY completed' };
  if (!between) await ctx.backend.expunge(user, sel.mailboxId, pairs.map((p) => p[0]));
  return { untagged: [statusResponse('OK', 'Moved', code)], text: 'MOVE completed' };
};

export const copyCommand = defineCommand({ name: 'COPY', states: SELECTED, parse: parser(false), run: runner(false) });
export const uidCopyCommand = defineCommand({ name: 'UID COPY', states: SELECTED, parse: parser(true), run: runner(false) });
export const moveCommand = defineCommand({ name: 'MOVE', states: SELECTED, parse: parser(false), run: runner(true) });
export const uidMoveCommand = defineCommand({ name: 'UID MOVE', states: SELECTED, parse: parser(true), run: runner(true) });

