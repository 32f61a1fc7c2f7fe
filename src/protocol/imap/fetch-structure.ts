// IMAP rendering of ENVELOPE, BODY and BODYSTRUCTURE from the stored MIME
// index, and resolution of BODY[section] specs to the bytes to send.
//
// Output strings are byte strings: one char per byte (latin1). A literal's
// {n} counts bytes. Send them with Buffer.from(s, 'latin1') (see toWire).
// The quoting choices copy Dovecot 2.3 byte for byte (imap-quote.c,
// imap-envelope.c, imap-bodystructure.c): quoted when safe, a literal for
// CR/LF/8-bit or more than four quote-specials, NIL for absent values, and
// Dovecot's "for humans" cleanup of subjects and display names.

import type { Envelope, EnvelopeAddress, MessageIndex, MimePart } from '../../../mime/types.js';
import { MessageHeader, toCrlf } from '../../../mime/index.js';

const DEFAULT_CHARSET = '"charset" "us-ascii"';
const EMPTY_BODY = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)';
const EMPTY_BODYSTRUCTURE = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)';
const EMPTY_ENVELOPE = 'NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL';

/** Converts a rendered byte string to the bytes to put on the wire. */
export function toWire(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

function literal(s: string): string {
  return `{${s.length}}\r\n${s}`;
}

/** NIL, a quoted string, or a literal when the value holds CR, LF, 8-bit or more than 4 quote-specials. */
export function imapNstring(s: string | null | undefined): string {
  if (s === null || s === undefined) return 'NIL';
  let escapes = 0;
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) {
      if (escapes++ >= 4) return literal(s);
      plain = false;
    } else if (c === 0x0d || c === 0x0a || c >= 0x80) {
      return literal(s);
    }
  }
  if (plain) return `"${s}"`;
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

/** As imapNstring, but CR/LF are dropped first (a space kept between joined lines). */
export function imapNstringNoLf(s: string | null | undefined): string {
  if (s === null || s === undefined) return 'NIL';
  if (s.indexOf('\n') < 0 && s.indexOf('\r') < 0) return imapNstring(s);
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x0d && c !== 0x0a) {
      out += s[i];
      continue;
    }
    const n = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
    if (n !== 0x20 && n !== 0x09 && n !== 0x0d && n !== 0x0a && n !== 0) out += ' ';
  }
  return imapNstring(out);
}

/**
 * Dovecot's imap_append_string_for_humans: whitespace runs (incl. CR/LF/TAB)
 * become one space, leading and trailing whitespace go, NUL becomes 0x80.
 * Anything that needs changing or escaping is sent as a literal.
 */
export function imapStringForHumans(s: string): string {
  let removeCount = 0;
  let whitespacePrefix = true;
  let lastLwsp = true;
  let modify = false;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    switch (c) {
      case 0:
        lastLwsp = false;
        modify = true;
        break;
      case 0x0d:
      case 0x0a:
      case 0x09:
      case 0x20:
        if (c !== 0x20) modify = true;
        if (lastLwsp) {
          modify = true;
          removeCount++;
        }
        lastLwsp = true;
        break;
      case 0x22:
      case 0x5c:
        modify = true;
        lastLwsp = false;
        break;
      default:
        if (c >= 0x80) modify = true;
        lastLwsp = false;
        break;
    }
    if (!lastLwsp) whitespacePrefix = false;
  }
  if (lastLwsp && n > 0 && !whitespacePrefix) {
    modify = true;
    removeCount++;
  }
  if (!modify) return `"${s}"`;
  if (n === removeCount) return '""';
  let out = '';
  lastLwsp = true;
  whitespacePrefix = true;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    switch (c) {
      case 0:
        out += '\x80';
        lastLwsp = false;
        break;
      case 0x0d:
      case 0x0a:
      case 0x09:
      case 0x20:
        if (!lastLwsp) out += ' ';
        lastLwsp = true;
        break;
      default:
        lastLwsp = false;
        out += s[i];
        break;
    }
    if (!lastLwsp) whitespacePrefix = false;
  }
  if (lastLwsp && n > 0 && !whitespacePrefix) out = out.slice(0, -1);
  return literal(out);
}

function addressList(list: EnvelopeAddress[] | undefined): string {
  if (list === undefined || list.length === 0) return 'NIL';
  let out = '(';
  for (const [name, route, mailbox, domain] of list) {
    out += `(${name === null ? 'NIL' : imapStringForHumans(name)} ${imapNstring(route)} ${imapNstring(mailbox)} ${imapNstring(domain)})`;
  }
  return out + ')';
}

