// SELECT and EXAMINE: open a mailbox and report its state (RFC 3501 6.3.1,
// RFC 9051 6.3.2, HIGHESTMODSEQ from RFC 7162, and QRESYNC's quick
// resynchronisation). SELECT claims the messages no session has seen as
// \Recent; EXAMINE sees them without taking them from anyone.
import { defineCommand, AUTHENTICATED, type CommandResult, type SessionContext } from '../command.js';
import { astring, expectCount, isAtom, list, number, ImapParseError, type Arg } from '../parser.js';
import { untagged, statusResponse, type ImapResponse } from '../response.js';
import { SelectedMailbox, flagsResponses } from '../selected.js';
import { parseSequenceSet, selectFromSorted, formatSequenceSet, type SeqRange } from '../sequence.js';

interface QresyncParams {
  uidValidity: number;
  modseq: number;
  knownUids: SeqRange[] | undefined;
}

interface SelectArgs {
  name: string;
  condstore: boolean;
  qresync: QresyncParams | undefined;
}

function parseQresync(items: Arg[]): QresyncParams {
  if (items.length < 2) throw new ImapParseError('QRESYNC needs UIDVALIDITY and MODSEQ');
  const uidValidity = number(items[0], 'UIDVALIDITY');
  const modseq = number(items[1], 'mod-sequence');
  let knownUids: SeqRange[] | undefined;
  if (items[2] !== undefined && isAtom(items[2])) knownUids = parseSequenceSet(items[2].value);
  return { uidValidity, modseq, knownUids };
}


function parse(args: Arg[], ctx: SessionContext) {
  expectCount(args, 1, 2);
  const name = ctx.decodeMailboxName(astring(args[0], 'mailbox name'));
  let condstore = false;
  let qresync: QresyncParams | undefined;
  if (args[1] !== undefined) {
    const params = list(args[1], 'select parameters');
    for (let i = 0; i < params.length; i++) {
      const p = params[i];
      if (isAtom(p, 'CONDSTORE')) condstore = true;
      else if (isAtom(p, 'QRESYNC')) {
        if (!ctx.enabled.has('QRESYNC')) throw new ImapParseError('ENABLE QRESYNC first');
        qresync = parseQresync(list(params[++i], 'QRESYNC parameters'));
      } else throw new ImapParseError('Unknown SELECT parameter');
    }
  }
  return { name, condstore, qresync };
}

function run(readOnly: boolean) {
  return async (ctx: SessionContext, args: SelectArgs): Promise<CommandResult> => {
    // A failed SELECT leaves no mailbox selected (RFC 3501 6.3.1); QRESYNC and IMAP4rev2 clients hear [CLOSED].
    const announceClose = ctx.enabled.has('QRESYNC') || ctx.rev2;
    const closed = ctx.selected !== undefined && announceClose ? [statusResponse('OK', 'Previous mailbox closed', 'CLOSED')] : [];
    ctx.select(undefined);
    if (args.condstore) ctx.enable('CONDSTORE');
    const user = ctx.user!;
    const info = await ctx.backend.findMailbox(user, args.name);
    if (info === undefined) return { untagged: closed, status: 'NO', code: 'NONEXISTENT', text: 'Mailbox does not exist' };
    const state = await ctx.backend.selectState(user, info.id);
    const recentFrom = (uidNext: number) => ctx.backend.recentFrom(user, info.id, uidNext, !readOnly);
    const changes = async (since: number) => {
      try {
        return await ctx.backend.changesSince(user, info.id, since);
      } catch {
        return undefined; // gone, or the index busy: the next look catches up from the same MODSEQ
      }
    };
    // The \Recent tail is claimed before the view starts (all of a new mailbox's messages, at most one call).
    const last = state.uids[state.uids.length - 1] ?? 0;
    const firstRecent = await recentFrom(Math.max(info.uidNext, last + 1));
    const selected = new SelectedMailbox(info, { ...state, firstRecent }, readOnly, changes, recentFrom);
    selected.hideRecent = ctx.rev2;
    const firstUnseen = state.firstUnseenUid === undefined ? 0 : selected.seqOf(state.firstUnseenUid);
    const highest = state.highestModseq;
    const out: ImapResponse[] = [
      ...closed,
      ...flagsResponses(state.keywords, readOnly),
      untagged(state.uids.length, 'EXISTS'),
    ];
    if (ctx.rev2) {
      // RFC 9051 6.3.2: a LIST response with the name; its attributes need not be complete.
      out.push(untagged('LIST', info.specialUse ? [info.specialUse] : [], { str: '/' }, { str: ctx.encodeMailboxName(info.name) }));
    } else {
      out.push(untagged(selected.recentCount, 'RECENT'));
      if (firstUnseen > 0) out.push(statusResponse('OK', 'First unseen', `UNSEEN ${firstUnseen}`));
    }
    out.push(
      statusResponse('OK', 'UIDs valid', `UIDVALIDITY ${info.uidValidity}`),
      statusResponse('OK', 'Predicted next UID', `UIDNEXT ${Math.max(info.uidNext, (state.uids[state.uids.length - 1] ?? 0) + 1)}`),
      statusResponse('OK', 'Highest', `HIGHESTMODSEQ ${highest}`),
    );
    if (args.qresync && args.qresync.uidValidity === info.uidValidity) {
      // What changed since the client's MODSEQ: expunged UIDs, then changed messages.
      let gone = await ctx.backend.expungedSince(user, info.id, args.qresync.modseq);
      if (args.qresync.knownUids) gone = selectFromSorted(args.qresync.knownUids, gone);
      if (gone.length > 0) out.push(untagged('VANISHED', '(EARLIER)', formatSequenceSet(gone)));
      const changed = (await ctx.backend.messages(user, info.id, state.uids)).filter((r) => r.modseq > args.qresync!.modseq);
      for (const r of changed) out.push(untagged(selected.seqOf(r.uid), 'FETCH', ['UID', r.uid, 'FLAGS', r.flags, 'MODSEQ', [r.modseq]]));
    }
    // Kept from here on: what another session expunges while this view numbers it (RFC 2180 4.1.1).
    selected.holdExpunged(await ctx.backend.holdExpunged?.(user, info.id, (uid) => selected.seqOf(uid) !== 0));
    ctx.select(selected);
    return { untagged: out, code: readOnly ? 'READ-ONLY' : 'READ-WRITE', text: readOnly ? 'EXAMINE completed' : 'SELECT completed' };
  };
}

export const selectCommand = defineCommand({ name: 'SELECT', states: AUTHENTICATED, parse, run: run(false) });
export const examineCommand = defineCommand({ name: 'EXAMINE', states: AUTHENTICATED, parse, run: run(true) });
