// BINARY[section] (RFC 3516, RFC 9051 6.4.5): a part's content with its
// Content-Transfer-Encoding undone. Like Dovecot, a multipart or an embedded
// message is converted as a whole: each base64 or quoted-printable leaf is
// decoded and its Content-Transfer-Encoding header says "binary" instead, so
// the result is still a well-formed MIME entity. An encoding that cannot be
// undone anywhere in the section makes the whole FETCH fail with UNKNOWN-CTE.
import { findPart } from './fetch-structure.js';
import { decodeTransfer, transferEncoding } from '../../../mime/transfer-encoding.js';
import type { MessageIndex } from './backend.js';
import type { MimePart } from '../../../mime/types.js';
import { MessageHeader, toCrlf } from '../../../mime/index.js';

export class UnknownCteError extends Error {
  constructor() {
    super('Unknown Content-Transfer-Encoding');
    this.name = 'UnknownCteError';
  }
}

const BINARY_CTE = Buffer.from('Content-Transfer-Encoding: binary\r\n', 'latin1');

class Converter {
  private readonly out: Buffer[] = [];

  constructor(
    private readonly raw: Buffer,
    private readonly bareLf: boolean,
  ) {}

  result(): Buffer {
    return this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
  }

  /** Raw bytes as sent (CRLF line ends, like BODY[]). */
  private copy(start: number, end: number): void {
    if (end <= start) return;
    const b = this.raw.subarray(start, Math.min(end, this.raw.length));
    this.out.push(this.bareLf ? toCrlf(b) : b);
  }

  /**
   * The part's Content-Transfer-Encoding. The index leaves it out of a part
   * without Content-Type (as Dovecot's BODYSTRUCTURE does), but the body is
   * still encoded: Dovecot's BINARY decodes it, so the header is read here.
   */
  private cte(part: MimePart): string | undefined {
    if (part.enc !== undefined) return part.enc;
    return this.headerOf(part).values('content-transfer-encoding').at(-1);
  }

  /** The header view of a part's header section (offsets relative to part.hdrOff). */
  private headerOf(part: MimePart): MessageHeader {
    return new MessageHeader(this.raw.subarray(part.hdrOff, Math.min(part.hdrOff + part.hdrLen, this.raw.length)));
  }

  /** A part with its header; a decoded leaf gets "Content-Transfer-Encoding: binary". */
  whole(part: MimePart): void {
    const decoded = part.kind !== 'multipart' && part.kind !== 'message' && transferEncoding(this.cte(part)) !== 'identity';
    if (decoded) this.header(part);
    else this.copy(part.hdrOff, part.hdrOff + part.hdrLen);
    this.content(part);
  }

  /** The part's body: decoded for a leaf, converted part by part for a multipart or message. */
  content(part: MimePart): void {
    const start = part.hdrOff + part.hdrLen;
    const end = start + part.bodyLen;
    if (part.kind === 'message') {
      const child = part.parts?.[0];
      if (child === undefined) return this.copy(start, end);
      return this.whole(child);
    }
    if (part.kind === 'multipart') {
      // Boundaries, preamble and epilogue stay as they are; each child is converted.
      let at = start;
      for (const child of part.parts ?? []) {
        this.copy(at, child.hdrOff);
        this.whole(child);
        at = child.hdrOff + child.hdrLen + child.bodyLen;
      }
      return this.copy(at, end);
    }
    const body = this.raw.subarray(start, Math.min(end, this.raw.length));
    const cte = this.cte(part);
    if (transferEncoding(cte) === 'identity') return this.copy(start, end);
    const decoded = decodeTransfer(body, cte);
    if (decoded === undefined) throw new UnknownCteError();
    this.out.push(decoded);
  }

  /** The header with its Content-Transfer-Encoding field (and continuation lines) replaced. */
  private header(part: MimePart): void {
    const h = this.headerOf(part);
    let at = part.hdrOff;
    for (const f of h.all('content-transfer-encoding')) {
      this.copy(at, part.hdrOff + f.start);
      this.out.push(BINARY_CTE);
      at = part.hdrOff + f.end;
    }
    this.copy(at, part.hdrOff + h.raw.length);
  }
}

/**
 * The decoded content of BINARY[path] (the whole message for []), or null
 * when the part does not exist. Throws UnknownCteError.
 */
export function binaryContent(raw: Buffer, index: MessageIndex, path: readonly number[]): Buffer | null {
  const conv = new Converter(raw, index.bareLf);
  if (path.length === 0) {
    conv.whole(index.body);
    return conv.result();
  }
  const part = findPart(index.body, [...path]);
  if (part === null) return null;
  conv.content(part);
  return conv.result();
}