/** The ENVELOPE fields without the surrounding parentheses. */
function envelopeFields(env: Envelope | undefined): string {
  if (env === undefined) return EMPTY_ENVELOPE;
  const from = env.from;
  return [
    imapNstringNoLf(env.date),
    env.subject === undefined ? 'NIL' : imapStringForHumans(env.subject),
    addressList(from),
    addressList(env.sender ?? from),
    addressList(env.replyTo ?? from),
    addressList(env.to),
    addressList(env.cc),
    addressList(env.bcc),
    imapNstringNoLf(env.inReplyTo),
    imapNstringNoLf(env.messageId),
  ].join(' ');
}

/** The ENVELOPE value, parenthesized: `(date subject from ...)`. */
export function renderEnvelope(env: Envelope): string {
  return `(${envelopeFields(env)})`;
}

function paramList(params: string[] | undefined, defaultCharset: boolean): string {
  if (!defaultCharset && (params === undefined || params.length === 0)) return 'NIL';
  let out = '(';
  let seenCharset = false;
  const p = params ?? [];
  for (let i = 0; i + 1 < p.length; i += 2) {
    if (i > 0) out += ' ';
    if (defaultCharset && p[i]!.toLowerCase() === 'charset') seenCharset = true;
    out += `${imapNstring(p[i])} ${imapNstring(p[i + 1])}`;
  }
  if (defaultCharset && !seenCharset) out += (p.length > 0 ? ' ' : '') + DEFAULT_CHARSET;
  return out + ')';
}

function extensionCommon(part: MimePart): string {
  let out = ' ';
  if (part.disp === undefined) out += 'NIL';
  else out += `(${imapNstring(part.disp)} ${paramList(part.dispParams, false)})`;
  out += ' ';
  if (part.lang === undefined || part.lang.length === 0) out += 'NIL';
  else out += `(${part.lang.map((l) => imapNstring(l)).join(' ')})`;
  out += ' ' + imapNstringNoLf(part.loc);
  return out;
}

function siblings(parts: MimePart[], extended: boolean): string {
  let out = '';
  for (const p of parts) out += `(${partStructure(p, extended)})`;
  return out;
}

function partStructure(part: MimePart, extended: boolean): string {
  if (part.kind === 'multipart') {
    let out = part.parts !== undefined && part.parts.length > 0 ? siblings(part.parts, extended) : extended ? EMPTY_BODYSTRUCTURE : EMPTY_BODY;
    out += ' ' + imapNstring(part.subtype ?? '');
    if (!extended) return out;
    out += ' ' + paramList(part.params, false);
    return out + extensionCommon(part);
  }
  let out: string;
  let text: boolean;
  if (part.kind === 'message') {
    out = '"message" "rfc822"';
    text = false;
  } else if (part.type === undefined) {
    out = '"text" "plain"';
    text = true;
  } else {
    text = part.type.toLowerCase() === 'text';
    out = `${imapNstring(part.type)} ${imapNstring(part.subtype ?? '')}`;
  }
  out += ' ' + paramList(part.params, text);
  out += ` ${imapNstringNoLf(part.id)} ${imapNstringNoLf(part.desc)} ${part.enc === undefined ? '"7bit"' : imapNstring(part.enc)} ${part.bodySize}`;
  if (text) {
    out += ` ${part.lines}`;
  } else if (part.kind === 'message') {
    const child = part.parts?.[0];
    out += ` (${envelopeFields(child?.env)}) `;
    out += child === undefined ? (extended ? EMPTY_BODYSTRUCTURE : EMPTY_BODY) : `(${partStructure(child, extended)})`;
    out += ` ${part.lines}`;
  }
  if (!extended) return out;
  out += ' ' + imapNstringNoLf(part.md5);
  return out + extensionCommon(part);
}

/**
 * A whole message that is one plain 7-bit text/plain part with nothing else
 * said about it: Dovecot keeps no structure for it and writes the default
 * ("text" "plain" ("charset" "us-ascii") ... "7bit"), whatever case the
 * fields were written in.
 */
