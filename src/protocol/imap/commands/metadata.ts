// GETMETADATA and SETMETADATA (RFC 5464), on the server (mailbox "") and on
// each mailbox, /private and /shared entries kept apart. Behaviour follows
// Dovecot 2.3 (imap_metadata = yes) where a client can tell:
// - values always go out as literals, names and mailboxes as atoms when they
//   can be; entry names lower-cased;
// - DEPTH 0 answers NIL for an entry without a value; DEPTH 1 and infinity
//   list only entries that have one (the entry itself and those below it);
//   nothing found means no METADATA response at all;
// - DEPTH takes "0", "1" or "infinity" in exactly those letters (Dovecot
//   answers BAD for "INFINITY", although RFC 5234 strings are case-insensitive);
// - a value holding NUL octets (literal8) is refused with NO [CANNOT], as
//   Dovecot refuses it (RFC 5464 would store it);
// - the server's /shared entries cannot be set (NO [CANNOT]): in Dovecot
//   they are the administrator's, and read as NIL;
// - no unsolicited METADATA responses are sent (RFC 5464 4.4 makes them optional).
// Where Postino differs from Dovecot on purpose:
// - an entry asked for twice, or reached from two requested entries, is
//   answered once (Dovecot repeats it): the answer stays bounded by what the
//   mailbox holds;
// - DEPTH 1 and infinity work on the server's entries too (Dovecot 2.3 finds
//   none there, which RFC 5464 4.2.2 does not allow);
// - values and entries are bounded (IMAP_LIMITS): NO [METADATA MAXSIZE n],
//   NO [METADATA TOOMANY], and NO [LIMIT] for over-long entry names;
// - arguments after SETMETADATA's list are BAD (Dovecot ignores them).
// NOPRIVATE is never sent: private entries are always kept.
import { defineCommand, AUTHENTICATED, type CommandResult, type SessionContext } from '../command.js';
import { astring, isAtom, ImapParseError, type Arg } from '../parser.js';
import { untagged, type ImapValue } from '../response.js';
import { IMAP_LIMITS } from '../limits.js';
import { checkEntryName, isBelow } from '../metadata-entry.js';
import type { MetadataChange, MetadataLimits } from '../backend.js';

type Depth = '0' | '1' | 'infinity';

interface GetArgs {
  mailbox: string;
  entries: string[];
  maxSize: number | undefined;
  depth: Depth;
  /** A well-formed entry name past Postino's bounds: NO [LIMIT]. */
  overLimit: string | undefined;
}

interface SetArgs {
  mailbox: string;
  changes: MetadataChange[];
  overLimit: string | undefined;
}

const LIMITS: MetadataLimits = {
  maxValueSize: IMAP_LIMITS.metadataMaxValueSize,
  maxEntriesPerMailbox: IMAP_LIMITS.metadataMaxEntriesPerMailbox,
  maxBytesPerMailbox: IMAP_LIMITS.metadataMaxBytesPerMailbox,
  maxEntriesPerAccount: IMAP_LIMITS.metadataMaxEntriesPerAccount,
  maxBytesPerAccount: IMAP_LIMITS.metadataMaxBytesPerAccount,
};

/** MAXSIZE is a number32 (Dovecot answers BAD from 2^32 on). */
const MAX_NUMBER32 = 0xffff_ffff;

/** ATOM-CHAR (RFC 3501 9): what may go out without quotes. */
const ATOM = /^[\x21\x23\x24\x26\x27\x2b-\x5b\x5e-\x7a\x7c-\x7e]+$/;

/** An astring as Dovecot writes one: an atom when it can be (never NIL), else a string. */
function astringValue(s: string): ImapValue {
  return ATOM.test(s) && s.toUpperCase() !== 'NIL' ? s : { str: s };
}

/** Checks entry names; the first over a bound is remembered for a NO [LIMIT] after the arguments parsed. */
class EntryNames {
  overLimit: string | undefined;
  check(arg: Arg | undefined): string {
    if (arg !== undefined && arg.type === 'list') throw new ImapParseError('Entry name must not be a list');
    const r = checkEntryName(astring(arg, 'entry name'), IMAP_LIMITS);
    if (r.ok) return r.name;
    if (r.kind === 'syntax') throw new ImapParseError(r.text);
    this.overLimit ??= r.text;
    return '';
  }
}

function parseOptions(items: Arg[]): { maxSize: number | undefined; depth: Depth } {
  let maxSize: number | undefined;
  let depth: Depth = '0';
  for (let i = 0; i < items.length; i += 2) {
    const name = items[i]!;
    const value = items[i + 1];
    if (isAtom(name, 'MAXSIZE')) {
      if (!isAtom(value) || !/^\d{1,10}$/.test(value.value) || Number(value.value) > MAX_NUMBER32) {
        throw new ImapParseError('Invalid value for MAXSIZE option');
      }
      maxSize = Number(value.value);
    } else if (isAtom(name, 'DEPTH')) {
      if (!isAtom(value) || (value.value !== '0' && value.value !== '1' && value.value !== 'infinity')) {
        throw new ImapParseError('Invalid value for DEPTH option');
      }
      depth = value.value;
    } else {
      throw new ImapParseError('Unknown option');
    }
  }
  return { maxSize, depth };
}

function mailboxArg(arg: Arg | undefined, ctx: SessionContext): string {
  if (arg === undefined || arg.type === 'list') throw new ImapParseError('Invalid arguments');
  const wire = astring(arg, 'mailbox name');
  return wire === '' ? '' : ctx.decodeMailboxName(wire);
}

