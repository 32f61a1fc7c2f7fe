// The header section of a message as a list of fields that keep their byte
// offsets (RFC 5322 2.2): the one header splitter every consumer uses
// (sender checks, Sieve, auto-replies, IMAP SEARCH, header edits).
//
// Lines end at LF; a CR before the LF belongs to the line ending, any other
// CR is an ordinary byte, so LF-only and CRLF input split the same way. A
// line starting with SP or HT continues the field above it (2.2.3). The
// header ends at the first empty line; a message without one is all header.
// A line that is not "name: value" with an RFC 5322 ftext name (up to a
// NUL, see fieldKey) is no field (an mbox "From " line, a continuation line
// with no field above it): its bytes stay where they are and edits leave
// them alone.
//
// Linear in the input: each byte is looked at a bounded number of times
// (the next LF and the next ':' are found with indexOf and remembered).

import { bytesToText, decodeWords } from './decode.js';

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

export interface HeaderField {
  /** The name as written (a latin1 byte string), blanks before the ':' dropped. */
  readonly name: string;
  /** The name in lower case, cut at a NUL (see fieldKey), for lookups. */
  readonly key: string;
  /** Offset of the field's first byte. */
  readonly start: number;
  /** Offset just past the ':'. */
  readonly valueStart: number;
  /** Offset where the field's last line ending starts (the input length when it has none). */
  readonly valueEnd: number;
  /** Offset just past the field's last line ending. */
  readonly end: number;
}

/** Where the parts of a header section are. */
export interface HeaderLayout {
  fields: HeaderField[];
  /** Offset of the empty line that ends the header (the input length when there is none). */
  headerEnd: number;
  /** Offset of the body: just past that empty line. */
  bodyStart: number;
}

// Buffer#latin1Slice is Buffer#toString('latin1') without the argument checks
// (measurably faster per field); not in @types/node.
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (a: number, b: number) => string }).latin1Slice;
function latin1(buf: Buffer, a: number, b: number): string {
  return latin1Slice !== undefined ? latin1Slice.call(buf, a, b) : buf.toString('latin1', a, b);
}

/** RFC 5322 ftext up to a NUL: printable US-ASCII but ':' (an mbox "From " line has a space before its colon). */
function isFieldName(raw: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = raw[i]!;
    // A NUL ends the name for every lookup (see fieldKey): what follows it does not count.
    if (c === 0) return true;
    if (c < 33 || c > 126) return false;
  }
  return true;
}

/**
 * The lookup key of a field name: lower case, cut at a NUL. Dovecot and
 * Pigeonhole read names as C strings, so "Subject<NUL>x: y" is a Subject
 * field to them (for HEADER.FIELDS, SEARCH, Sieve); the name stays as written.
 */
function fieldKey(name: string): string {
  const nul = name.indexOf('\0');
  return (nul === -1 ? name : name.slice(0, nul)).toLowerCase();
}

/** Splits the header section of raw message bytes into fields. */
export function splitHeader(raw: Buffer): HeaderLayout {
  const fields: HeaderField[] = [];
  const len = raw.length;
  let pos = 0;
  let colonAt = -1; // the next ':' at or after some position (len when none)
  // The field being read (openName undefined: none), in plain variables: no object per field beside the one kept.
  let openName: string | undefined;
  let openStart = 0;
  let openValueStart = 0;
  let lastLineEnd = 0; // where the line ending of the line just read starts
  const close = (): void => {
    if (openName === undefined) return;
    fields.push({ name: openName, key: fieldKey(openName), start: openStart, valueStart: openValueStart, valueEnd: lastLineEnd, end: pos });
    openName = undefined;
  };
  while (pos < len) {
    const lf = raw.indexOf(LF, pos);
    const next = lf === -1 ? len : lf + 1;
    const contentEnd = lf === -1 ? len : lf > pos && raw[lf - 1] === CR ? lf - 1 : lf;
    if (contentEnd === pos && lf !== -1) {
      close();
      return { fields, headerEnd: pos, bodyStart: next };
    }
    const c = raw[pos]!;
    if (c === SP || c === HT) {
      // A continuation line: part of the open field, or of the junk line above.
      lastLineEnd = contentEnd;
      pos = next;
      continue;
    }
    close();
    if (colonAt < pos) {
      const found = raw.indexOf(COLON, pos);
      colonAt = found === -1 ? len : found;
    }
    if (colonAt < contentEnd) {
      let nameEnd = colonAt;
      while (nameEnd > pos && (raw[nameEnd - 1] === SP || raw[nameEnd - 1] === HT)) nameEnd--;
      if (nameEnd > pos && isFieldName(raw, pos, nameEnd)) {
        openName = latin1(raw, pos, nameEnd);
        openStart = pos;
        openValueStart = colonAt + 1;
      }
    }
    lastLineEnd = contentEnd;
    pos = next;
  }
  close();
  return { fields, headerEnd: len, bodyStart: len };
}

