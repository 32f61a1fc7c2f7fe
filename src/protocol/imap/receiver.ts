// Bytes in, IMAP commands out: line framing and literals ({n}, {n+}), with
// line and literal size limits. No sockets here; the session feeds bytes and
// pulls items, so the framing is testable on its own.
//
// A command arrives as text segments and the literals between them:
// segments[i] is the text before literals[i] (ending with its "{n}" marker)
// and segments.length === literals.length + 1.

export interface RawCommand {
  segments: string[];
  literals: Buffer[];
}

export type ReceivedItem =
  /** A whole command, literals included. */
  | { kind: 'command'; command: RawCommand }
  /** The client waits for "+" before sending a synchronising literal. */
  | { kind: 'continue' }
  /** A framing error: answer BAD/NO with the tag (if one was read); the command is dropped. */
  | { kind: 'error'; tag: string | undefined; code: 'TOOBIG' | 'LINE' ; text: string; responseCode?: string }
  /** A raw line (AUTHENTICATE responses, IDLE's DONE), without its CRLF. */
  | { kind: 'line'; line: Buffer };

export interface ReceiverOptions {
  maxLineLength: number;
  /** Largest literal accepted (APPENDLIMIT). */
  maxLiteral: number;
  /** All the literals of one command together (MULTIAPPEND); default unlimited. */
  maxCommandLiterals?: number;
  /**
   * A lower literal limit for some commands, told by the command's text before
   * its first literal ("TAG NAME ..."), with the response code and text of
   * the refusal (SETMETADATA: [METADATA MAXSIZE n], RFC 5464 4.3), so a
   * synchronising literal is refused before the client sends it.
   */
  literalLimitFor?: (commandStart: string) => LiteralLimit | undefined;
}

export interface LiteralLimit {
  max: number;
  responseCode: string;
  text: string;
}

const LITERAL_MARKER = /\{(\d{1,20})(\+|-)?\}$/;

export class ImapReceiver {
  private chunks: Buffer[] = [];
  private length = 0;
  private segments: string[] = [];
  private literals: Buffer[] = [];
  /** Literal bytes of the command being received. */
  private literalTotal = 0;
  /** Waiting for this many literal bytes. */
  private literalSize = -1;
  private continueOwed = false;
  /** Bytes of a refused non-synchronising literal still to throw away. */
  private skipBytes = 0;
  /** Throwing away the rest of an over-long line. */
  private discardLine = false;
  private pendingError: ReceivedItem | undefined;

  constructor(private readonly options: ReceiverOptions) {}

  /** Changes the literal limits (they grow at login, to APPENDLIMIT). */
  setMaxLiteral(bytes: number, commandTotal?: number): void {
    this.options.maxLiteral = bytes;
    if (commandTotal !== undefined) this.options.maxCommandLiterals = Math.max(commandTotal, bytes);
  }

