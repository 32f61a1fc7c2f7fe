// The MIME structure parser: raw message bytes -> part tree with physical
// offsets, sizes, line counts, Content-* fields and envelopes.
//
// It reproduces Dovecot's lib-mail message-parser state machine (the one that
// feeds IMAP BODYSTRUCTURE) over a complete in-memory buffer: boundaries are
// matched as prefixes of lines starting with "--", newest boundary first and
// longest match winning (boundaries.ts has the details); the [CR]LF before a
// boundary line belongs to the boundary; a part's header may be cut short by
// a boundary; a missing closing boundary runs to the end of the message;
// sizes are counted with every bare LF as CRLF ("virtual" sizes, which IMAP
// reports). It never throws on input, and its work is linear in the input.

import type { Envelope, MimePart, PartKind } from './types.js';
import { NUL_REPLACEMENT, Rfc822Parser, parseMimeParams } from './rfc822.js';
import { parseAddressList } from './address.js';
import { BoundaryStack, type OpenBoundary } from './boundaries.js';

const LF = 0x0a;
const CR = 0x0d;

// Dovecot's safety limits (message_parser_settings defaults). A multipart or
// message/rfc822 part at depth MAX_NESTED_PARTS - 1 (the root is depth 0) is
// not opened; once MAX_TOTAL_PARTS parts exist (the root counts), no more
// boundaries are looked for and the rest of the message belongs to the
// current part. Both keep the work per message bounded.
const MAX_NESTED_PARTS = 100;
const MAX_TOTAL_PARTS = 10000;
// RFC 2046 allows 70; Dovecot keeps 80 characters of a boundary and looks
// that far (plus "--" twice) for it on a line without LF.
const BOUNDARY_STRING_MAX_LEN = 80;
const BOUNDARY_END_MAX_LEN = BOUNDARY_STRING_MAX_LEN + 4;


const F_MULTIPART = 1;
const F_DIGEST = 2;
const F_RFC822 = 4;
const F_TEXT = 8;
const F_IS_MIME = 0x40;

interface Size {
  phys: number;
  virt: number;
  lines: number;
}

/** Content-* data of a part (Dovecot's message_part_data). Byte strings. */
type PartData = Pick<MimePart, 'type' | 'subtype' | 'params' | 'id' | 'desc' | 'enc' | 'md5' | 'disp' | 'dispParams' | 'lang' | 'loc'>;

interface Part {
  parent: Part | null;
  children: Part[];
  pos: number;
  hdr: Size;
  body: Size;
  flags: number;
  depth: number;
  data: PartData;
  env: Envelope | null;
}

type Boundary = OpenBoundary<Part>;

export interface ParseResult {
  root: MimePart;
  envelope: Envelope;
  size: number;
  vsize: number;
  bareLf: boolean;
}

// Buffer#latin1Slice is Buffer#toString('latin1') without the argument checks
// (measurably faster on the per-header hot path); not in @types/node.
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (a: number, b: number) => string }).latin1Slice;
function latin1(buf: Buffer, a: number, b: number): string {
  return latin1Slice !== undefined ? latin1Slice.call(buf, a, b) : buf.toString('latin1', a, b);
}

function newSize(): Size {
  return { phys: 0, virt: 0, lines: 0 };
}

function addSize(dst: Size, src: Size): void {
  dst.phys += src.phys;
  dst.virt += src.virt;
  dst.lines += src.lines;
}

function lowerAscii(s: string): string {
  return s.toLowerCase();
}

/** Dovecot compares names as C strings: a NUL ends them. */
function cname(name: string): string {
  const nul = name.indexOf('\0');
  return lowerAscii(nul >= 0 ? name.slice(0, nul) : name);
}

class MessageParser {
  private pos = 0;
  private readonly len: number;
  private readonly boundaries = new BoundaryStack<Part>();
  private totalParts = 1;
  /** Cache of colonIn(): the position of the next ':' (len when there is none). */
  private colonAt = -1;
  /** The part the body parser ended in (it climbs up on closing boundaries). */
  private cur!: Part;
  bareLf = false;