/**
 * RFC 5322 2.2.3 unfolding: every line ending followed by SP or HT is
 * removed (the blank stays); the blanks around the value are trimmed.
 */
export function unfold(value: string): string {
  let v = value;
  if (v.includes('\n')) v = v.replace(/\r?\n(?=[ \t])/g, '').replace(/\r?\n/g, '');
  // Trimmed by index: /[ \t]+$/ rescans a long inner run of blanks from each of its characters.
  let a = 0;
  let b = v.length;
  while (a < b && (v.charCodeAt(a) === SP || v.charCodeAt(a) === HT)) a++;
  while (b > a && (v.charCodeAt(b - 1) === SP || v.charCodeAt(b - 1) === HT)) b--;
  return v.slice(a, b);
}

/** Lookups of a header answered by a scan of its fields before they are put in a map. */
const SCANNED_LOOKUPS = 2;

/** A header section over the bytes it came from: lookups by name, values raw, unfolded or decoded. */
export class MessageHeader {
  readonly fields: readonly HeaderField[];
  readonly headerEnd: number;
  readonly bodyStart: number;
  private byKey: Map<string, HeaderField[]> | undefined;
  private lookups = 0;
  private text: string | undefined;

  constructor(
    readonly raw: Buffer,
    layout: HeaderLayout = splitHeader(raw),
  ) {
    this.fields = layout.fields;
    this.headerEnd = layout.headerEnd;
    this.bodyStart = layout.bodyStart;
  }

  /** Every field with this name, in message order. */
  all(name: string): readonly HeaderField[] {
    // Most headers are asked about once or twice (a new one is made for each
    // stored copy): a scan is cheaper than the map until then.
    if (this.byKey === undefined && this.lookups++ < SCANNED_LOOKUPS) {
      const key = name.toLowerCase();
      const found: HeaderField[] = [];
      for (const f of this.fields) if (f.key === key) found.push(f);
      return found;
    }
    if (this.byKey === undefined) {
      this.byKey = new Map();
      for (const f of this.fields) {
        const list = this.byKey.get(f.key);
        if (list) list.push(f);
        else this.byKey.set(f.key, [f]);
      }
    }
    return this.byKey.get(name.toLowerCase()) ?? [];
  }

  has(name: string): boolean {
    return this.all(name).length > 0;
  }

  /** The bytes of the whole field, name and line endings included. */
  bytes(f: HeaderField): Buffer {
    return this.raw.subarray(f.start, f.end);
  }

  /** The value's bytes after the ':', folded as written, without the last line ending. */
  rawValue(f: HeaderField): Buffer {
    return this.raw.subarray(f.valueStart, f.valueEnd);
  }

  /** rawValue as a latin1 byte string (one char per byte), cut from the header section read once. */
  rawText(f: HeaderField): string {
    this.text ??= latin1(this.raw, 0, this.headerEnd);
    return this.text.slice(f.valueStart, f.valueEnd);
  }

  /** The value unfolded and trimmed, as text (UTF-8 when it is valid UTF-8, else latin1). */
  value(f: HeaderField): string {
    return bytesToText(unfold(this.rawText(f)));
  }

  /** Unfolded values of every field with this name. */
  values(name: string): string[] {
    return this.all(name).map((f) => this.value(f));
  }

  /** The first field's unfolded value, or undefined. */
  first(name: string): string | undefined {
    const f = this.all(name)[0];
    return f === undefined ? undefined : this.value(f);
  }

  /** Values with RFC 2047 encoded words decoded. */
  decoded(name: string): string[] {
    return this.all(name).map((f) => decodeWords(this.value(f)));
  }

  /** The header section itself, up to (not including) the empty line. */
  section(): Buffer {
    return this.raw.subarray(0, this.headerEnd);
  }
}

// --- edits --------------------------------------------------------------------

