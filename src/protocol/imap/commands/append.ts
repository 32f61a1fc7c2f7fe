// APPEND (RFC 3501 6.3.11) with MULTIAPPEND (RFC 3502: several messages,
// all or none), literal8 data (RFC 3516), UTF8 (~{n}) data once UTF8=ACCEPT
// is enabled (RFC 6855 4), CATENATE (RFC 4469: a message made of literal
// text and parts of messages already stored, named by IMAP URLs), and
// UIDPLUS APPENDUID with every new UID.
import { defineCommand, AUTHENTICATED, type CommandResult, type SessionContext } from '../command.js';
import { astring, flagList, ImapParseError, isAtom, type Arg } from '../parser.js';
import { parseDateTime } from '../response.js';
import { errorCode, errorResult } from '../errors.js';
import { formatUidList } from '../sequence.js';
import { parseMessageUrl } from '../imap-url.js';
import { parseSection, sectionBytes } from '../fetch-structure.js';

/** One piece of a CATENATE: literal text, or an IMAP URL of a stored message or part. */
type CatPart = { kind: 'text'; data: Buffer } | { kind: 'url'; url: string };

interface AppendMessage {
  flags: string[];
  date: number | undefined;
  /** The message, or (CATENATE) the pieces it is made of. */
  data: Buffer | CatPart[];
}

/** A CATENATE URL that names nothing this user can read (RFC 4469 BADURL). */
class BadUrl extends Error {
  constructor(readonly url: string) {
    super('bad URL');
  }
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
  if (isAtom(a, 'CATENATE')) return [{ flags, date, data: parseCatenate(args[i++]) }, i];
  if (isAtom(a, 'UTF8')) {
    if (!ctx.enabled.has('UTF8=ACCEPT')) throw new ImapParseError('UTF8 data needs ENABLE UTF8=ACCEPT');
    const inner = args[i++];
    const lit = inner?.type === 'list' && inner.items.length === 1 ? inner.items[0] : undefined;
    if (lit?.type !== 'string' || lit.binary !== true) throw new ImapParseError('UTF8 data must be a literal8 in parentheses');
    return [{ flags, date, data: lit.value }, i];
  }
  throw new ImapParseError('Expected the message as a literal');
}

/** "(TEXT literal URL astring ...)": at least one part (RFC 4469 5). */
function parseCatenate(arg: Arg | undefined): CatPart[] {
  if (arg?.type !== 'list' || arg.items.length === 0) throw new ImapParseError('CATENATE needs a list of parts');
  const parts: CatPart[] = [];
  for (let k = 0; k < arg.items.length; k += 2) {
    const value = arg.items[k + 1];
    if (isAtom(arg.items[k], 'TEXT')) {
      if (value?.type !== 'string' || !value.literal) throw new ImapParseError('CATENATE TEXT must be a literal');
      parts.push({ kind: 'text', data: value.value });
    } else if (isAtom(arg.items[k], 'URL')) {
      parts.push({ kind: 'url', url: astring(value, 'URL') });
    } else throw new ImapParseError('CATENATE parts are TEXT or URL');
  }
  return parts;
}

/** The bytes a CATENATE URL names: one message or part of this user's, whole or partial. */
async function urlBytes(ctx: SessionContext, url: string): Promise<Buffer> {
  const u = parseMessageUrl(url);
  const user = ctx.user!;
  if (u === undefined || (u.user !== undefined && u.user.toLowerCase() !== user.address.toLowerCase())) throw new BadUrl(url);
  let name: string;
  try {
    name = ctx.decodeMailboxName(u.mailbox);
  } catch {
    throw new BadUrl(url);
  }
  const box = await ctx.backend.findMailbox(user, name);
  if (box === undefined || (u.uidValidity !== undefined && u.uidValidity !== box.uidValidity)) throw new BadUrl(url);
  const rec = (await ctx.backend.messages(user, box.id, [u.uid]))[0];
  if (rec === undefined) throw new BadUrl(url);
  if (parseSection(u.section) === null) throw new BadUrl(url);
  // A part the message does not have is empty, as FETCH answers it (and as Dovecot catenates it).
  const raw = await ctx.backend.readMessage(user, box.id, u.uid);
  return sectionBytes(raw, ctx.backend.messageIndex(user, rec, raw)!, u.section, u.partial) ?? Buffer.alloc(0);
}

/** Puts a CATENATE together, stopping as soon as it passes the size limit. */
async function catenate(ctx: SessionContext, parts: CatPart[]): Promise<Buffer | 'TOOBIG'> {
  const pieces: Buffer[] = [];
  let size = 0;
  for (const p of parts) {
    const bytes = p.kind === 'text' ? p.data : await urlBytes(ctx, p.url);
    size += bytes.length;
    if (size > ctx.backend.appendLimit) return 'TOOBIG';
    pieces.push(bytes);
  }
  return Buffer.concat(pieces);
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
    const datas: Buffer[] = [];
    for (const m of messages) {
      let data: Buffer;
      if (Buffer.isBuffer(m.data)) data = m.data;
      else {
        try {
          const made = await catenate(ctx, m.data);
          if (made === 'TOOBIG') return { status: 'NO', code: 'TOOBIG', text: 'Message too big' };
          data = made;
        } catch (err) {
          if (err instanceof BadUrl) return { status: 'NO', code: `BADURL ${err.url.replace(/[\]\r\n]/g, '')}`, text: 'CATENATE URL names no message part' };
          throw err;
        }
      }
      if (data.length === 0) return { status: 'NO', code: 'CANNOT', text: 'Empty message' };
      if (data.length > ctx.backend.appendLimit) return { status: 'NO', code: 'TOOBIG', text: 'Message too big' };
      datas.push(data);
    }
    const user = ctx.user!;
    const box = await ctx.backend.findMailbox(user, name);
    if (!box) return { status: 'NO', code: 'TRYCREATE', text: 'Mailbox does not exist' };
    // One unit: all the messages with ascending UIDs in their order, or none (RFC 3502 6).
    let appended;
    try {
      appended = await ctx.backend.appendMany(
        user,
        name,
        messages.map((m, k) => ({ raw: datas[k]!, flags: m.flags, internalDate: m.date })),
      );
    } catch (err) {
      if (errorCode(err) === 'NONEXISTENT') return { status: 'NO', code: 'TRYCREATE', text: 'Mailbox does not exist' };
      return errorResult(err);
    }
    const { uidValidity, uids } = appended;
    return { code: `APPENDUID ${uidValidity} ${formatUidList(uids)}`, text: 'APPEND completed' };
  },
});