  constructor(private readonly buf: Buffer) {
    this.len = buf.length;
  }

  /**
   * The first ':' in [from, end), or -1. The next colon found is remembered,
   * so a run of lines without one costs one scan in all, not one per line.
   */
  private colonIn(from: number, end: number): number {
    if (this.colonAt < from) {
      const c = this.buf.indexOf(0x3a, from);
      this.colonAt = c === -1 ? this.len : c;
    }
    return this.colonAt < end ? this.colonAt : -1;
  }

  /** A new child starts where its parent's bytes consumed so far end (Dovecot's message_part_append). */
  private newPart(parent: Part | null): Part {
    return {
      parent,
      children: [],
      pos: parent === null ? 0 : parent.pos + parent.hdr.phys + parent.body.phys,
      hdr: newSize(),
      body: newSize(),
      flags: 0,
      depth: parent === null ? 0 : parent.depth + 1,
      data: {},
      env: null,
    };
  }

  /** Adds [a, b) to a part's body size: bytes, LFs, and a virtual CR for each bare LF. */
  private addBody(part: Part, a: number, b: number): void {
    if (b <= a) return;
    const buf = this.buf;
    let lines = 0;
    let missing = 0;
    let i = buf.indexOf(LF, a);
    while (i !== -1 && i < b) {
      lines++;
      if (i === 0 || buf[i - 1] !== CR) missing++;
      i = buf.indexOf(LF, i + 1);
    }
    if (missing > 0) this.bareLf = true;
    part.body.phys += b - a;
    part.body.lines += lines;
    part.body.virt += b - a + missing;
  }

  /** If a "--boundary" line starts at p, the open boundary it belongs to (see boundaries.ts). */
  private boundaryAt(p: number): Boundary | null {
    const buf = this.buf;
    if (this.boundaries.size === 0 || p + 2 > this.len) return null;
    if (buf[p] !== 0x2d || buf[p + 1] !== 0x2d) return null;
    if (this.totalParts >= MAX_TOTAL_PARTS) return null;
    const start = p + 2;
    // A last line without LF is cut to the longest boundary line there can be.
    const lf = buf.indexOf(LF, start);
    let findSize: number;
    let trailingDashes = false;
    if (lf !== -1) {
      findSize = lf - start;
      if (findSize > 0 && buf[start + findSize - 1] === CR) findSize--;
      trailingDashes = findSize > 2 && buf[start + findSize - 1] === 0x2d && buf[start + findSize - 2] === 0x2d;
    } else {
      findSize = Math.min(this.len - start, BOUNDARY_END_MAX_LEN);
    }
    return this.boundaries.match(buf, start, this.len, findSize, trailingDashes);
  }

  parse(): Part {
    const root = this.newPart(null);
    let part: Part = root;
    for (;;) {
      const child = this.parseHeader(part);
      if (child !== null) {
        part = child;
        continue;
      }
      const next = this.parseBody(part);
      part = this.cur;
      if (next === null) break;
      part = next;
    }
    // End of input: sum every open part into its parent.
    for (let p: Part = part; p.parent !== null; p = p.parent) {
      addSize(p.parent.body, p.body);
      addSize(p.parent.body, p.hdr);
    }
    return root;
  }

  /** The [CR]LF before a boundary line belongs to the boundary, i.e. to the parent's body. */
  private giveNewlineToParent(part: Part, nl: number): void {
    const parent = part.parent;
    if (parent === null) return;
    part.hdr.lines--;
    part.hdr.phys -= nl;
    part.hdr.virt -= 2;
    parent.body.lines++;
    parent.body.phys += nl;
    parent.body.virt += 2;
  }