export type HeaderEdit =
  | { type: 'addheader'; name: string; value: string; last: boolean }
  | { type: 'deleteheader'; name: string; occurrence: number };

/** Puts header fields (each "Name: value", no line ending) on top of the message. */
export function prependFields(raw: Buffer, fields: readonly string[]): Buffer {
  if (fields.length === 0) return raw;
  return Buffer.concat([fieldBytes(fields), raw]);
}

function fieldBytes(fields: readonly string[]): Buffer {
  return Buffer.from(fields.join('\r\n') + '\r\n', 'utf8');
}

/**
 * prependFields, with the layout of the result made from the header already
 * split: only the new fields are split, the old ones are moved down. That is
 * what splitHeader over the result gives, except where the old message
 * starts with a continuation line (it would join the last new field) or the
 * new fields hold an empty line (the header would end there): then the
 * result is split whole.
 */
export function prependWithLayout(header: MessageHeader, fields: readonly string[]): { raw: Buffer; layout: HeaderLayout } {
  const top = fieldBytes(fields);
  const raw = Buffer.concat([top, header.raw]);
  const first = header.raw[0];
  const topLayout = splitHeader(top);
  if (first === SP || first === HT || topLayout.headerEnd !== top.length) return { raw, layout: splitHeader(raw) };
  const d = top.length;
  const moved: HeaderField[] = topLayout.fields;
  for (const f of header.fields) moved.push({ name: f.name, key: f.key, start: f.start + d, valueStart: f.valueStart + d, valueEnd: f.valueEnd + d, end: f.end + d });
  return { raw, layout: { fields: moved, headerEnd: header.headerEnd + d, bodyStart: header.bodyStart + d } };
}

interface Segment {
  /** Lower-case field name; undefined for bytes that are no field. */
  key: string | undefined;
  bytes: Buffer;
}

/** The header section as segments in order: each field, and the bytes between fields. */
function segments(header: MessageHeader): Segment[] {
  const out: Segment[] = [];
  let pos = 0;
  for (const f of header.fields) {
    if (f.start > pos) out.push({ key: undefined, bytes: header.raw.subarray(pos, f.start) });
    out.push({ key: f.key, bytes: header.raw.subarray(f.start, f.end) });
    pos = f.end;
  }
  if (header.headerEnd > pos) out.push({ key: undefined, bytes: header.raw.subarray(pos, header.headerEnd) });
  return out;
}

const CRLF = Buffer.from('\r\n');

function joinSegments(header: MessageHeader, segs: Segment[]): Buffer {
  const parts: Buffer[] = [];
  for (const s of segs) {
    parts.push(s.bytes);
    // A field that ends the input without a line ending gets one before anything follows.
    if (s.bytes.length > 0 && s.bytes[s.bytes.length - 1] !== LF) parts.push(CRLF);
  }
  const rest = header.raw.subarray(header.headerEnd);
  parts.push(rest.length > 0 ? rest : CRLF);
  return Buffer.concat(parts);
}

/**
 * Applies editheader edits in order (RFC 5293): addheader puts the field
 * first (or last), deleteheader removes the n-th field of that name. Only
 * the header section changes; every other byte is kept as it was.
 */
export function applyHeaderEdits(header: MessageHeader, edits: readonly HeaderEdit[]): Buffer {
  if (edits.length === 0) return header.raw;
  let segs = segments(header);
  for (const e of edits) {
    if (e.type === 'addheader') {
      const seg = { key: e.name.toLowerCase(), bytes: Buffer.from(`${e.name}: ${e.value.replace(/\r?\n/g, '\r\n ')}\r\n`, 'utf8') };
      segs = e.last ? [...segs, seg] : [seg, ...segs];
    } else {
      let n = 0;
      const key = e.name.toLowerCase();
      segs = segs.filter((s) => !(s.key === key && ++n === e.occurrence));
    }
  }
  return joinSegments(header, segs);
}

/** The message without the fields `drop` picks; the same Buffer when it picks none. */
export function withoutFields(header: MessageHeader, drop: (f: HeaderField) => boolean): Buffer {
  if (!header.fields.some(drop)) return header.raw;
  const parts: Buffer[] = [];
  let pos = 0;
  for (const f of header.fields) {
    if (!drop(f)) continue;
    parts.push(header.raw.subarray(pos, f.start));
    pos = f.end;
  }
  parts.push(header.raw.subarray(pos));
  return Buffer.concat(parts);
}
