// The replies a session holds back to send in one write (see session.ts,
// GATHERED). Small pieces (status lines, messages of a few KB) are copied
// as they come into a chunk shared by the following batches: no Buffer per
// status line, and a batch of small replies is one piece (one write, no
// second copy to join pieces).
// Big pieces go as they are (a large message is not copied).
// A chunk all of whose batches were written goes back to a small pool that
// every session takes from: a new ArrayBuffer per chunk counts for V8 as
// external memory, and a download allocating one every few dozen messages
// had the garbage collector run full collections for that alone.
import { OUTPUT_BATCH_BYTES } from './limits.js';

/** Pieces this big or bigger are not copied. */
export const COPY_MAX = 16 * 1024;
/**
 * A chunk's size: a few batches (OUTPUT_BATCH_BYTES) of small replies. A
 * batch that does not fit in a chunk's rest moves to the next chunk whole
 * (see room), so the larger the chunk, the less of it is left unused.
 */
const CHUNK = 4 * OUTPUT_BATCH_BYTES;
const DOT = 0x2e;
const LF_DOT = Buffer.from('\n.');
/** Chunks free for reuse, of any session; a few, so idle sessions keep nothing and the process little. */
const FREE_CHUNKS_MAX = 8;
const freeChunks: Buffer[] = [];

/** A chunk and the batches that hold slices of it (being filled or being written). */
class Chunk {
  holds = 0;
  /** No longer the one being filled: free once no batch holds it. */
  retired = false;
  /** Held by the batch being filled already. */
  inBatch = false;
  constructor(readonly buf: Buffer) {}
}

const NO_CHUNK = new Chunk(Buffer.alloc(0));

/** What take() gives: the pieces to write, and written() to call once the socket is done with them. */
export interface TakenBatch {
  parts: Buffer[];
  written(): void;
}

export class OutputBatch {
  private parts: Buffer[] = [];
  private current = NO_CHUNK;
  /** Chunks the batch being filled has slices of. */
  private batchChunks: Chunk[] = [];
  /** The chunk's bytes before `start` are in `parts` already (or sent); [start, pos) is being filled. */
  private start = 0;
  private pos = 0;
  /** Bytes held. */
  size = 0;

  /** A line of text (UTF-8, as Buffer.from would encode it). */
  text(s: string): void {
    this.room(s.length * 3);
    const n = this.current.buf.write(s, this.pos);
    this.pos += n;
    this.size += n;
  }

  bytes(b: Buffer): void {
    if (b.length >= COPY_MAX) {
      this.seal();
      this.parts.push(b);
    } else {
      this.room(b.length);
      this.pos += b.copy(this.current.buf, this.pos);
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

  /**
   * What is held, in order, and nothing held any more (the chunk's rest
   * serves the next batch). Call written() once the pieces are written or
   * will never be (not before: the chunk is then filled again).
   */
  take(): TakenBatch {
    this.seal();
    const parts = this.parts;
    const chunks = this.batchChunks;
    this.parts = [];
    this.batchChunks = [];
    this.size = 0;
    for (const c of chunks) c.inBatch = false;
    let done = false;
    return {
      parts,
      written: () => {
        if (done) return;
        done = true;
        for (const c of chunks) letGo(c);
      },
    };
  }

  /** Forgets what is held and the chunk (an idle or ended session keeps no buffer). */
  release(): void {
    const { written } = this.take();
    written();
    this.retire();
    this.start = this.pos = 0;
  }

  private copy(b: Buffer, from: number, to: number): void {
    const n = to - from;
    if (n <= 0) return;
    this.room(n);
    this.pos += b.copy(this.current.buf, this.pos, from, to);
    this.size += n;
  }

  private byte(b: number): void {
    this.room(1);
    this.current.buf[this.pos++] = b;
    this.size++;
  }

  private seal(): void {
    if (this.pos === this.start) return;
    const c = this.current;
    this.parts.push(c.buf.subarray(this.start, this.pos));
    this.start = this.pos;
    if (!c.inBatch) {
      c.inBatch = true;
      c.holds++;
      this.batchChunks.push(c);
    }
  }

  private room(n: number): void {
    if (this.current.buf.length - this.pos >= n) return;
    // What the batch holds in this chunk so far moves to the new one with it: a batch stays one
    // piece (one write, no copy to join its pieces). Those bytes were never handed out, and the
    // old chunk is not written again until every batch with slices of it is written.
    const held = this.pos - this.start;
    const size = Math.max(CHUNK, held + n);
    // Not from Buffer's shared pool: a chunk is only filled again once its slices are written.
    const next = new Chunk((size === CHUNK ? freeChunks.pop() : undefined) ?? Buffer.allocUnsafeSlow(size));
    if (held > 0) this.current.buf.copy(next.buf, 0, this.start, this.pos);
    this.retire();
    this.current = next;
    this.start = 0;
    this.pos = held;
  }

  /** The chunk being filled is done with: to the pool once no batch holds it. */
  private retire(): void {
    const c = this.current;
    this.current = NO_CHUNK;
    if (c === NO_CHUNK) return;
    c.retired = true;
    if (c.holds === 0) pool(c);
  }
}

function letGo(c: Chunk): void {
  c.holds--;
  if (c.retired && c.holds === 0) pool(c);
}

function pool(c: Chunk): void {
  if (c.buf.length === CHUNK && freeChunks.length < FREE_CHUNKS_MAX) freeChunks.push(c.buf);
}
