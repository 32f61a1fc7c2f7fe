// A small clamd client: zINSTREAM (the message in length-prefixed chunks,
// ended by a zero-length chunk), zVERSION and zPING, over TCP or a unix
// socket, each exchange bounded by a deadline and by the reply size.
//
// Why not the `clamscan` npm package: it is not installed here (and no
// packages are added), and what this needs is small: a per-call deadline
// that also covers connect, an answer parsed strictly, and the size-limit
// answer told apart from errors. Those are the parts worth owning.
import net from 'node:net';
import { isPong, MAX_REPLY_BYTES, parseInstreamReply, parseVersionReply } from './clamd-reply.js';
import type { ScanBudget, ScanInput, ScanResult, Scanner, ScanVerdict } from './scanner.js';

export interface ClamdAddress {
  /** A unix socket path; wins over host and port. */
  socket?: string;
  host?: string;
  port?: number;
}

/** clamd reads INSTREAM chunks of any size; 64 KB keeps each write small. */
const CHUNK_BYTES = 64 * 1024;
/** The engine version changes with each signature update; asked for again after this. */
const VERSION_CACHE_MS = 60_000;
/** VERSION is tiny: it never gets more than this of a scan's budget. */
const VERSION_TIMEOUT_MS = 2_000;

type Exchange = { kind: 'reply'; data: Buffer } | { kind: 'failed'; reason: string };

export function describeAddress(a: ClamdAddress): string {
  return a.socket ? `unix:${a.socket}` : `${a.host ?? '127.0.0.1'}:${a.port ?? 3310}`;
}

/** One command on its own connection; settles by `deadline` whatever the peer does. */
export function clamdExchange(address: ClamdAddress, command: string, body: Buffer | undefined, deadline: number): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = address.socket ? net.connect({ path: address.socket }) : net.connect({ host: address.host ?? '127.0.0.1', port: address.port ?? 3310 });
    let connected = false;
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (r: Exchange) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ kind: 'failed', reason: 'timeout' }), Math.max(0, deadline - Date.now()));
    const answered = () => received.length > 0;
    socket.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d]);
      if (received.includes(0)) finish({ kind: 'reply', data: received });
      else if (received.length > MAX_REPLY_BYTES) finish({ kind: 'failed', reason: 'reply too long' });
    });
    socket.on('end', () => finish(answered() ? { kind: 'reply', data: received } : { kind: 'failed', reason: 'connection closed' }));
    socket.on('close', () => finish(answered() ? { kind: 'reply', data: received } : { kind: 'failed', reason: 'connection closed' }));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (answered()) finish({ kind: 'reply', data: received });
      else finish({ kind: 'failed', reason: connected ? `connection lost (${err.code ?? 'error'})` : 'unreachable' });
    });
    socket.on('connect', () => {
      connected = true;
      void send();
    });
    const send = async () => {
      socket.write(`z${command}\0`);
      if (!body) return;
      const header = (n: number) => {
        const h = Buffer.alloc(4);
        h.writeUInt32BE(n);
        return h;
      };
      // clamd answers a stream over its StreamMaxLength at once and closes; a write
      // after that fails (EPIPE) and would lose the answer, so before each write
      // the event loop gets a turn to read whatever clamd has said.
      const turn = () => new Promise<void>((r) => setImmediate(r));
      for (let at = 0; at < body.length && !done && !answered(); at += CHUNK_BYTES) {
        await turn();
        if (done || answered()) return;
        const chunk = body.subarray(at, at + CHUNK_BYTES);
        socket.write(header(chunk.length));
        // Backpressure: clamd answers (size limit) and closes while we write; stop then.
        if (!socket.write(chunk)) await new Promise<void>((r) => {
          socket.once('drain', r);
          socket.once('close', r);
        });
      }
      await turn();
      if (!done && !answered()) socket.write(header(0));
    };
  });
}

export class ClamdScanner implements Scanner {
  readonly name = 'clamd';
  readonly kind = 'antivirus';
  private version: { text: string; at: number } | undefined;

  constructor(readonly address: ClamdAddress) {}

  async scan(input: ScanInput, budget: ScanBudget): Promise<ScanResult> {
    const started = Date.now();
    const stream = async () => {
      const first = await clamdExchange(this.address, 'INSTREAM', input.raw, budget.deadline);
      // Over StreamMaxLength clamd answers and closes while we still write; the
      // write can fail (EPIPE) before its answer is read. Asking once more makes
      // losing that race twice unlikely; anything else that fails stays failed.
      if (first.kind === 'failed' && first.reason.startsWith('connection lost')) return clamdExchange(this.address, 'INSTREAM', input.raw, budget.deadline);
      return first;
    };
    const [reply, engine] = await Promise.all([stream(), this.engine(budget.deadline)]);
    return { scanner: this.name, engine, verdict: verdictOf(reply), ms: Date.now() - started };
  }

  async ping(deadline: number): Promise<boolean> {
    const r = await clamdExchange(this.address, 'PING', undefined, deadline);
    return r.kind === 'reply' && isPong(r.data);
  }

  /** "ClamAV 1.4.6/27000", cached briefly; plain "ClamAV" when clamd does not say. */
  async engine(deadline: number): Promise<string> {
    const now = Date.now();
    if (this.version && now - this.version.at < VERSION_CACHE_MS) return this.version.text;
    const r = await clamdExchange(this.address, 'VERSION', undefined, Math.min(deadline, now + VERSION_TIMEOUT_MS));
    const text = r.kind === 'reply' ? parseVersionReply(r.data) : undefined;
    if (!text) return 'ClamAV';
    this.version = { text, at: now };
    return text;
  }
}

function verdictOf(r: Exchange): ScanVerdict {
  if (r.kind === 'failed') return { kind: 'unscanned', reason: r.reason };
  const reply = parseInstreamReply(r.data);
  switch (reply.kind) {
    case 'clean':
      return { kind: 'clean' };
    case 'infected':
      return { kind: 'infected', signature: reply.signature };
    case 'size-limit':
      return { kind: 'skipped-size' };
    case 'error':
      return { kind: 'unscanned', reason: `clamd error: ${reply.message}`.slice(0, 100) };
  }
}
