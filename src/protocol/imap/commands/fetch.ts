// FETCH and UID FETCH (RFC 3501 6.4.5, CHANGEDSINCE and MODSEQ from RFC 7162,
// BINARY from RFC 3516). Structure comes from the stored MIME index (rendered
// by fetch-structure.ts); body sections are cut from the raw message by byte
// offsets, binary ones decoded by binary.ts.
import { defineCommand, SELECTED, type CommandResult, type SessionContext } from '../command.js';
import { ImapParseError, isAtom, list, number, type Arg } from '../parser.js';
import { untagged, formatInternalDate, type ImapResponse, type ImapValue } from '../response.js';
import { parseMessageSet, resolveMessageSet, type MessageSetArg } from '../message-set.js';
import { selectFromSorted, formatSequenceSet } from '../sequence.js';
import { parseSection, renderBody, renderBodyStructure, renderEnvelope, sectionBytes, type SectionSpec } from '../fetch-structure.js';
import { binaryContent, UnknownCteError } from '../binary.js';
import type { BodyReader, MessageIndex, MessageRecord } from '../backend.js';
import type { SelectedMailbox } from '../selected.js';
import { errorCode } from '../errors.js';
import { parsePartialRange, partialSlice, type PartialRange as PageRange } from '../partial-range.js';
import { BODY_NEEDED, bodyNeeded, inOrderChunks } from '../read-ahead.js';

interface PartialRange {
  offset: number;
  length?: number;
}

