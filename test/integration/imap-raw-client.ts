// A bare IMAP client for protocol-level tests: send exact bytes, read the
// server's text (latin1), wait for tagged replies.
import net from 'node:net';
import tls from 'node:tls';

export class RawImap {
  private data = '';
  private cursor = 0;
  private waiters: Array<() => void> = [];
  closed = false;
  private tagNo = 0;

  private constructor(private socket: net.Socket) {
    this.listen(socket);
  }

  private listen(socket: net.Socket): void {
    socket.on('data', (d: Buffer) => {
      this.data += d.toString('latin1');
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => {});
  }

  static async connect(port: number, secure: boolean, localAddress?: string): Promise<RawImap> {
    const where = { host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) };
    const socket = secure ? tls.connect({ ...where, rejectUnauthorized: false }) : net.connect(where);
    await new Promise<void>((resolve, reject) => {
      socket.once(secure ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const c = new RawImap(socket);
    await c.waitFor(/^\* OK[^\r\n]*\r\n/m);
    return c;
  }

  /** Resolves with the text from the cursor through the first match of re; moves the cursor past it. */
  async waitFor(re: RegExp, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rest = this.data.slice(this.cursor);
      const m = re.exec(rest);
      if (m) {
        const end = m.index + m[0].length;
        // What was read is dropped: keeping it made each later chunk copy the whole session's text
        // (a long bench session spent more CPU in this client than the server spent answering).
        this.data = rest.slice(end);
        this.cursor = 0;
        return rest.slice(0, end);
      }
      if (this.closed) throw new Error(`connection closed while waiting for ${re}; got: ${JSON.stringify(rest)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${re}; got: ${JSON.stringify(rest)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Everything received and not yet consumed. */
  pending(): string {
    return this.data.slice(this.cursor);
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  nextTag(): string {
    return `t${++this.tagNo}`;
  }

  /** Sends "TAG command" and resolves with all text up to and including the tagged reply. */
  async cmd(command: string, timeoutMs = 5000): Promise<string> {
    const tag = this.nextTag();
    this.write(`${tag} ${command}\r\n`);
    return this.waitFor(new RegExp(`(?:^|\\r\\n)${tag} (?:OK|NO|BAD)[^\\r\\n]*\\r\\n`), timeoutMs);
  }

  async starttls(): Promise<void> {
    const r = await this.cmd('STARTTLS');
    if (!/ OK /.test(r)) throw new Error(`STARTTLS refused: ${r}`);
    const plain = this.socket;
    plain.removeAllListeners('data');
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.listen(secure);
  }

  /** Stops reading from the socket (a slow client): the server's writes back up. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The tagged status line of a cmd() reply. */
export function tagged(reply: string): string {
  const lines = reply.trimEnd().split('\r\n');
  return lines[lines.length - 1]!;
}
