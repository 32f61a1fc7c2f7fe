// The POP3 line receiver: fed bytes as they arrive, it yields complete lines
// (without CRLF or LF). A line longer than the current limit yields one
// 'too-long' item and is skipped up to its end, so memory stays bounded by
// the limit whatever the client sends. Work is linear in the input: each
// byte is looked at once (indexOf over the new chunk only).

export type ReceivedLine = { kind: 'line'; text: string } | { kind: 'too-long' };

const LF = 0x0a;
const CR = 0x0d;

export class Pop3Receiver {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** Inside an over-long line: drop bytes until its LF. */
  private skipping = false;

  /** maxLine counts the line's bytes with its CRLF. */
  constructor(public maxLine: number) {}

  feed(chunk: Buffer): ReceivedLine[] {
    const out: ReceivedLine[] = [];
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(LF, start);
      if (lf < 0) {
        this.keep(chunk.subarray(start), out);
        break;
      }
      const piece = chunk.subarray(start, lf);
      start = lf + 1;
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      if (this.pendingLength + piece.length + 1 > this.maxLine) {
        this.drop();
        out.push({ kind: 'too-long' });
        continue;
      }
      let line = this.pendingLength === 0 ? piece : Buffer.concat([...this.pending, piece]);
      this.drop();
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      // latin1 maps every byte to one char: no decoding surprises; UTF-8 user names are decoded by the caller.
      out.push({ kind: 'line', text: line.toString('latin1') });
    }
    return out;
  }

  /** Forgets everything buffered (after STLS: nothing sent in the clear may count as sent over TLS). */
  reset(): void {
    this.drop();
    this.skipping = false;
  }

  /** Bytes held for an unfinished line. */
  get buffered(): number {
    return this.pendingLength;
  }

  private keep(rest: Buffer, out: ReceivedLine[]): void {
    if (this.skipping) return;
    if (this.pendingLength + rest.length >= this.maxLine) {
      this.drop();
      this.skipping = true;
      out.push({ kind: 'too-long' });
      return;
    }
    // A copy: the socket's chunk may be reused.
    this.pending.push(Buffer.from(rest));
    this.pendingLength += rest.length;
  }

  private drop(): void {
    this.pending = [];
    this.pendingLength = 0;
  }
}