export type FetchItem =
  | { kind: 'simple'; name: 'UID' | 'FLAGS' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODY' | 'BODYSTRUCTURE' | 'MODSEQ' }
  | { kind: 'section'; label: string; spec: SectionSpec; peek: boolean; partial?: PartialRange }
  | { kind: 'binary'; label: string; path: number[]; peek: boolean; partial?: PartialRange }
  | { kind: 'binary-size'; label: string; path: number[] };

export interface FetchArgs {
  set: MessageSetArg;
  items: FetchItem[];
  changedSince: number | undefined;
  /** UID FETCH ... (CHANGEDSINCE n VANISHED): QRESYNC. */
  vanished: boolean;
  /** (PARTIAL range): only that page of the messages the set names (RFC 9394 3.3). */
  pageRange?: PageRange;
}

const MACROS: Record<string, string[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

const SLICE = 500;

const SIMPLE = new Set(['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE', 'MODSEQ']);

const SECTION_ITEM = /^(BODY|BODY\.PEEK)\[(.*)\](?:<(\d+)(?:\.(\d+))?>)?$/is;
/** RFC 3516: only part numbers in a binary section. */
const BINARY_ITEM = /^(BINARY|BINARY\.PEEK|BINARY\.SIZE)\[((?:[1-9]\d{0,8})(?:\.[1-9]\d{0,8})*)?\](?:<(\d+)(?:\.(\d+))?>)?$/i;

function parsePartial(offset: string | undefined, length: string | undefined): PartialRange | undefined {
  if (offset === undefined) return undefined;
  const partial: PartialRange = { offset: Number(offset) };
  if (length !== undefined) {
    partial.length = Number(length);
    if (partial.length === 0) throw new ImapParseError('PartialRange length must be positive');
  }
  if (!Number.isSafeInteger(partial.offset) || !Number.isSafeInteger(partial.length ?? 0)) throw new ImapParseError('PartialRange out of range');
  return partial;
}

function parseBinaryItem(m: RegExpExecArray): FetchItem {
  const name = m[1]!.toUpperCase();
  const section = m[2] ?? '';
  const path = section === '' ? [] : section.split('.').map(Number);
  if (name === 'BINARY.SIZE') {
    if (m[3] !== undefined) throw new ImapParseError('BINARY.SIZE takes no partial');
    return { kind: 'binary-size', label: `BINARY.SIZE[${section}]`, path };
  }
  const partial = parsePartial(m[3], m[4]);
  return { kind: 'binary', label: `BINARY[${section}]${partial ? `<${partial.offset}>` : ''}`, path, peek: name === 'BINARY.PEEK', ...(partial ? { partial } : {}) };
}

function sectionLabel(spec: SectionSpec): string {
  const parts: string[] = [];
  if (spec.path.length > 0) parts.push(spec.path.join('.'));
  if (spec.kind !== '') parts.push(spec.kind);
  let label = parts.join('.');
  if (spec.fields) label += ` (${spec.fields.join(' ')})`;
  return label;
}

export function parseFetchItem(text: string): FetchItem {
  const upper = text.toUpperCase();
  if (SIMPLE.has(upper)) return { kind: 'simple', name: upper as 'UID' };
  if (upper === 'RFC822') return { kind: 'section', label: 'RFC822', spec: { path: [], kind: '' }, peek: false };
  if (upper === 'RFC822.HEADER') return { kind: 'section', label: 'RFC822.HEADER', spec: { path: [], kind: 'HEADER' }, peek: true };
  if (upper === 'RFC822.TEXT') return { kind: 'section', label: 'RFC822.TEXT', spec: { path: [], kind: 'TEXT' }, peek: false };
  const b = BINARY_ITEM.exec(text);
  if (b !== null) return parseBinaryItem(b);
  if (/^BINARY/i.test(text)) throw new ImapParseError('Bad binary section');
  const m = SECTION_ITEM.exec(text);
  if (m === null) throw new ImapParseError(`Unknown FETCH item ${text.slice(0, 40)}`);
  const spec = parseSection(m[2]!);
  if (spec === null) throw new ImapParseError('Bad section');
  const partial = parsePartial(m[3], m[4]);
  const label = `BODY[${sectionLabel(spec)}]${partial ? `<${partial.offset}>` : ''}`;
  return { kind: 'section', label, spec, peek: m[1]!.toUpperCase() === 'BODY.PEEK', ...(partial ? { partial } : {}) };
}

function parseItems(arg: Arg | undefined): FetchItem[] {
  if (arg === undefined) throw new ImapParseError('Missing FETCH items');
  if (arg.type === 'atom') {
    const macro = MACROS[arg.value.toUpperCase()];
    if (macro) return macro.map(parseFetchItem);
    return [parseFetchItem(arg.value)];
  }
  const items = list(arg, 'FETCH items');
  if (items.length === 0) throw new ImapParseError('Empty FETCH item list');
  return items.map((a) => {
    if (!isAtom(a)) throw new ImapParseError('Bad FETCH item');
    return parseFetchItem(a.value);
  });
}

const parser = (byUid: boolean) => (args: Arg[]): FetchArgs => {
  if (args.length < 2 || args.length > 3) throw new ImapParseError('Wrong number of arguments');
  const set = parseMessageSet(args[0], byUid);
  const items = parseItems(args[1]);
  let changedSince: number | undefined;
  let vanished = false;
  let pageRange: PageRange | undefined;
  if (args[2] !== undefined) {
    const mods = list(args[2], 'FETCH modifiers');
    for (let i = 0; i < mods.length; i++) {
      if (isAtom(mods[i], 'CHANGEDSINCE')) changedSince = number(mods[++i], 'mod-sequence');
      else if (byUid && isAtom(mods[i], 'VANISHED')) vanished = true;
      else if (isAtom(mods[i], 'PARTIAL')) {
        if (pageRange !== undefined) throw new ImapParseError('PARTIAL can be used only once');
        pageRange = parsePartialRange(mods[++i]);
      }
      else throw new ImapParseError('Unknown FETCH modifier');
    }
    if (vanished && changedSince === undefined) throw new ImapParseError('VANISHED needs CHANGEDSINCE');
  }
  if (byUid && !items.some((i) => i.kind === 'simple' && i.name === 'UID')) items.unshift({ kind: 'simple', name: 'UID' });
  return pageRange === undefined ? { set, items, changedSince, vanished } : { set, items, changedSince, vanished, pageRange };
};

/**
 * The page of the set's messages (ascending) that PARTIAL names; with
 * CHANGEDSINCE it counts only the messages changed since (RFC 9394 3.4).
 */
async function pageOf(ctx: SessionContext, uids: number[], range: PageRange, changedSince: number | undefined): Promise<number[]> {
  if (changedSince === undefined) return partialSlice(uids, range);
  const changed: number[] = [];
  for (let at = 0; at < uids.length; at += SLICE) {
    for (const r of await ctx.backend.messages(ctx.user!, ctx.selected!.mailboxId, uids.slice(at, at + SLICE))) if (r.modseq > changedSince) changed.push(r.uid);
  }
  return partialSlice(changed, range);
}

async function run(ctx: SessionContext, args: FetchArgs): Promise<CommandResult> {
  let uids = resolveMessageSet(ctx.selected!, args.set);
  if (args.pageRange !== undefined) uids = await pageOf(ctx, uids, args.pageRange, args.changedSince);
  if (args.changedSince !== undefined || args.items.some((i) => i.kind === 'simple' && i.name === 'MODSEQ')) ctx.enable('CONDSTORE');
  const condstore = ctx.enabled.has('CONDSTORE');
  let items = args.items;
  if (args.changedSince !== undefined && condstore && !items.some((i) => i.kind === 'simple' && i.name === 'MODSEQ')) {
    items = [...items, { kind: 'simple', name: 'MODSEQ' }];
  }
  const out: ImapResponse[] = [];
  if (args.vanished) {
    if (!ctx.enabled.has('QRESYNC')) throw new ImapParseError('ENABLE QRESYNC first');
    const gone = selectFromSorted(args.set.ranges, await ctx.backend.expungedSince(ctx.user!, ctx.selected!.mailboxId, args.changedSince!));
    if (gone.length > 0) {
      out.push(untagged('VANISHED', '(EARLIER)', formatSequenceSet(gone)));
      // Told vanished: not fetched as well, though this view may number them still (RFC 7162 3.2.6).
      const vanished = new Set(gone);
      uids = uids.filter((uid) => !vanished.has(uid));
    }
  }
  // In slices, so the records of a big FETCH 1:* are not all in memory at once.
  let missing = 0;
  try {
    for (let at = 0; at < uids.length; at += SLICE) {
      missing += await fetchSlice(ctx, items, condstore, args.changedSince, uids.slice(at, at + SLICE), out);
    }
  } catch (err) {
    if (err instanceof UnknownCteError) return { untagged: out, status: 'NO', code: 'UNKNOWN-CTE', text: 'Unknown Content-Transfer-Encoding' };
    throw err;
  }
  // Messages another session expunged keep their numbers here until EXPUNGE may be sent: what the store
  // kept of them was sent (RFC 2180 4.1.1); a message of which too little was kept (its record, or its
  // body when the items need it) is left out with a NO (4.1.2, RFC 5530) rather than sent with made-up
  // NIL data (4.1.3, Dovecot's way) that a client could cache as the message's.
  if (missing > 0) return { untagged: out, status: 'NO', code: 'EXPUNGEISSUED', text: 'Some of the requested messages no longer exist' };
  return { untagged: out };
}

async function fetchSlice(
  ctx: SessionContext,
  items: FetchItem[],
  condstore: boolean,
  changedSince: number | undefined,
  uids: number[],
  out: ImapResponse[],
): Promise<number> {
  const sel = ctx.selected!;
  const user = ctx.user!;
  const backend = ctx.backend;
  let records = await backend.messages(user, sel.mailboxId, uids);
  if (records.length < uids.length) records = withExpunged(sel, uids, records);
  let missing = uids.length - records.length;
  if (missing > 0 && items.every((i) => i.kind === 'simple' && i.name === 'UID')) {
    // The view still knows each UID it numbers, also of a message expunged meanwhile.
    const found = new Set(records.map((r) => r.uid));
    for (const uid of uids) if (!found.has(uid)) out.push(untagged(sel.seqOf(uid), 'FETCH', ['UID', uid]));
    missing = 0;
  }
  if (changedSince !== undefined) records = records.filter((r) => r.modseq > changedSince);

  // Non-PEEK body fetches set \Seen first, so the FLAGS we send are the new ones.
  const setsSeen = !sel.readOnly && items.some((i) => (i.kind === 'section' || i.kind === 'binary') && !i.peek);
  const seenChanged = new Set<number>();
  if (setsSeen) {
    const unseen = records.filter((r) => !r.flags.includes('\\Seen')).map((r) => r.uid);
    if (unseen.length > 0) {
      const changed = await markSeen(backend, user, sel.mailboxId, unseen);
      const byUid = new Map(changed.map((c) => [c.uid, c]));
      records = records.map((r) => byUid.get(r.uid) ?? r);
      for (const c of changed) {
        sel.markReported(c.uid, c.modseq);
        seenChanged.add(c.uid);
      }
    }
  }

  const numbered: Numbered[] = records.map((rec) => ({ rec, seq: sel.seqOf(rec.uid) })).filter((m) => m.seq !== 0);
  // The owner checked once for the slice's reads, not once per message.
  let reader: Promise<BodyReader> | undefined;
  const headersOnly = items.every(isHeaderOnly);
  const one = (m: Numbered, raw: Buffer | undefined) => fetchOne(ctx, items, condstore, m.rec, m.seq, seenChanged.has(m.rec.uid), raw, m.index);
  /** One message's response with its body read; null when it is gone. */
  const withBody = async (m: Numbered): Promise<ImapResponse | null> => {
    try {
      reader ??= backend.bodyReader(user, sel.mailboxId);
      // Only the header is read when that is all the items need and the stored index says how long it is.
      if (headersOnly) m.index ??= backend.messageIndex(user, m.rec);
      const headerEnd = m.index === undefined ? undefined : m.index.body.hdrOff + m.index.body.hdrLen;
      return one(m, await (await reader)(m.rec.uid, headerEnd));
    } catch (err) {
      if (errorCode(err) !== 'NONEXISTENT') throw err;
      // Expunged meanwhile: its body while the store keeps it for this view, else like a missing row.
      const kept = await sel.readExpunged(m.rec.uid);
      return kept === undefined ? null : one(m, kept);
    }
  };
  if (!items.some((i) => i.kind !== 'simple')) {
    // Flags and structure only: from the index, without waiting, unless a
    // message was stored without one (then its body is read to make it).
    for (const m of numbered) {
      let response: ImapResponse | null;
      try {
        response = one(m, undefined);
      } catch (err) {
        if (err === BODY_NEEDED) response = await withBody(m);
        else if (errorCode(err) === 'NONEXISTENT') response = null;
        else throw err;
      }
      if (response === null) missing++;
      else out.push(response);
    }
    return missing;
  }
  // Bodies: a few read at once, the responses in order.
  for await (const chunk of inOrderChunks(numbered, withBody, (m) => m.rec.size)) {
    for (const settled of chunk) {
      if (!settled.ok) throw settled.error;
      if (settled.value === null) missing++;
      else out.push(settled.value);
    }
  }
  return missing;
}

/**
 * `records` (ascending) with the kept records of the messages of `uids` that
 * were expunged while this view numbers them (RFC 2180 4.1.1: the session
 * still FETCHes them until it may be told), in UID order.
 */
function withExpunged(sel: SelectedMailbox, uids: number[], records: MessageRecord[]): MessageRecord[] {
  const found = new Set(records.map((r) => r.uid));
  const kept: MessageRecord[] = [];
  for (const uid of uids) {
    if (found.has(uid)) continue;
    const rec = sel.expungedRecord(uid);
    if (rec !== undefined) kept.push(rec);
  }
  if (kept.length === 0) return records;
  return [...records, ...kept].sort((x, y) => x.uid - y.uid);
}

interface Numbered {
  rec: MessageRecord;
  seq: number;
  /** Its stored index, once looked at. */
  index?: MessageIndex | undefined;
}

/** A FETCH item answered from the record, the index and at most the message's own header. */
function isHeaderOnly(item: FetchItem): boolean {
  if (item.kind === 'simple') return true;
  if (item.kind !== 'section' || item.spec.path.length > 0 || item.partial !== undefined) return false;
  return item.spec.kind === 'HEADER' || item.spec.kind === 'HEADER.FIELDS' || item.spec.kind === 'HEADER.FIELDS.NOT';
}

/**
 * The FETCH response of one message, from its record, index and `raw` body;
 * BODY_NEEDED when that is not given and the items need it.
 */
function fetchOne(
  ctx: SessionContext,
  items: FetchItem[],
  condstore: boolean,
  rec: MessageRecord,
  seq: number,
  seenChanged: boolean,
  raw: Buffer | undefined,
  knownIndex?: MessageIndex,
): ImapResponse {
  const sel = ctx.selected!;
  const user = ctx.user!;
  const backend = ctx.backend;
  {
    let index: MessageIndex | undefined = knownIndex;
    const getIndex = () => (index ??= backend.messageIndex(user, rec, raw) ?? bodyNeeded());
    const getRaw = () => raw ?? bodyNeeded();
    const values: ImapValue[] = [];
    let flagsSent = false;
    // Every BINARY item of a message decodes the same few sections: once each.
    const binaries = new Map<string, Buffer | null>();
    const getBinary = (path: number[]) => {
      const key = path.join('.');
      if (!binaries.has(key)) binaries.set(key, binaryContent(getRaw(), getIndex(), path));
      return binaries.get(key)!;
    };
    for (const item of items) {
      if (item.kind === 'simple') {
        values.push(item.name, ...simpleValue(item.name, rec, getIndex, sel));
        if (item.name === 'FLAGS') flagsSent = true;
      } else if (item.kind === 'section') {
        const bytes = sectionBytes(getRaw(), getIndex(), item.spec, item.partial);
        values.push(item.label, bytes === null ? { str: '' } : { literal: bytes });
      } else if (item.kind === 'binary') {
        const bytes = getBinary(item.path);
        values.push(item.label, bytes === null ? { str: '' } : binaryValue(applyPartial(bytes, item.partial), bytes.includes(0)));
      } else {
        values.push(item.label, getBinary(item.path)?.length ?? 0);
      }
    }
    if (seenChanged && !flagsSent) values.push('FLAGS', sel.flagsOf(rec.uid, rec.flags));
    if (condstore && (seenChanged || items.some((i) => i.kind === 'simple' && i.name === 'FLAGS'))) {
      if (!items.some((i) => i.kind === 'simple' && i.name === 'MODSEQ')) values.push('MODSEQ', [rec.modseq]);
    }
    return untagged(seq, 'FETCH', values);
  }
}

function applyPartial(bytes: Buffer, partial: PartialRange | undefined): Buffer {
  if (partial === undefined) return bytes;
  const start = Math.min(partial.offset, bytes.length);
  return bytes.subarray(start, partial.length === undefined ? bytes.length : Math.min(bytes.length, start + partial.length));
}

/**
 * A literal8 only when it must be one (RFC 3516: NULs); 8-bit text fits a
 * plain literal. A partial of a part with NULs is a literal8 too, as in
 * Dovecot, whether or not the slice itself holds one.
 */
function binaryValue(bytes: Buffer, hasNul: boolean): ImapValue {
  return hasNul ? { literal8: bytes } : { literal: bytes };
}

/**
 * Rendered ENVELOPE, BODY and BODYSTRUCTURE per index object. The backend
 * hands every session the same read-only index of a message (see
 * messageIndex), so ten sessions fetching one mailbox's envelopes render
 * each once; an entry goes with its index.
 */
type Rendered = { raw: string; ascii: boolean };
const envelopes = new WeakMap<MessageIndex, Rendered>();
const bodies = new WeakMap<MessageIndex, Rendered>();
const bodyStructures = new WeakMap<MessageIndex, Rendered>();

/** The rendered value (shared: never changed once made). */
function rendered(memo: WeakMap<MessageIndex, Rendered>, index: MessageIndex, render: (index: MessageIndex) => string): Rendered {
  let value = memo.get(index);
  if (value === undefined) {
    const raw = render(index);
    // eslint-disable-next-line no-control-regex
    value = { raw, ascii: /^[\x00-\x7f]*$/.test(raw) };
    memo.set(index, value);
  }
  return value;
}

function simpleValue(name: string, rec: MessageRecord, index: () => MessageIndex, sel: SelectedMailbox): ImapValue[] {
  switch (name) {
    case 'UID':
      return [rec.uid];
    case 'FLAGS':
      return [sel.flagsOf(rec.uid, rec.flags)];
    case 'INTERNALDATE':
      return [{ str: formatInternalDate(rec.internalDate) }];
    case 'RFC822.SIZE':
      // The size of what BODY[] sends: bare LFs are sent as CRLF.
      return [index().vsize];
    case 'ENVELOPE':
      return [rendered(envelopes, index(), (i) => renderEnvelope(i.envelope))];
    case 'BODY':
      return [rendered(bodies, index(), renderBody)];
    case 'BODYSTRUCTURE':
      return [rendered(bodyStructures, index(), renderBodyStructure)];
    case 'MODSEQ':
      return [[rec.modseq]];
  }
  return [];
}

export const fetchCommand = defineCommand({ name: 'FETCH', states: SELECTED, parse: parser(false), run, allowExpunge: false });
export const uidFetchCommand = defineCommand({ name: 'UID FETCH', states: SELECTED, parse: parser(true), run });

/**
 * The implicit \\Seen of a body fetch. When it cannot be stored (a full
 * disk), the messages are still sent, without it: reading mail must not
 * depend on room to write.
 */
async function markSeen(backend: SessionContext['backend'], user: NonNullable<SessionContext['user']>, mailboxId: number, uids: number[]): Promise<MessageRecord[]> {
  try {
    return await backend.setFlags(user, mailboxId, uids, 'add', ['\\Seen']);
  } catch (err) {
    const code = errorCode(err);
    if (code === 'NOSPACE' || code === 'TEMPFAIL') return [];
    throw err;
  }
}
