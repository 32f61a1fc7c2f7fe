// Bytes in, ManageSieve command lines out (RFC 5804 section 4): atoms,
// quoted strings and literals, with every size bounded. No sockets here;
// the session feeds bytes and pulls items, so the framing is testable alone.
//
// Literals: the RFC lets clients send only "{n+}" (non-synchronising); a
// "{n}" from a client is taken the same way, as Dovecot and Cyrus do, since
// ManageSieve has no continuation for it. A literal over the limit is let
// pass (its bytes are skipped, nothing is kept) and the command is refused;
// one so large that skipping it makes no sense ends the connection.

export type Token =
  | { kind: 'atom'; text: string }
  | { kind: 'string'; value: Buffer; literal: boolean };

export type ReceivedItem =
  | { kind: 'line'; tokens: Token[] }
  /** A refused command (answered NO; the session goes on). `tooBig`: a literal over the limit. */
  | { kind: 'error'; text: string; tooBig?: boolean }
  /** Input the session cannot recover from: answer BYE and close. */
  | { kind: 'fatal'; text: string };

export interface ReceiverOptions {
  /** Longest line (the text between literals, without CRLF). */
  maxLineLength: number;
  /** Largest literal kept, and all the literals of one command together. */
  maxLiteral: number;
  /** Largest over-limit literal that is skipped rather than ending the connection. */
  maxSkippedLiteral: number;
  /** Tokens in one command (the longest command has 3). */
  maxTokens: number;
}

/** Quoted strings are limited to 1024 octets (RFC 5804 section 4). */
export const MAX_QUOTED = 1024;

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;

/** Atom characters: printable ASCII except the specials of the grammar. */
function isAtomChar(c: number): boolean {
  return c > 0x20 && c < 0x7f && c !== DQUOTE && c !== BACKSLASH && c !== LBRACE && c !== 0x7d && c !== 0x28 && c !== 0x29;
}

type LexResult = { ok: true; literal?: { size: number } } | { ok: false; text: string };

/**
 * Appends the tokens of one line (no CRLF) to `tokens`. A literal marker may
 * only end the line; its size is returned. Linear in the line.
 */
export function lexLine(line: Buffer, tokens: Token[], maxTokens: number): LexResult {
  let i = 0;
  const n = line.length;
  while (i < n) {
    const c = line[i]!;
    if (c === SP) {
      i++;
      continue;
    }
    if (tokens.length >= maxTokens) return { ok: false, text: 'Too many arguments' };
    if (c === DQUOTE) {
      const out: number[] = [];
      i++;
      let closed = false;
      while (i < n) {
        const d = line[i]!;
        if (d === DQUOTE) {
          closed = true;
          i++;
          break;
        }
        if (d === BACKSLASH) {
          const e = line[i + 1];
          if (e !== DQUOTE && e !== BACKSLASH) return { ok: false, text: 'Invalid escape in quoted string' };
          out.push(e);
          i += 2;
        } else if (d === 0 || d === 0x0d || d === 0x0a) {
          return { ok: false, text: 'Invalid character in quoted string' };
        } else {
          out.push(d);
          i++;
        }
        if (out.length > MAX_QUOTED) return { ok: false, text: 'Quoted string too long' };
      }
      if (!closed) return { ok: false, text: 'Unterminated quoted string' };
      tokens.push({ kind: 'string', value: Buffer.from(out), literal: false });
      continue;
    }
    if (c === LBRACE) {
      let j = i + 1;
      let size = 0;
      while (j < n && line[j]! >= 0x30 && line[j]! <= 0x39 && j - i <= 16) {
        size = size * 10 + (line[j]! - 0x30);
        j++;
      }
      const digits = j - i - 1;
      if (line[j] === 0x2b) j++;
      if (digits === 0 || digits > 15 || line[j] !== 0x7d || j + 1 !== n) return { ok: false, text: 'Invalid literal' };
      return { ok: true, literal: { size } };
    }
    if (!isAtomChar(c)) return { ok: false, text: 'Invalid character' };
    const start = i;
    while (i < n && isAtomChar(line[i]!)) i++;
    if (i - start > 64) return { ok: false, text: 'Atom too long' };
    tokens.push({ kind: 'atom', text: line.toString('latin1', start, i) });
  }
  return { ok: true };
}

