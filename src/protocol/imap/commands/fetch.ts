// FETCH and UID FETCH (RFC 3501 6.4.5, CHANGEDSINCE and MODSEQ from RFC 7162).
// Structure comes from the stored MIME index (rendered by fetch-structure.ts);
// body sections are cut from the raw message by byte offsets.
import { defineCommand, SELECTED, type CommandResult, type SessionContext } from '../command.js';
import { ImapParseError, isAtom, list, number, type Arg } from '../parser.js';
import { untagged, formatInternalDate, type ImapResponse, type ImapValue } from '../response.js';
import { parseMessageSet, resolveMessageSet, type MessageSetArg } from '../message-set.js';
import { selectFromSorted, formatSequenceSet } from '../sequence.js';
import { parseSection, renderBody, renderBodyStructure, renderEnvelope, sectionBytes, type SectionSpec } from '../fetch-structure.js';
import type { MessageIndex, MessageRecord } from '../backend.js';

export type FetchItem =
  | { kind: 'simple'; name: 'UID' | 'FLAGS' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODY' | 'BODYSTRUCTURE' | 'MODSEQ' }
  | { kind: 'section'; label: string; spec: SectionSpec; peek: boolean; partial?: { offset: number; length?: number } };

export interface FetchArgs {
  set: MessageSetArg;
  items: FetchItem[];
  changedSince: number | undefined;
  /** UID FETCH ... (CHANGEDSINCE n VANISHED): QRESYNC. */
  vanished: boolean;
}

const MACROS: Record<string, string[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

const SLICE = 500;

const SIMPLE = new Set(['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE', 'MODSEQ']);

const SECTION_ITEM = /^(BODY|BODY\.PEEK)\[(.*)\](?:<(\d+)(?:\.(\d+))?>)?$/is;

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
  const m = SECTION_ITEM.exec(text);
  if (m === null) throw new ImapParseError(`Unknown FETCH item ${text.slice(0, 40)}`);
  const spec = parseSection(m[2]!);
  if (spec === null) throw new ImapParseError('Bad section');
  let partial: { offset: number; length?: number } | undefined;
  if (m[3] !== undefined) {
    partial = { offset: Number(m[3]) };
    if (m[4] !== undefined) {
      partial.length = Number(m[4]);
      if (partial.length === 0) throw new ImapParseError('Partial length must be positive');
    }
  }
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
  if (args[2] !== undefined) {
    const mods = list(args[2], 'FETCH modifiers');
    for (let i = 0; i < mods.length; i++) {
      if (isAtom(mods[i], 'CHANGEDSINCE')) changedSince = number(mods[++i], 'mod-sequence');
      else if (byUid && isAtom(mods[i], 'VANISHED')) vanished = true;
      else throw new ImapParseError('Unknown FETCH modifier');
    }
    if (vanished && changedSince === undefined) throw new ImapParseError('VANISHED needs CHANGEDSINCE');
  }
  if (byUid && !items.some((i) => i.kind === 'simple' && i.name === 'UID')) items.unshift({ kind: 'simple', name: 'UID' });
  return { set, items, changedSince, vanished };
};

function run(ctx: SessionContext, args: FetchArgs): CommandResult {
  const uids = resolveMessageSet(ctx.selected!, args.set);
  if (args.changedSince !== undefined || args.items.some((i) => i.kind === 'simple' && i.name === 'MODSEQ')) ctx.enable('CONDSTORE');
  const condstore = ctx.enabled.has('CONDSTORE');
  let items = args.items;
  if (args.changedSince !== undefined && condstore && !items.some((i) => i.kind === 'simple' && i.name === 'MODSEQ')) {
    items = [...items, { kind: 'simple', name: 'MODSEQ' }];
  }
  const out: ImapResponse[] = [];
  if (args.vanished) {
    if (!ctx.enabled.has('QRESYNC')) throw new ImapParseError('ENABLE QRESYNC first');
    const gone = selectFromSorted(args.set.ranges, ctx.backend.expungedSince(ctx.user!, ctx.selected!.mailboxId, args.changedSince!));
    if (gone.length > 0) out.push(untagged('VANISHED', '(EARLIER)', formatSequenceSet(gone)));
  }
  // In slices, so the records of a big FETCH 1:* are not all in memory at once.
  for (let at = 0; at < uids.length; at += SLICE) {
    fetchSlice(ctx, items, condstore, args.changedSince, uids.slice(at, at + SLICE), out);
  }
  return { untagged: out };
}

function fetchSlice(
  ctx: SessionContext,
  items: FetchItem[],
  condstore: boolean,
  changedSince: number | undefined,
  uids: number[],
  out: ImapResponse[],
): void {
  const sel = ctx.selected!;
  const user = ctx.user!;
  const backend = ctx.backend;
  let records = backend.messages(user, sel.mailboxId, uids);
  if (changedSince !== undefined) records = records.filter((r) => r.modseq > changedSince);

  // Non-PEEK body fetches set \Seen first, so the FLAGS we send are the new ones.
  const setsSeen = !sel.readOnly && items.some((i) => i.kind === 'section' && !i.peek);
  const seenChanged = new Set<number>();
  if (setsSeen) {
    const unseen = records.filter((r) => !r.flags.includes('\\Seen')).map((r) => r.uid);
    if (unseen.length > 0) {
      const changed = backend.setFlags(user, sel.mailboxId, unseen, 'add', ['\\Seen']);
      const byUid = new Map(changed.map((c) => [c.uid, c]));
      records = records.map((r) => byUid.get(r.uid) ?? r);
      for (const c of changed) {
        sel.markReported(c.uid, c.modseq);
        seenChanged.add(c.uid);
      }
    }
  }

  for (const rec of records) {
    const seq = sel.seqOf(rec.uid);
    if (seq === 0) continue;
    let index: MessageIndex | undefined;
    let raw: Buffer | undefined;
    const getIndex = () => (index ??= backend.messageIndex(user, rec));
    const getRaw = () => (raw ??= backend.readMessage(user, sel.mailboxId, rec.uid));
    const values: ImapValue[] = [];
    let flagsSent = false;
    for (const item of items) {
      if (item.kind === 'simple') {
        values.push(item.name, ...simpleValue(item.name, rec, getIndex));
        if (item.name === 'FLAGS') flagsSent = true;
        continue;
      }
      const bytes = sectionBytes(getRaw(), getIndex(), item.spec, item.partial);
      values.push(item.label, bytes === null ? { str: '' } : { literal: bytes });
    }
    if (seenChanged.has(rec.uid) && !flagsSent) values.push('FLAGS', rec.flags);
    if (condstore && (seenChanged.has(rec.uid) || items.some((i) => i.kind === 'simple' && i.name === 'FLAGS'))) {
      if (!items.some((i) => i.kind === 'simple' && i.name === 'MODSEQ')) values.push('MODSEQ', [rec.modseq]);
    }
    out.push(untagged(seq, 'FETCH', values));
  }
}

function simpleValue(name: string, rec: MessageRecord, index: () => MessageIndex): ImapValue[] {
  switch (name) {
    case 'UID':
      return [rec.uid];
    case 'FLAGS':
      return [rec.flags];
    case 'INTERNALDATE':
      return [{ str: formatInternalDate(rec.internalDate) }];
    case 'RFC822.SIZE':
      // The size of what BODY[] sends: bare LFs are sent as CRLF.
      return [index().vsize];
    case 'ENVELOPE':
      return [{ raw: renderEnvelope(index().envelope) }];
    case 'BODY':
      return [{ raw: renderBody(index()) }];
    case 'BODYSTRUCTURE':
      return [{ raw: renderBodyStructure(index()) }];
    case 'MODSEQ':
      return [[rec.modseq]];
  }
  return [];
}

export const fetchCommand = defineCommand({ name: 'FETCH', states: SELECTED, parse: parser(false), run, allowExpunge: false });
export const uidFetchCommand = defineCommand({ name: 'UID FETCH', states: SELECTED, parse: parser(true), run });