  /**
   * Parses one part's header. Returns the embedded message when the body is
   * a message/rfc822 whose header must be parsed next, else null.
   */
  private parseHeader(part: Part): Part | null {
    const buf = this.buf;
    const len = this.len;
    let seenContentType = false;
    let lastBoundary: string | null = null;
    let prevNl = 0;
    let multipart = false;
    // A multipart or message/rfc822 part not opened because of the limits.
    let overflow = false;
    const parentRfc822 = part.parent !== null && (part.parent.flags & F_RFC822) !== 0;

    for (;;) {
      // A boundary line ends the header early (not our own boundary). This is
      // checked after the blank line too: then the blank line's newline is
      // the one before the boundary, and goes with it to the parent's body.
      if (this.boundaries.size > 0 && this.pos < len) {
        const b = this.boundaryAt(this.pos);
        if (b !== null && b.part !== part) {
          if (prevNl > 0) this.giveNewlineToParent(part, prevNl);
          break;
        }
      }
      if (this.pos >= len) break;

      // One header field: first line plus continuation lines.
      const lineStart = this.pos;
      let nl = buf.indexOf(LF, lineStart);
      let lineEnd: number; // end of content (CR excluded)
      let next: number;
      if (nl === -1) {
        lineEnd = len;
        next = len;
        prevNl = 0;
      } else {
        if (nl > lineStart && buf[nl - 1] === CR) {
          lineEnd = nl - 1;
          prevNl = 2;
        } else {
          lineEnd = nl;
          prevNl = 1;
          part.hdr.virt++;
          this.bareLf = true;
        }
        next = nl + 1;
        part.hdr.lines++;
      }
      part.hdr.phys += next - lineStart;
      part.hdr.virt += next - lineStart;
      this.pos = next;

      if (lineEnd === lineStart && nl !== -1) {
        // Dovecot starts the multipart's boundary on seeing the blank line,
        // so a line starting with it right after is not taken as foreign.
        if (lastBoundary !== null && (part.flags & F_IS_MIME) !== 0) {
          if (part.depth + 1 >= MAX_NESTED_PARTS) {
            overflow = true;
            part.flags &= ~F_MULTIPART;
          } else {
            multipart = true;
            this.boundaries.push(part, Buffer.from(lastBoundary, 'latin1'));
          }
        }
        if (this.boundaries.size > 0 && this.pos < len) {
          const b = this.boundaryAt(this.pos);
          if (b !== null && b.part !== part) this.giveNewlineToParent(part, prevNl);
        }
        break;
      }

      let lname = '';
      let value = '';
      // Only the fields read below get their value as a string (a Received or
      // DKIM-Signature field is passed over).
      let wanted = false;
      const colon = this.colonIn(lineStart, lineEnd);
      if (colon !== -1) {
        let ne = colon;
        while (ne > lineStart && (buf[ne - 1] === 0x20 || buf[ne - 1] === 0x09)) ne--;
        lname = cname(latin1(buf, lineStart, ne));
        wanted = lname.startsWith('content-') || ((parentRfc822 || part.parent === null) && ENVELOPE_FIELDS.has(lname));
      }
      if (wanted) {
        let vs = colon + 1;
        while (vs < lineEnd && (buf[vs] === 0x20 || buf[vs] === 0x09)) vs++;
        if (vs === lineEnd && colon + 1 < lineEnd) vs = colon + 2; // all LWSP: skip just one
        value = latin1(buf, vs, lineEnd);
      }
      // Continuation lines.
      while (nl !== -1 && this.pos < len && (buf[this.pos] === 0x20 || buf[this.pos] === 0x09)) {
        const cs = this.pos;
        nl = buf.indexOf(LF, cs);
        let ce: number;
        if (nl === -1) {
          ce = len;
          next = len;
          prevNl = 0;
        } else {
          if (buf[nl - 1] === CR) {
            ce = nl - 1;
            prevNl = 2;
          } else {
            ce = nl;
            prevNl = 1;
            part.hdr.virt++;
            this.bareLf = true;
          }
          next = nl + 1;
          part.hdr.lines++;
        }
        part.hdr.phys += next - cs;
        part.hdr.virt += next - cs;
        this.pos = next;
        if (wanted) value += '\n' + latin1(buf, cs, ce);
      }

      // A line without a colon is no header field: Dovecot ignores it (it
      // only survives in BODY[HEADER] and HEADER.FIELDS.NOT output).
      if (colon === -1) continue;
      // message-parser: MIME-ness, Content-Type flags and boundary.
      if (lname === 'mime-version') {
        part.flags |= F_IS_MIME;
      } else if (lname === 'content-type') {
        part.flags |= F_IS_MIME;
        if (!seenContentType) {
          seenContentType = true;
          const p = new Rfc822Parser(value);
          p.skipLwsp();
          const ct = { v: '' };
          const ret = p.parseContentType(ct);
          const lct = ct.v.toLowerCase();
          if (lct === 'message/rfc822') part.flags |= F_RFC822;
          else if (lct.startsWith('text') && (lct.length === 4 || lct.charCodeAt(4) === 0x2f)) part.flags |= F_TEXT;
          else if (lct.startsWith('multipart/')) {
            part.flags |= F_MULTIPART;
            if (lct.slice(10) === 'digest') part.flags |= F_DIGEST;
          }
          if (ret >= 0 && (part.flags & F_MULTIPART) !== 0 && lastBoundary === null) {
            const params = parseMimeParams(p);
            for (let i = 0; i < params.length; i += 2) {
              if (params[i]!.toLowerCase() === 'boundary') {
                lastBoundary = params[i + 1]!.slice(0, BOUNDARY_STRING_MAX_LEN);
                break;
              }
            }
          }
        }
      }
      // message-part-data: Content-* fields, and the envelope of embedded messages.
      if (lname.startsWith('content-')) parseContentHeader(part.data, lname.slice(8), value);
      if (parentRfc822 || part.parent === null) {
        if (part.env === null) part.env = {};
        parseEnvelopeHeader(part.env, lname, value);
      }
    }

    if ((part.flags & F_IS_MIME) === 0) {
      part.flags = 0;
      // Without MIME-Version (and Content-Type) the Content-* fields don't count.
      part.data = {};
    }
    if (!seenContentType || (part.flags & F_IS_MIME) === 0) {
      if (part.parent !== null && (part.parent.flags & F_DIGEST) !== 0) part.flags |= F_RFC822;
      else part.flags |= F_TEXT;
    }
    // Too deep or too many parts: the embedded message stays unparsed.
    if ((part.flags & F_RFC822) !== 0 && (part.depth + 1 >= MAX_NESTED_PARTS || this.totalParts >= MAX_TOTAL_PARTS)) {
      overflow = true;
      part.flags &= ~F_RFC822;
    }
    // Dovecot reports such an unopened part as an opaque attachment (its
    // Content-Type parameters stay), so clients do not try to parse it.
    if (overflow) {
      part.data.type = 'application';
      part.data.subtype = 'octet-stream';
    }
    // "Content-Type: multipart" with no subtype is no multipart, and written
    // as one part typed "multipart" it would read as a multipart body in
    // BODYSTRUCTURE: Dovecot reports it as application/octet-stream too.
    if (!multipart && part.data.subtype === '' && part.data.type?.toLowerCase() === 'multipart') {
      part.data.type = 'application';
      part.data.subtype = 'octet-stream';
    }
    if (multipart) return null;
    if ((part.flags & F_RFC822) !== 0) {
      const child = this.newPart(part);
      this.totalParts++;
      part.children.push(child);
      return child;
    }
    return null;
  }

