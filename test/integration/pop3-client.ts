// A small POP3 client for tests: plain, STLS or implicit TLS; single-line
// and multi-line replies read exactly (the multi-line body is returned
// dot-unstuffed, with its CRLFs).
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';

export class Pop3Client {
  private socket: net.Socket;
  private buffer = '';
  private waiter: (() => void) | undefined;
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  private attach(socket: net.Socket): void {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffer += d;
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => {});
  }

  static async connect(port: number, implicitTls = false): Promise<Pop3Client> {
    const socket = implicitTls ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }) : net.connect(port, '127.0.0.1');
    await once(socket, implicitTls ? 'secureConnect' : 'connect');
    const c = new Pop3Client(socket);
    const greeting = await c.line();
    if (!greeting.startsWith('+OK')) throw new Error(`greeting: ${greeting}`);
    return c;
  }

  /** Resolves once `pred` finds what it needs in the buffer (returns how much it consumed), or rejects on close/timeout. */
  private async take<T>(pred: (buffer: string) => { value: T; used: number } | undefined, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = pred(this.buffer);
      if (hit) {
        this.buffer = this.buffer.slice(hit.used);
        return hit.value;
      }
      if (this.closed) throw new Error(`connection closed; buffer: ${JSON.stringify(this.buffer.slice(0, 200))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; buffer: ${JSON.stringify(this.buffer.slice(0, 200))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  /** The next line, without CRLF. */
  line(timeoutMs = 20_000): Promise<string> {
    return this.take((b) => {
      const i = b.indexOf('\r\n');
      return i < 0 ? undefined : { value: b.slice(0, i), used: i + 2 };
    }, timeoutMs);
  }

  write(text: string | Buffer): void {
    this.socket.write(typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
  }

  async cmd(command: string, timeoutMs = 20_000): Promise<string> {
    this.write(`${command}\r\n`);
    return this.line(timeoutMs);
  }

  /** A multi-line command: the status line and (on +OK) the body up to the ".", unstuffed. */
  async multi(command: string, timeoutMs = 20_000): Promise<{ status: string; body: string }> {
    this.write(`${command}\r\n`);
    return this.multiReply(timeoutMs);
  }

  /** The reply to a multi-line command already sent (pipelined ones are read in order, one call each). */
  async multiReply(timeoutMs = 20_000): Promise<{ status: string; body: string }> {
    const status = await this.line(timeoutMs);
    if (!status.startsWith('+OK')) return { status, body: '' };
    const raw = await this.take((b) => {
      if (b.startsWith('.\r\n')) return { value: '', used: 3 };
      const i = b.indexOf('\r\n.\r\n');
      return i < 0 ? undefined : { value: b.slice(0, i + 2), used: i + 5 };
    }, timeoutMs);
    return { status, body: raw.replace(/^\./gm, '') };
  }

  async lines(command: string): Promise<string[]> {
    const r = await this.multi(command);
    if (!r.status.startsWith('+OK')) throw new Error(`${command}: ${r.status}`);
    return r.body === '' ? [] : r.body.slice(0, -2).split('\r\n');
  }

  async stls(): Promise<void> {
    const r = await this.cmd('STLS');
    if (!r.startsWith('+OK')) throw new Error(`STLS: ${r}`);
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false });
    await once(secure, 'secureConnect');
    this.socket = secure;
    this.attach(secure);
  }

  async login(user: string, password: string): Promise<string> {
    const u = await this.cmd(`USER ${user}`);
    if (!u.startsWith('+OK')) return u;
    return this.cmd(`PASS ${password}`);
  }

  /** The UIDL listing as [number, uidl] pairs. */
  async uidl(): Promise<Array<[number, string]>> {
    return (await this.lines('UIDL')).map((l) => {
      const [n, u] = l.split(' ');
      return [Number(n), u!];
    });
  }

  /** Drops the connection without QUIT. */
  destroy(): void {
    this.socket.destroy();
  }

  async waitClosed(timeoutMs = 10_000): Promise<void> {
    await this.take((b) => (this.closed ? { value: undefined, used: b.length } : undefined), timeoutMs).catch(() => {});
  }
}