function isPlain7bit(root: MimePart): boolean {
  if (root.kind !== 'text' || root.type === undefined) return false;
  if (root.type.toLowerCase() !== 'text' || (root.subtype ?? '').toLowerCase() !== 'plain') return false;
  const p = root.params;
  if (p !== undefined && (p.length !== 2 || p[0]!.toLowerCase() !== 'charset' || p[1]!.toLowerCase() !== 'us-ascii')) return false;
  if (root.enc !== undefined && root.enc.toLowerCase() !== '7bit') return false;
  return root.id === undefined && root.desc === undefined && root.md5 === undefined && root.disp === undefined && root.lang === undefined && root.loc === undefined;
}

/** BODYSTRUCTURE (extended) or BODY (extended = false), parenthesized. */
export function renderBodyStructure(index: MessageIndex | MimePart, extended = true): string {
  const root = 'body' in index ? index.body : index;
  if (isPlain7bit(root)) return `(${partStructure({ ...root, type: undefined, subtype: undefined, params: undefined, enc: undefined }, extended)})`;
  return `(${partStructure(root, extended)})`;
}

/** The non-extensible BODY form. */
export function renderBody(index: MessageIndex | MimePart): string {
  return renderBodyStructure(index, false);
}

// ---------------------------------------------------------------------------
// BODY[section] resolution

/** A parsed section spec (the text between [ and ] of BODY[...]). */
export interface SectionSpec {
  /** Part numbers, e.g. [1, 2] for "1.2"; [] for the whole message. */
  path: number[];
  /** What of the addressed part: the whole of it (''), or one of the named sections. */
  kind: '' | 'MIME' | 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT';
  /** Upper-cased field names for HEADER.FIELDS[.NOT]. */
  fields?: string[];
}

/** Parses "1.2.MIME", "HEADER.FIELDS (A B)", "TEXT", ""...; null when malformed. */
export function parseSection(spec: string): SectionSpec | null {
  const path: number[] = [];
  let rest = spec.trim();
  for (;;) {
    const m = /^([1-9][0-9]*)(\.|$)/.exec(rest);
    if (m === null) break;
    const n = Number(m[1]);
    if (!Number.isSafeInteger(n)) return null;
    path.push(n);
    rest = rest.slice(m[0].length);
    if (m[2] === '') break;
  }
  if (rest === '') return { path, kind: '' };
  const upper = rest.toUpperCase();
  if (upper === 'MIME') return path.length > 0 ? { path, kind: 'MIME' } : null;
  if (upper === 'HEADER') return { path, kind: 'HEADER' };
  if (upper === 'TEXT') return { path, kind: 'TEXT' };
  const fm = /^HEADER\.FIELDS(\.NOT)?\s*\(([^()]*)\)$/i.exec(rest);
  if (fm !== null) {
    const fields = fm[2]!
      .trim()
      .split(/\s+/)
      .filter((f) => f !== '')
      .map((f) => (f.length >= 2 && f.startsWith('"') && f.endsWith('"') ? f.slice(1, -1) : f).toUpperCase());
    if (fields.length === 0) return null;
    return { path, kind: fm[1] !== undefined ? 'HEADER.FIELDS.NOT' : 'HEADER.FIELDS', fields };
  }
  return null;
}

/** A byte range [start, end) of the raw message (physical offsets, before any CRLF conversion). */
export interface SectionRange {
  start: number;
  end: number;
}

/**
 * Finds the part a numeric path addresses, as Dovecot does: a number selects
 * a child of a multipart; on anything else only 1 is valid (the part
 * itself); after a message/rfc822 part, further numbers go into the
 * embedded message.
 */
export function findPart(root: MimePart, path: number[]): MimePart | null {
  let part: MimePart | null = root;
  for (let i = 0; i < path.length && part !== null; i++) {
    const num = path[i]!;
    if (part.kind === 'multipart') {
      part = part.parts?.[num - 1] ?? null;
    } else if (num !== 1) {
      part = null;
    }
    if (part !== null && part.kind === 'message' && i + 1 < path.length) {
      part = part.parts?.[0] ?? null;
    }
  }
  return part;
}

/**
 * The raw byte range of a section, or null for a part that does not exist or
 * a section that does not apply (HEADER/TEXT of a part that is not
 * message/rfc822). HEADER.FIELDS[.NOT] resolve to the whole header range;
 * use sectionBytes to get the filtered header.
 */