  /**
   * Parses body bytes of `part` up to the next boundary or the end. Returns
   * the part whose header starts next, or null at the end of input.
   */
  private parseBody(startPart: Part): Part | null {
    let part = startPart;
    this.cur = part;
    for (;;) {
      this.cur = part;
      const buf = this.buf;
      const len = this.len;
      if (this.boundaries.size === 0) {
        this.addBody(part, this.pos, len);
        this.pos = len;
        return null;
      }
      // Boundary on the very first line?
      let found: Boundary | null = null;
      let bstart = this.pos;
      let firstLine = false;
      if (this.pos < len && (this.pos === 0 || buf[this.pos - 1] === LF)) {
        found = this.boundaryAt(this.pos);
        if (found !== null) firstLine = true;
      }
      if (found === null) {
        let nl = buf.indexOf(LF, this.pos);
        while (nl !== -1) {
          const b = this.boundaryAt(nl + 1);
          if (b !== null) {
            found = b;
            bstart = nl > this.pos && buf[nl - 1] === CR ? nl - 1 : nl;
            break;
          }
          nl = buf.indexOf(LF, nl + 1);
        }
        if (found === null) {
          this.addBody(part, this.pos, len);
          this.pos = len;
          return null;
        }
        this.addBody(part, this.pos, bstart);
      }

      // parse_part_finish: close parts up to the boundary's owner.
      for (; part !== found.part; part = part.parent!) {
        addSize(part.parent!.body, part.body);
        addSize(part.parent!.body, part.hdr);
      }
      this.cur = part;
      // Boundaries opened after this one are forgotten; a closing delimiter closes it too.
      this.boundaries.popTo(found, !found.epilogue);
      let lineSize = firstLine ? 0 : buf[bstart] === CR ? 2 : 1;
      lineSize += 2 + found.bytes.length + (found.epilogue ? 2 : 0);
      this.addBody(part, bstart, bstart + lineSize);
      this.pos = bstart + lineSize;
      // The rest of the boundary line.
      const nl = buf.indexOf(LF, this.pos);
      if (nl === -1) {
        this.addBody(part, this.pos, len);
        this.pos = len;
        return null;
      }
      this.addBody(part, this.pos, nl + 1);
      this.pos = nl + 1;
      const top = this.boundaries.top();
      if (top === undefined || top.part !== part) {
        // epilogue of this multipart
        continue;
      }
      // A new MIME part begins.
      const child = this.newPart(part);
      child.flags |= F_IS_MIME;
      this.totalParts++;
      part.children.push(child);
      return child;
    }
  }
}

