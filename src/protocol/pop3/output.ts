// The replies a session holds back to send in one write (see session.ts,
// GATHERED). Small pieces (status lines, messages of a few KB) are copied
// as they come into a chunk shared by the following batches: no Buffer per
// status line, and a batch of small replies is one piece (one write, no
// second copy to join pieces).
// Big pieces go as they are (a large message is not copied).
import { OUTPUT_BATCH_BYTES } from './limits.js';

/** Pieces this big or bigger are not copied. */
export const COPY_MAX = 16 * 1024;
/**
 * A chunk's size: a few batches (OUTPUT_BATCH_BYTES) of small replies. A
 * batch that does not fit in a chunk's rest moves to the next chunk whole
 * (see room), so the larger the chunk, the less of it is left unused.
 */
const CHUNK = 4 * OUTPUT_BATCH_BYTES;
const EMPTY = Buffer.alloc(0);
const DOT = 0x2e;
const LF_DOT = Buffer.from('\n.');

export class OutputBatch {
  private parts: Buffer[] = [];
  private chunk = EMPTY;
  /** The chunk's bytes before `start` are in `parts` already (or sent); [start, pos) is being filled. */
  private start = 0;
  private pos = 0;
  /** Bytes held. */
  size = 0;

  /** A line of text (UTF-8, as Buffer.from would encode it). */
  text(s: string): void {
    this.room(s.length * 3);
    const n = this.chunk.write(s, this.pos);
    this.pos += n;
    this.size += n;
  }

  bytes(b: Buffer): void {
    if (b.length >= COPY_MAX) {
      this.seal();
      this.parts.push(b);
    } else {
      this.room(b.length);
      this.pos += b.copy(this.chunk, this.pos);
    }
    this.size += b.length;
  }

  /**
   * A stored message known to have CRLF line ends only, dot-stuffed on the
   * way in (RFC 1939 3: a line that starts with "." gets another): copied
   * in runs between such lines, no piece made per run. The caller makes
   * sure of the line ends (responses.ts, messageParts, mends any others).
   */
  dotStuffed(raw: Buffer): void {
    let from = 0;
    if (raw.length > 0 && raw[0] === DOT) {
      this.byte(DOT);
    }
    // One search for the whole message where no line starts with "." (most mail).
    for (let at = raw.indexOf(LF_DOT); at >= 0; at = raw.indexOf(LF_DOT, at + 2)) {
      this.copy(raw, from, at + 1);
      this.byte(DOT);
      from = at + 1;
    }
    this.copy(raw, from, raw.length);
  }

  /** What is held, in order, and nothing held any more (the chunk's rest serves the next batch). */
  take(): Buffer[] {
    this.seal();
    const parts = this.parts;
    this.parts = [];
    this.size = 0;
    return parts;
  }

  /** Forgets what is held and the chunk (an idle or ended session keeps no buffer). */
  release(): void {
    this.parts = [];
    this.size = 0;
    this.chunk = EMPTY;
    this.start = this.pos = 0;
  }

  private copy(b: Buffer, from: number, to: number): void {
    const n = to - from;
    if (n <= 0) return;
    this.room(n);
    this.pos += b.copy(this.chunk, this.pos, from, to);
    this.size += n;
  }

  private byte(b: number): void {
    this.room(1);
    this.chunk[this.pos++] = b;
    this.size++;
  }

  private seal(): void {
    if (this.pos === this.start) return;
    this.parts.push(this.chunk.subarray(this.start, this.pos));
    this.start = this.pos;
  }

  private room(n: number): void {
    if (this.chunk.length - this.pos >= n) return;
    // What the batch holds in this chunk so far moves to the new one with it: a batch stays one
    // piece (one write, no copy to join its pieces). Those bytes were never handed out, and the
    // old chunk is not written again: the slices taken from it stay as they were.
    const held = this.pos - this.start;
    // Not from the shared pool: the chunk is written to the socket in slices, never reused under them.
    const next = Buffer.allocUnsafeSlow(Math.max(CHUNK, held + n));
    if (held > 0) this.chunk.copy(next, 0, this.start, this.pos);
    this.chunk = next;
    this.start = 0;
    this.pos = held;
  }
}
