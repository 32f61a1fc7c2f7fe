// Decoded text of a message's parts, read off the structure the parser
// found (the same part tree IMAP BODYSTRUCTURE reports): transfer encoding
// and charset undone. Used by IMAP SEARCH BODY/TEXT and the Sieve body test.

import type { MimePart } from './types.js';
import { decodeCharset, decodeHeader } from './decode.js';
import { decodeTransfer } from './transfer-encoding.js';

/** Deeper parts are not read (the parser itself stops at 100 levels). */
const MAX_DEPTH = 50;

export function paramValue(params: string[] | undefined, name: string): string | undefined {
  if (!params) return undefined;
  for (let i = 0; i + 1 < params.length; i += 2) if (params[i]!.toLowerCase() === name) return params[i + 1];
  return undefined;
}

/** Where a part's body lies in the raw message. */
function bodyRange(part: MimePart): [number, number] {
  const start = part.hdrOff + part.hdrLen;
  return [start, start + part.bodyLen];
}

/** A leaf's content with its transfer encoding undone (as it is when the encoding is unknown). */
export function partContent(raw: Buffer, part: MimePart): Buffer {
  const [start, end] = bodyRange(part);
  const body = raw.subarray(start, end);
  return decodeTransfer(body, part.enc) ?? body;
}

/** A text part's content as text, in its charset (UTF-8 when it names none). */
export function partText(raw: Buffer, part: MimePart): string {
  return decodeCharset(partContent(raw, part), paramValue(part.params, 'charset'));
}

/**
 * What SEARCH looks in, as Dovecot (without full-text search) does: the
 * decoded text of every text/* part, HTML as it is (tags too), joined. With
 * `headers` (TEXT), the header of every part below the top one as well:
 * MIME part headers and the headers of embedded messages, which BODY leaves
 * out (the top header is the caller's).
 */
export function searchableText(raw: Buffer, root: MimePart, headers = false): string {
  const out: string[] = [];
  const walk = (part: MimePart, depth: number): void => {
    if (depth > MAX_DEPTH) return;
    if (headers && depth > 0) out.push(decodeHeader(raw.toString('latin1', part.hdrOff, part.hdrOff + part.hdrLen)));
    if (part.parts && part.parts.length > 0) {
      for (const p of part.parts) walk(p, depth + 1);
      return;
    }
    const type = (part.type ?? 'text').toLowerCase();
    if (type !== 'text' && part.kind !== 'text') return;
    out.push(partText(raw, part));
  };
  walk(root, 0);
  return out.join('\n');
}

/** One part for the Sieve body test (RFC 5173): containers first, then their children. */
export interface TextPart {
  /** Lower-case "type/subtype"; text/plain when the part names none. */
  contentType: string;
  /**
   * For a leaf, its content decoded: text/* parts to text in their charset,
   * other parts transfer-decoded as latin1 (one char per byte). For a
   * multipart, its prologue and epilogue.
   */
  text: string;
  /**
   * For a multipart, the same text as separate values: its prologue (even
   * empty), then its epilogue when that is not empty (Pigeonhole's body
   * test sees a container so).
   */
  pieces?: string[];
}

function contentTypeOf(part: MimePart): string {
  if (part.type === undefined || part.subtype === undefined || part.type === '' || part.subtype === '') {
    return part.kind === 'message' ? 'message/rfc822' : 'text/plain';
  }
  return `${part.type}/${part.subtype}`.toLowerCase();
}

/** Start of the line that ends just before `pos` (pos is just past an LF), never before `floor`. */
function lineStartBefore(raw: Buffer, pos: number, floor: number): number {
  if (pos - 1 <= floor) return floor;
  const lf = raw.lastIndexOf(0x0a, pos - 2);
  return lf < floor ? floor : lf + 1;
}

/** Drops one trailing line ending: it belongs to the boundary line after it. */
function endBeforeNewline(raw: Buffer, start: number, end: number): number {
  if (end > start && raw[end - 1] === 0x0a) end--;
  if (end > start && raw[end - 1] === 0x0d) end--;
  return end;
}

/** A multipart's prologue (before the first boundary) and epilogue (after the closing one, '' when none). */
function prologueAndEpilogue(raw: Buffer, part: MimePart): [string, string] {
  const [start, end] = bodyRange(part);
  const children = part.parts ?? [];
  const first = children[0];
  if (first === undefined) return [raw.toString('utf8', start, endBeforeNewline(raw, start, end)), ''];
  const prologue = raw.toString('utf8', start, endBeforeNewline(raw, start, lineStartBefore(raw, first.hdrOff, start)));
  // After the last child: its newline, then the closing boundary line, then the epilogue.
  const last = children[children.length - 1]!;
  let pos = last.hdrOff + last.hdrLen + last.bodyLen;
  if (raw[pos] === 0x0d) pos++;
  if (raw[pos] === 0x0a) pos++;
  const boundary = paramValue(part.params, 'boundary');
  let epilogue = '';
  if (boundary !== undefined && raw.toString('latin1', pos, Math.min(end, pos + boundary.length + 4)) === `--${boundary}--`) {
    const lf = raw.indexOf(0x0a, pos);
    if (lf !== -1 && lf < end) epilogue = raw.toString('utf8', lf + 1, end);
  }
  return [prologue, epilogue];
}

/**
 * Every part in document order, containers before their children. An
 * embedded message (message/rfc822) is a container too, as in Pigeonhole:
 * its text is the embedded header, its child the embedded message's body.
 */
export function textParts(raw: Buffer, root: MimePart): TextPart[] {
  const out: TextPart[] = [];
  const walk = (part: MimePart, depth: number): void => {
    const contentType = contentTypeOf(part);
    if (part.kind === 'multipart' && depth < MAX_DEPTH) {
      const [prologue, epilogue] = prologueAndEpilogue(raw, part);
      out.push({ contentType, text: prologue + epilogue, pieces: epilogue === '' ? [prologue] : [prologue, epilogue] });
      for (const p of part.parts ?? []) walk(p, depth + 1);
      return;
    }
    const embedded = part.kind === 'message' ? part.parts?.[0] : undefined;
    if (embedded !== undefined && depth < MAX_DEPTH) {
      out.push({ contentType, text: raw.toString('utf8', embedded.hdrOff, embedded.hdrOff + embedded.hdrLen) });
      walk(embedded, depth + 1);
      return;
    }
    const content = partContent(raw, part);
    out.push({
      contentType,
      text: contentType.startsWith('text/') ? decodeCharset(content, paramValue(part.params, 'charset')) : content.toString('latin1'),
    });
  };
  walk(root, 0);
  return out;
}