/** Dovecot's message_header_strdup: the value as a string, NULs turned into U+FFFD. */
function headerString(value: string): string {
  return value.indexOf('\0') >= 0 ? value.replace(/\0/g, NUL_REPLACEMENT) : value;
}

function parseContentHeader(d: PartData, name: string, value: string): void {
  switch (name) {
    case 'id':
      if (d.id === undefined) d.id = headerString(value);
      break;
    case 'md5':
      if (d.md5 === undefined) d.md5 = headerString(value);
      break;
    case 'type':
      if (d.type === undefined) parseContentType(d, value);
      break;
    case 'transfer-encoding':
      if (d.enc === undefined) {
        const p = new Rfc822Parser(value);
        p.skipLwsp();
        const tok = { v: '' };
        if (p.parseMimeToken(tok) >= 0 && p.skipLwsp() === 0 && tok.v.length > 0) d.enc = tok.v;
      }
      break;
    case 'language':
      if (d.lang === undefined) {
        const p = new Rfc822Parser(value);
        const langs: string[] = [];
        p.skipLwsp();
        for (;;) {
          const a = { v: '' };
          if (p.parseAtom(a) < 0) break;
          langs.push(a.v);
          if (p.atEnd || p.cur() !== 0x2c) break;
          p.pos++;
          p.skipLwsp();
        }
        if (langs.length > 0) d.lang = langs;
      }
      break;
    case 'location':
      if (d.loc === undefined) d.loc = headerString(value);
      break;
    case 'description':
      if (d.desc === undefined) d.desc = headerString(value);
      break;
    case 'disposition':
      if (d.dispParams === undefined) {
        const p = new Rfc822Parser(value);
        p.skipLwsp();
        const tok = { v: '' };
        if (p.parseMimeToken(tok) < 0) break;
        d.disp = tok.v;
        const params = parseMimeParams(p);
        if (params.length > 0) d.dispParams = params;
      }
      break;
  }
}

