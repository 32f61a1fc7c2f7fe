// The POP3 line receiver: fed bytes as they arrive, it yields complete lines
// (without CRLF or LF). A line longer than the current limit yields one
// 'too-long' item and is skipped up to its end, so memory stays bounded by
// the limit whatever the client sends. Work is linear in the input: each
// byte is looked at once (indexOf over the new chunk only).

export type ReceivedLine = { kind: 'line'; text: string } | { kind: 'too-long' };

const CR = 0x0d;

export class Pop3Receiver {
  /** The unfinished line's start (latin1: one char per byte). */
  private pending = '';
  /** Inside an over-long line: drop bytes until its LF. */
  private skipping = false;

  /** maxLine counts the line's bytes with its CRLF. */
  constructor(public maxLine: number) {}

  feed(chunk: Buffer): ReceivedLine[] {
    const out: ReceivedLine[] = [];
    // The chunk as one string, its lines as slices of it: no Buffer view and
    // no decoding call per line (a pipelining client sends dozens per chunk).
    // latin1 maps every byte to one char: no decoding surprises; UTF-8 user
    // names are decoded by the caller.
    const text = chunk.toString('latin1');
    let start = 0;
    while (start < text.length) {
      const lf = text.indexOf('\n', start);
      if (lf < 0) {
        this.keep(text.slice(start), out);
        break;
      }
      const from = start;
      start = lf + 1;
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      if (this.pending.length + (lf - from) + 1 > this.maxLine) {
        this.pending = '';
        out.push({ kind: 'too-long' });
        continue;
      }
      const end = lf > from && text.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
      let line: string;
      if (this.pending.length === 0) line = text.slice(from, end);
      else {
        line = this.pending + text.slice(from, lf);
        this.pending = '';
        // The CR may have come at the end of the previous chunk.
        if (line.length > 0 && line.charCodeAt(line.length - 1) === CR) line = line.slice(0, -1);
      }
      out.push({ kind: 'line', text: line });
    }
    return out;
  }

  /** Forgets everything buffered (after STLS: nothing sent in the clear may count as sent over TLS). */
  reset(): void {
    this.pending = '';
    this.skipping = false;
  }

  /** Bytes held for an unfinished line. */
  get buffered(): number {
    return this.pending.length;
  }

  private keep(rest: string, out: ReceivedLine[]): void {
    if (this.skipping) return;
    if (this.pending.length + rest.length >= this.maxLine) {
      this.pending = '';
      this.skipping = true;
      out.push({ kind: 'too-long' });
      return;
    }
    this.pending += rest;
  }
}