export function sectionRange(index: MessageIndex, spec: SectionSpec): SectionRange | null {
  let part: MimePart | null = findPart(index.body, spec.path);
  if (part === null) return null;
  const bodyStart = (p: MimePart): number => p.hdrOff + p.hdrLen;
  switch (spec.kind) {
    case '':
      if (spec.path.length === 0) return { start: 0, end: index.size };
      return { start: bodyStart(part), end: bodyStart(part) + part.bodyLen };
    case 'MIME':
      return { start: part.hdrOff, end: part.hdrOff + part.hdrLen };
    default:
      if (spec.path.length > 0) {
        if (part.kind !== 'message') return null;
        part = part.parts?.[0] ?? null;
        if (part === null) return null;
      }
      if (spec.kind === 'TEXT') return { start: bodyStart(part), end: bodyStart(part) + part.bodyLen };
      return { start: part.hdrOff, end: part.hdrOff + part.hdrLen };
  }
}

/**
 * Header fields kept (HEADER.FIELDS) or dropped (.NOT) by name, with their
 * continuation lines, read from `header` up to the first blank line. A line
 * without a colon is no field: HEADER.FIELDS never returns it, .NOT does.
 * The blank line is added when one ended the header, or always when
 * `alwaysEoh` (Dovecot answers the top-level HEADER.FIELDS from its header
 * cache, which always ends with one; everything else goes through a header
 * filter over the raw bytes, which for an embedded message reads on past a
 * header cut short by a boundary until a blank line or the end).
 */
function filterHeader(header: Buffer, fields: string[], not: boolean, alwaysEoh: boolean): Buffer {
  const wanted = new Set(fields);
  const view = new MessageHeader(header);
  const chunks: Buffer[] = [];
  let pos = 0;
  for (const f of view.fields) {
    // Bytes between fields are no field (no colon): they never match a name, so only .NOT keeps them.
    if (f.start > pos && not) chunks.push(header.subarray(pos, f.start));
    if (wanted.has(f.key.toUpperCase()) !== not) chunks.push(view.bytes(f));
    pos = f.end;
  }
  if (view.headerEnd > pos && not) chunks.push(header.subarray(pos, view.headerEnd));
  const sawBlank = view.bodyStart > view.headerEnd;
  // Dovecot builds HEADER.FIELDS from its header cache: every line ends in
  // CRLF and the blank line is always there. .NOT filters the raw header,
  // so the blank line is only there when the header had one.
  const last = chunks[chunks.length - 1];
  if (!not && last !== undefined && last[last.length - 1] !== 0x0a) chunks.push(Buffer.from('\r\n', 'latin1'));
  if (sawBlank || alwaysEoh) chunks.push(Buffer.from('\r\n', 'latin1'));
  return toCrlf(Buffer.concat(chunks));
}

/**
 * The bytes of BODY[section]<partial> for the message: CRLF-normalised like
 * Dovecot's output, the partial (origin, length) applied afterwards. Returns
 * null when the section does not exist or is not valid for that part.
 */
export function sectionBytes(
  raw: Buffer,
  index: MessageIndex,
  section: string | SectionSpec,
  partial?: { offset: number; length?: number },
): Buffer | null {
  const spec = typeof section === 'string' ? parseSection(section) : section;
  if (spec === null) return null;
  const range = sectionRange(index, spec);
  if (range === null) return null;
  let bytes: Buffer;
  if (spec.kind === 'HEADER.FIELDS' || spec.kind === 'HEADER.FIELDS.NOT') {
    const not = spec.kind === 'HEADER.FIELDS.NOT';
    bytes = filterHeader(raw.subarray(Math.min(range.start, raw.length)), spec.fields ?? [], not, !not && spec.path.length === 0);
  } else {
    bytes = raw.subarray(range.start, Math.min(range.end, raw.length));
    if (index.bareLf) bytes = toCrlf(bytes);
  }
  // Dovecot never sends NULs: it turns them into 0x80.
  if (bytes.indexOf(0) !== -1) {
    if (bytes.buffer === raw.buffer) bytes = Buffer.from(bytes);
    for (let i = bytes.indexOf(0); i !== -1; i = bytes.indexOf(0, i + 1)) bytes[i] = 0x80;
  }
  if (partial !== undefined) {
    const start = Math.min(partial.offset, bytes.length);
    const end = partial.length === undefined ? bytes.length : Math.min(bytes.length, start + partial.length);
    bytes = bytes.subarray(start, end);
  }
  return bytes;
}