function parseContentType(d: PartData, value: string): void {
  const p = new Rfc822Parser(value);
  p.skipLwsp();
  const ct = { v: '' };
  const ret = p.parseContentType(ct);
  const slash = ct.v.indexOf('/');
  if (slash >= 0) {
    d.type = ct.v.slice(0, slash);
    d.subtype = ct.v.slice(slash + 1);
  } else {
    d.type = ct.v;
    d.subtype = '';
  }
  if (ret < 0) return;
  const params = parseMimeParams(p);
  if (params.length > 0) d.params = params;
}

/** The fields parseEnvelopeHeader reads. */
const ENVELOPE_FIELDS = new Set(['date', 'subject', 'message-id', 'in-reply-to', 'from', 'sender', 'reply-to', 'to', 'cc', 'bcc']);

function parseEnvelopeHeader(env: Envelope, lname: string, value: string): void {
  switch (lname) {
    case 'date':
      env.date = headerString(value);
      break;
    case 'subject':
      env.subject = headerString(value);
      break;
    case 'message-id':
      env.messageId = headerString(value);
      break;
    case 'in-reply-to':
      env.inReplyTo = headerString(value);
      break;
    case 'from':
    case 'sender':
    case 'reply-to':
    case 'to':
    case 'cc':
    case 'bcc': {
      // Repeated address headers add up (strings, in contrast, keep the last one).
      const list = parseAddressList(value);
      const key = lname === 'reply-to' ? 'replyTo' : (lname as 'from' | 'sender' | 'to' | 'cc' | 'bcc');
      if (list.length > 0) {
        const prev = env[key];
        env[key] = prev === undefined ? list : prev.concat(list);
      }
      break;
    }
  }
}

function kindOf(flags: number): PartKind {
  if ((flags & F_MULTIPART) !== 0) return 'multipart';
  if ((flags & F_RFC822) !== 0) return 'message';
  if ((flags & F_TEXT) !== 0) return 'text';
  return 'other';
}

function toMimePart(p: Part): MimePart {
  const m: MimePart = {
    kind: kindOf(p.flags),
    hdrOff: p.pos,
    hdrLen: p.hdr.phys,
    bodyLen: p.body.phys,
    bodySize: p.body.virt,
    lines: p.body.lines,
    hdrSize: p.hdr.virt,
  };
  const d = p.data;
  if (d.type !== undefined) m.type = d.type;
  if (d.subtype !== undefined) m.subtype = d.subtype;
  if (d.params !== undefined) m.params = d.params;
  if (d.id !== undefined) m.id = d.id;
  if (d.desc !== undefined) m.desc = d.desc;
  if (d.enc !== undefined) m.enc = d.enc;
  if (d.md5 !== undefined) m.md5 = d.md5;
  if (d.disp !== undefined) m.disp = d.disp;
  if (d.dispParams !== undefined) m.dispParams = d.dispParams;
  if (d.lang !== undefined) m.lang = d.lang;
  if (d.loc !== undefined) m.loc = d.loc;
  if (p.children.length > 0 || m.kind === 'multipart') m.parts = p.children.map(toMimePart);
  if (p.parent !== null && (p.parent.flags & F_RFC822) !== 0) m.env = p.env ?? {};
  return m;
}

export function parseStructure(raw: Buffer): ParseResult {
  const parser = new MessageParser(raw);
  const root = parser.parse();
  return {
    root: toMimePart(root),
    envelope: root.env ?? {},
    size: raw.length,
    vsize: root.hdr.virt + root.body.virt,
    bareLf: parser.bareLf,
  };
}