  push(data: Buffer): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.length += data.length;
  }

  /** Drops everything buffered (after STARTTLS nothing sent in the clear may be used). */
  reset(): void {
    this.chunks = [];
    this.length = 0;
    this.segments = [];
    this.literals = [];
    this.literalTotal = 0;
    this.literalSize = -1;
    this.continueOwed = false;
    this.skipBytes = 0;
    this.discardLine = false;
    this.pendingError = undefined;
  }

  /** Buffered bytes not yet consumed (for tests and limits). */
  get buffered(): number {
    return this.length;
  }

  /**
   * The next item, or undefined when more bytes are needed. With `rawLine`,
   * the next line is returned as is (the session is in a continuation).
   */
  next(rawLine = false): ReceivedItem | undefined {
    for (;;) {
      if (this.skipBytes > 0) {
        const n = Math.min(this.skipBytes, this.length);
        this.take(n);
        this.skipBytes -= n;
        if (this.skipBytes > 0) return undefined;
        this.discardLine = true;
      }
      if (this.discardLine) {
        const nl = this.indexOfLf();
        if (nl < 0) {
          this.take(this.length);
          return undefined;
        }
        this.take(nl + 1);
        this.discardLine = false;
        if (this.pendingError) {
          const e = this.pendingError;
          this.pendingError = undefined;
          return e;
        }
        continue;
      }
      if (this.pendingError) {
        const e = this.pendingError;
        this.pendingError = undefined;
        return e;
      }
      if (this.literalSize >= 0) {
        if (this.continueOwed) {
          this.continueOwed = false;
          return { kind: 'continue' };
        }
        if (this.length < this.literalSize) return undefined;
        this.literals.push(this.take(this.literalSize));
        this.literalSize = -1;
        continue;
      }
      const nl = this.indexOfLf();
      if (nl < 0) {
        if (this.length > this.options.maxLineLength) {
          const tag = this.tagOf(this.peekText(Math.min(this.length, 200)));
          this.take(this.length);
          this.abandon();
          this.discardLine = true;
          this.pendingError = { kind: 'error', tag, code: 'LINE', text: 'Command line too long' };
          // reported once the rest of the line has gone by
          return undefined;
        }
        return undefined;
      }
      if (nl > this.options.maxLineLength) {
        const tag = this.tagOf(this.peekText(200));
        this.take(nl + 1);
        this.abandon();
        return { kind: 'error', tag, code: 'LINE', text: 'Command line too long' };
      }
      const lineBuf = this.take(nl + 1);
      const end = lineBuf.length >= 2 && lineBuf[lineBuf.length - 2] === 0x0d ? lineBuf.length - 2 : lineBuf.length - 1;
      if (rawLine && this.segments.length === 0) return { kind: 'line', line: lineBuf.subarray(0, end) };
      const text = lineBuf.toString('utf8', 0, end);
      const m = LITERAL_MARKER.exec(text);
      if (m === null) {
        this.segments.push(text);
        const command = { segments: this.segments, literals: this.literals };
        this.segments = [];
        this.literals = [];
        this.literalTotal = 0;
        return { kind: 'command', command };
      }
      const size = Number(m[1]);
      const nonSync = m[2] === '+' || m[2] === '-';
      const tag = this.tagOf(this.segments[0] ?? text);
      const total = this.literalTotal + size;
      const special = this.options.literalLimitFor?.(this.segments[0] ?? text);
      const max = Math.min(this.options.maxLiteral, special?.max ?? Infinity);
      if (!Number.isSafeInteger(size) || size > max || total > (this.options.maxCommandLiterals ?? Infinity)) {
        this.abandon();
        const refusal: ReceivedItem =
          special !== undefined && size > special.max
            ? { kind: 'error', tag, code: 'TOOBIG', text: special.text, responseCode: special.responseCode }
            : { kind: 'error', tag, code: 'TOOBIG', text: 'Literal too big' };
        if (nonSync) {
          // The bytes are on their way: let them pass, then the rest of the line.
          this.skipBytes = Number.isSafeInteger(size) ? size : Number.MAX_SAFE_INTEGER;
          this.pendingError = refusal;
          continue;
        }
        return refusal;
      }
      this.segments.push(text);
      this.literalTotal = total;
      this.literalSize = size;
      this.continueOwed = !nonSync;
    }
  }

  private abandon(): void {
    this.segments = [];
    this.literals = [];
    this.literalTotal = 0;
    this.literalSize = -1;
    this.continueOwed = false;
  }

  private tagOf(text: string): string | undefined {
    const m = /^([^\s(){%*"\\\]+]+) /.exec(text);
    return m ? m[1] : undefined;
  }

  private indexOfLf(): number {
    let offset = 0;
    for (const c of this.chunks) {
      const i = c.indexOf(0x0a);
      if (i >= 0) return offset + i;
      offset += c.length;
    }
    return -1;
  }

  private peekText(n: number): string {
    const parts: Buffer[] = [];
    let left = n;
    for (const c of this.chunks) {
      if (left <= 0) break;
      parts.push(c.subarray(0, left));
      left -= c.length;
    }
    return Buffer.concat(parts).toString('utf8');
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.length -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let o = 0;
    while (o < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - o);
      c.copy(out, o, 0, k);
      o += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.length -= n;
    return out;
  }
}
