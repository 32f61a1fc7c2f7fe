// The replies a session holds back to send in one write (see session.ts,
// GATHERED). Small pieces (status lines, messages of a few KB) are copied
// as they come into a chunk shared by the following batches: no Buffer per
// status line and no second copy of the whole batch when it is written.
// Big pieces go as they are (a large message is not copied).

/** A chunk's size: a few batches' worth (OUTPUT_BATCH_BYTES) of small replies. */
const CHUNK = 128 * 1024;
/** Pieces this big or bigger are not copied. */
const COPY_MAX = 16 * 1024;
const EMPTY = Buffer.alloc(0);

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

  private seal(): void {
    if (this.pos === this.start) return;
    this.parts.push(this.chunk.subarray(this.start, this.pos));
    this.start = this.pos;
  }

  private room(n: number): void {
    if (this.chunk.length - this.pos >= n) return;
    this.seal();
    // Not from the shared pool: the chunk is written to the socket in slices, never reused under them.
    this.chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK, n));
    this.start = this.pos = 0;
  }
}
