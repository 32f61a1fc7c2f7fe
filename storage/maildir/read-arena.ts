// Memory for lent reads: message bytes that a caller copies out and then
// gives back (POP3's RETR copies each message into its reply). A buffer of
// its own per read, or a slab per few reads, is a new ArrayBuffer, which V8
// counts as external memory: a download of thousands of messages made the
// garbage collector run a full mark-compact every few dozen milliseconds
// for that alone. One SharedArrayBuffer (shared so that a reader thread can
// read straight into it), used as a ring: regions are lent in order and
// given back in any order; the space before the oldest region still lent is
// lent again. When it is full, the caller reads the ordinary way.

/** A lent region: [start, end) of the arena. */
export interface ArenaRegion {
  readonly start: number;
  readonly end: number;
}

interface Lent extends ArenaRegion {
  back: boolean;
}

export class ReadArena {
  readonly memory: SharedArrayBuffer;
  /** The whole arena as bytes (reads go into it). */
  readonly bytes: Buffer;
  /** Regions lent, oldest first, from index `first` on. */
  private lent: Lent[] = [];
  private first = 0;
  /** Where the next region starts. */
  private head = 0;

  constructor(readonly size: number) {
    this.memory = new SharedArrayBuffer(size);
    this.bytes = Buffer.from(this.memory);
  }

  /** Regions lent and not given back yet (some may wait behind an older one). */
  get lentCount(): number {
    return this.lent.length - this.first;
  }

  /** A region of n bytes, or undefined when the arena has no such room now. */
  lend(n: number): ArenaRegion | undefined {
    if (n <= 0 || n > this.size) return undefined;
    let at: number;
    if (this.first === this.lent.length) {
      // Nothing lent: the whole arena is free.
      at = 0;
    } else {
      const tail = this.lent[this.first]!.start;
      if (this.head > tail) {
        // Lent regions lie in [tail, head): room after head, or from 0 up to tail.
        if (this.size - this.head >= n) at = this.head;
        else if (tail >= n) at = 0;
        else return undefined;
      } else {
        // Wrapped: lent regions lie in [tail, size) and [0, head); room in [head, tail).
        if (tail - this.head >= n) at = this.head;
        else return undefined;
      }
    }
    const region: Lent = { start: at, end: at + n, back: false };
    this.lent.push(region);
    this.head = region.end;
    return region;
  }

  /** Gives a region back: its bytes may be lent again (once every older one is back too). Twice is a no-op. */
  giveBack(region: ArenaRegion): void {
    const r = region as Lent;
    if (r.back) return;
    r.back = true;
    while (this.first < this.lent.length && this.lent[this.first]!.back) this.first++;
    if (this.first === this.lent.length) {
      this.lent = [];
      this.first = 0;
      this.head = 0;
    } else if (this.first > 1024 && this.first * 2 > this.lent.length) {
      this.lent = this.lent.slice(this.first);
      this.first = 0;
    }
  }

  /** The region's bytes (a view: valid until the region is given back). */
  view(region: ArenaRegion, length = region.end - region.start): Buffer {
    return Buffer.from(this.memory, region.start, length);
  }
}