export class ManageSieveReceiver {
  private chunks: Buffer[] = [];
  private length = 0;
  /** Bytes at the front already known to hold no LF. */
  private scanned = 0;
  private tokens: Token[] = [];
  private literalTotal = 0;
  /** Waiting for this many literal bytes (-1: reading a line). */
  private literalSize = -1;
  /** Literal bytes still to throw away, then the rest of that line. */
  private skipBytes = 0;
  /** Throwing away the rest of the current line, then reporting `pending`. */
  private discardLine = false;
  private pending: ReceivedItem | undefined;

  constructor(private readonly options: ReceiverOptions) {}

  /** The literal limit grows at login (to the largest script plus slack). */
  setMaxLiteral(bytes: number, maxSkipped = this.options.maxSkippedLiteral): void {
    this.options.maxLiteral = bytes;
    this.options.maxSkippedLiteral = Math.max(maxSkipped, bytes);
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
    this.scanned = 0;
    this.abandon();
    this.skipBytes = 0;
    this.discardLine = false;
    this.pending = undefined;
  }

  /** Bytes held, not yet consumed. */
  get buffered(): number {
    return this.length;
  }

  /** The next item, or undefined when more bytes are needed. */
  next(): ReceivedItem | undefined {
    for (;;) {
      if (this.skipBytes > 0) {
        const k = Math.min(this.skipBytes, this.length);
        this.take(k);
        this.skipBytes -= k;
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
        continue;
      }
      if (this.pending) {
        const p = this.pending;
        this.pending = undefined;
        return p;
      }
      if (this.literalSize >= 0) {
        if (this.length < this.literalSize) return undefined;
        this.tokens.push({ kind: 'string', value: this.take(this.literalSize), literal: true });
        this.literalSize = -1;
        continue;
      }
      const nl = this.indexOfLf();
      if (nl < 0) {
        if (this.length > this.options.maxLineLength) {
          // Keep nothing of an endless line; answer once it ends.
          this.take(this.length);
          this.fail({ kind: 'error', text: 'Line too long' });
        }
        return undefined;
      }
      if (nl > this.options.maxLineLength + 1) {
        this.take(nl + 1);
        this.abandon();
        return { kind: 'error', text: 'Line too long' };
      }
      const raw = this.take(nl + 1);
      const line = raw.subarray(0, raw.length >= 2 && raw[raw.length - 2] === 0x0d ? raw.length - 2 : raw.length - 1);
      const lexed = lexLine(line, this.tokens, this.options.maxTokens);
      if (!lexed.ok) {
        this.abandon();
        return { kind: 'error', text: lexed.text };
      }
      if (lexed.literal === undefined) {
        const tokens = this.tokens;
        this.abandon();
        if (tokens.length === 0) continue; // an empty line: nothing to answer
        return { kind: 'line', tokens };
      }
      const size = lexed.literal.size;
      const total = this.literalTotal + size;
      if (total > this.options.maxLiteral) {
        this.abandon();
        if (size > this.options.maxSkippedLiteral) return { kind: 'fatal', text: 'Literal too big' };
        this.skipBytes = size;
        this.pending = { kind: 'error', text: 'Literal too big', tooBig: true };
        if (size === 0) this.discardLine = true;
        continue;
      }
      this.literalTotal = total;
      this.literalSize = size;
    }
  }

  /** Drops the rest of the current line, then reports `item`. */
  private fail(item: ReceivedItem): void {
    this.abandon();
    this.discardLine = true;
    this.pending = item;
  }

  private abandon(): void {
    this.tokens = [];
    this.literalTotal = 0;
    this.literalSize = -1;
  }

  private indexOfLf(): number {
    let offset = 0;
    for (const c of this.chunks) {
      if (offset + c.length > this.scanned) {
        const from = Math.max(0, this.scanned - offset);
        const i = c.indexOf(0x0a, from);
        if (i >= 0) return offset + i;
      }
      offset += c.length;
    }
    this.scanned = this.length;
    return -1;
  }

  private take(n: number): Buffer {
    this.scanned = Math.max(0, this.scanned - n);
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
