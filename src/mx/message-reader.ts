// Reads the message of one DATA (or BDAT) transaction from smtp-server's data
// stream, holding at most the size limit in memory: past the limit (of the
// whole message or of its header section) the rest is read and thrown away,
// so that the 552 reply comes after the end of DATA and the connection goes on.

import type { Readable } from 'node:stream';

export interface MessageLimits {
  /** The whole message, in bytes (SIZE). */
  messageBytes: number;
  /** The header section (up to the empty line), in bytes. */
  headerBytes: number;
}

export interface ReaderOptions {
  /**
   * Called every COLLECT_EVERY bytes of a large message ('minor'), and once
   * ('major') when the data held so far is let go: see garbage-collection.ts.
   */
  collectGarbage?: (type: 'major' | 'minor') => void;
}

/** Bytes read between two collections while a large message streams in. */
export const COLLECT_EVERY = 4 * 1024 * 1024;

export type ReadOutcome =
  | { kind: 'message'; raw: Buffer }
  | { kind: 'too-big'; bytes: number }
  | { kind: 'header-too-big'; bytes: number }
  /** The client went away before the end of the message: a normal event. */
  | { kind: 'gone'; bytes: number }
  /** The stream failed for another reason. */
  | { kind: 'failed'; err: unknown };

/** smtp-server's error for a connection that closed in the middle of DATA. */
function isDisconnect(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'ECONNECTION';
}

/**
 * Finds the end of the header section in a stream of chunks: the first LF
 * followed by LF or CRLF (as headerBlockEnd does for a whole message).
 */
export class HeaderEndFinder {
  /** Bytes seen so far. */
  private seen = 0;
  /** The last two bytes seen (a pattern may straddle chunks). */
  private tail = Buffer.alloc(0);
  /** Offset of the end of the header section, once found. */
  end: number | undefined;

  push(chunk: Buffer): void {
    if (this.end !== undefined) return;
    const window = this.tail.length > 0 ? Buffer.concat([this.tail, chunk]) : chunk;
    const base = this.seen - this.tail.length;
    for (let i = window.indexOf(0x0a); i >= 0; i = window.indexOf(0x0a, i + 1)) {
      if (window[i + 1] === 0x0a || (window[i + 1] === 0x0d && window[i + 2] === 0x0a)) {
        this.end = base + i + 1;
        return;
      }
    }
    this.seen += chunk.length;
    this.tail = Buffer.from(window.subarray(Math.max(0, window.length - 2)));
  }
}

/** Collects the message, or says why it was not kept. Never rejects. */
export function readMessage(stream: Readable, limits: MessageLimits, options: ReaderOptions = {}): Promise<ReadOutcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const header = new HeaderEndFinder();
    let bytes = 0;
    let sinceCollection = 0;
    let over: 'too-big' | 'header-too-big' | undefined;
    let settled = false;
    const settle = (outcome: ReadOutcome) => {
      if (settled) return;
      settled = true;
      chunks.length = 0;
      resolve(outcome);
    };
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      sinceCollection += chunk.length;
      if (sinceCollection >= COLLECT_EVERY) {
        sinceCollection = 0;
        options.collectGarbage?.('minor');
      }
      if (over) return;
      header.push(chunk);
      if (bytes > limits.messageBytes) over = 'too-big';
      else if (header.end === undefined ? bytes > limits.headerBytes : header.end > limits.headerBytes) over = 'header-too-big';
      if (!over) {
        chunks.push(chunk);
        return;
      }
      // From here on the rest is only counted.
      chunks.length = 0;
      if (bytes >= COLLECT_EVERY) options.collectGarbage?.('major');
    });
    stream.on('error', (err) => settle(isDisconnect(err) ? { kind: 'gone', bytes } : { kind: 'failed', err }));
    stream.on('close', () => settle({ kind: 'gone', bytes }));
    stream.on('end', () => {
      if (over) return settle({ kind: over, bytes });
      // smtp-server's own count (it knows about dot-stuffing) has the last word.
      if ((stream as Readable & { sizeExceeded?: boolean }).sizeExceeded) return settle({ kind: 'too-big', bytes });
      settle({ kind: 'message', raw: Buffer.concat(chunks, bytes) });
    });
  });
}
