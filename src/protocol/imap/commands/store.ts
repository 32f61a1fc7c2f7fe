// STORE and UID STORE (RFC 3501 6.4.6) with UNCHANGEDSINCE (RFC 7162).
import { defineCommand, SELECTED, type CommandResult, type SessionContext } from '../command.js';
import { flagList, ImapParseError, isAtom, list, number, type Arg } from '../parser.js';
import { untagged, type ImapResponse, type ImapValue } from '../response.js';
import { parseMessageSet, resolveMessageSet, type MessageSetArg } from '../message-set.js';
import { formatSequenceSet } from '../sequence.js';
import type { FlagMode } from '../backend.js';

interface StoreArgs {
  set: MessageSetArg;
  unchangedSince: number | undefined;
  mode: FlagMode;
  silent: boolean;
  flags: string[];
}

const parser = (byUid: boolean) => (args: Arg[]): StoreArgs => {
  if (args.length < 2) throw new ImapParseError('Missing arguments');
  const set = parseMessageSet(args[0], byUid);
  let i = 1;
  let unchangedSince: number | undefined;
  if (args[i]?.type === 'list') {
    const mods = list(args[i++], 'STORE modifiers');
    for (let k = 0; k < mods.length; k++) {
      if (isAtom(mods[k], 'UNCHANGEDSINCE')) unchangedSince = number(mods[++k], 'mod-sequence');
      else throw new ImapParseError('Unknown STORE modifier');
    }
  }
  const item = args[i++];
  const m = isAtom(item) ? /^([+-]?)FLAGS(\.SILENT)?$/i.exec(item.value) : null;
  if (m === null) throw new ImapParseError('Expected FLAGS, +FLAGS or -FLAGS');
  const mode: FlagMode = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'replace';
  const flags = flagList(args.slice(i));
  return { set, unchangedSince, mode, silent: m[2] !== undefined, flags };
};

async function run(ctx: SessionContext, a: StoreArgs): Promise<CommandResult> {
  const sel = ctx.selected!;
  const user = ctx.user!;
  if (sel.readOnly) return { status: 'NO', code: 'READ-ONLY', text: 'Mailbox is read-only' };
  if (a.unchangedSince !== undefined) ctx.enable('CONDSTORE');
  const condstore = ctx.enabled.has('CONDSTORE');
  const uids = resolveMessageSet(sel, a.set);
  // A message another session expunged (this view still numbers it) has no row: nothing is stored on it and
  // nothing echoed, and the answer is OK, as Dovecot 2.3 answers (RFC 2180 4.2.1; 4.2.2 would have a NO for a
  // STORE without .SILENT naming only such messages, which would make a client think its STORE failed).
  const before = await ctx.backend.messages(user, sel.mailboxId, uids);
  const changed = await ctx.backend.setFlags(user, sel.mailboxId, uids, a.mode, a.flags, a.unchangedSince);
  const changedByUid = new Map(changed.map((c) => [c.uid, c]));
  // UNCHANGEDSINCE: the store decided under its lock; another session may have changed a message after
  // `before` was read, so what failed is read again from the ones left unchanged (RFC 7162 3.1.3).
  let failed: number[] = [];
  if (a.unchangedSince !== undefined) {
    const since = a.unchangedSince;
    const left = before.filter((r) => !changedByUid.has(r.uid)).map((r) => r.uid);
    const now = left.length === 0 ? [] : await ctx.backend.messages(user, sel.mailboxId, left);
    failed = now.filter((r) => r.modseq > since).map((r) => r.uid);
  }
  for (const c of changed) sel.markReported(c.uid, c.modseq);
  const out: ImapResponse[] = [];
  const byUid = a.set.byUid;
  const failedSet = new Set(failed);
  for (const r of before) {
    const now = changedByUid.get(r.uid) ?? r;
    const seq = sel.seqOf(r.uid);
    if (seq === 0 || failedSet.has(r.uid)) continue;
    // .SILENT suppresses the echo, except that CONDSTORE clients learn the new MODSEQ.
    if (a.silent && !(condstore && a.unchangedSince !== undefined && changedByUid.has(r.uid))) continue;
    const values: ImapValue[] = [];
    if (byUid) values.push('UID', r.uid);
    if (!a.silent) values.push('FLAGS', sel.flagsOf(r.uid, now.flags));
    if (condstore) values.push('MODSEQ', [now.modseq]);
    out.push(untagged(seq, 'FETCH', values));
  }
  if (failed.length > 0) {
    const ids = byUid ? failed : failed.map((u) => sel.seqOf(u)).filter((s) => s > 0);
    return { untagged: out, code: `MODIFIED ${formatSequenceSet(ids)}`, text: 'Some messages were modified' };
  }
  return { untagged: out };
}

export const storeCommand = defineCommand({ name: 'STORE', states: SELECTED, parse: parser(false), run, allowExpunge: false });
export const uidStoreCommand = defineCommand({ name: 'UID STORE', states: SELECTED, parse: parser(true), run });