/** The mailbox id (null: the server, mailbox ""), or the NO for a missing mailbox. */
async function resolve(ctx: SessionContext, mailbox: string): Promise<{ id: number | null; wire: ImapValue } | CommandResult> {
  if (mailbox === '') return { id: null, wire: { str: '' } };
  const ref = await ctx.backend.findMailbox(ctx.user!, mailbox);
  if (!ref) return { status: 'NO', code: 'NONEXISTENT', text: `Mailbox doesn't exist: ${mailbox}` };
  return { id: ref.id, wire: astringValue(ctx.encodeMailboxName(ref.name)) };
}

export const getmetadataCommand = defineCommand<GetArgs>({
  name: 'GETMETADATA',
  states: AUTHENTICATED,
  parse: (args, ctx) => {
    const first = args[0];
    const options = first?.type === 'list' ? parseOptions(first.items) : { maxSize: undefined, depth: '0' as const };
    let i = first?.type === 'list' ? 1 : 0;
    const mailbox = mailboxArg(args[i++], ctx);
    const entriesArg = args[i++];
    if (entriesArg === undefined || i !== args.length) throw new ImapParseError('Invalid arguments');
    const names = new EntryNames();
    const raw = entriesArg.type === 'list' ? entriesArg.items : [entriesArg];
    // Each name once: the answer and the work stay bounded by what the mailbox holds.
    const entries = [...new Set(raw.map((a) => names.check(a)))];
    return { mailbox, entries, ...options, overLimit: names.overLimit };
  },
  run: async (ctx, a): Promise<CommandResult> => {
    const target = await resolve(ctx, a.mailbox);
    if (!('id' in target)) return target;
    if (a.overLimit !== undefined) return { status: 'NO', code: 'LIMIT', text: a.overLimit };
    const seen = new Set<string>();
    const found: ImapValue[] = [];
    let longest = -1;
    const add = (entry: string, value: Buffer | null) => {
      if (seen.has(entry)) return;
      seen.add(entry);
      if (value !== null && a.maxSize !== undefined && value.length > a.maxSize) {
        // RFC 5464 4.2.1: left out, and the longest one left out is named in LONGENTRIES.
        longest = Math.max(longest, value.length);
        return;
      }
      found.push(astringValue(entry), value === null ? null : { literal: value });
    };
    for (const entry of a.entries) {
      if (a.depth === '0') {
        const [row] = await ctx.backend.readMetadata(ctx.user!, target.id, entry, false);
        add(entry, row ? row.value : null);
        continue;
      }
      for (const row of await ctx.backend.readMetadata(ctx.user!, target.id, entry, true)) {
        if (row.entry === entry || isBelow(entry, row.entry, a.depth === 'infinity')) add(row.entry, row.value);
      }
    }
    return {
      untagged: found.length > 0 ? [untagged('METADATA', target.wire, found)] : [],
      code: longest >= 0 ? `METADATA LONGENTRIES ${longest}` : undefined,
      text: 'GETMETADATA completed',
    };
  },
});

export const setmetadataCommand = defineCommand<SetArgs>({
  name: 'SETMETADATA',
  states: AUTHENTICATED,
  parse: (args, ctx) => {
    const mailbox = mailboxArg(args[0], ctx);
    const listArg = args[1];
    if (listArg === undefined || listArg.type !== 'list') throw new ImapParseError('Invalid arguments');
    if (args.length > 2) throw new ImapParseError('Too many arguments');
    const names = new EntryNames();
    const changes: MetadataChange[] = [];
    const items = listArg.items;
    for (let i = 0; i < items.length; i += 2) {
      const entry = names.check(items[i]);
      const value = items[i + 1];
      if (value === undefined) throw new ImapParseError('Entry value missing');
      if (value.type === 'list') throw new ImapParseError("Entry value can't be a list");
      // A value is an nstring or a literal8; Dovecot takes a bare atom as its text too.
      if (value.type === 'string') changes.push({ entry, value: value.value });
      else changes.push({ entry, value: value.value.toUpperCase() === 'NIL' ? null : Buffer.from(value.value, 'utf8') });
    }
    return { mailbox, changes, overLimit: names.overLimit };
  },
  run: async (ctx, a): Promise<CommandResult> => {
    const target = await resolve(ctx, a.mailbox);
    if (!('id' in target)) return target;
    if (a.overLimit !== undefined) return { status: 'NO', code: 'LIMIT', text: a.overLimit };
    for (const c of a.changes) {
      if (target.id === null && (c.entry === '/shared' || c.entry.startsWith('/shared/'))) {
        return { status: 'NO', code: 'CANNOT', text: `The server's ${c.entry} entry cannot be changed` };
      }
      if (c.value !== null && c.value.includes(0)) return { status: 'NO', code: 'CANNOT', text: 'Entry value has NULs' };
    }
    const r = await ctx.backend.setMetadata(ctx.user!, target.id, a.changes, LIMITS);
    if (r.ok) return { text: 'SETMETADATA completed' };
    if (r.reason === 'maxsize') return { status: 'NO', code: `METADATA MAXSIZE ${r.maxSize}`, text: 'Entry value is too long' };
    return { status: 'NO', code: 'METADATA TOOMANY', text: 'Too many entries, or too much data, in this mailbox or account' };
  },
});
