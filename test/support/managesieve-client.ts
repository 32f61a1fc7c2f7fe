// A small ManageSieve client written from RFC 5804, for tests that need
// exact replies: it sends raw bytes (so a test chooses quoted strings or
// literals of either kind) and reads responses, literals included.
import net from 'node:net';
import tls from 'node:tls';

export interface SieveResponse {
  /** Data lines before the status, literals inlined. */
  lines: string[];
  status: 'OK' | 'NO' | 'BYE' | 'CLOSED';
  /** The response code without parentheses, e.g. "QUOTA/MAXSCRIPTS" or "TAG \"x\"". */
  code: string | undefined;
  text: string | undefined;
  /** The raw bytes of the whole response. */
  raw: string;
}

/** Every response must arrive within this time, or the test fails (never hangs). */
const RESPONSE_TIMEOUT_MS = 30_000;

/** A string as a quoted string (RFC 5804 4). */
export function quoted(s: string): string {
  return `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** A non-synchronising literal ({n+}); `sync` gives the "{n}" form. */
export function literal(s: string | Buffer, sync = false): string {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return `{${b.length}${sync ? '' : '+'}}\r\n${b.toString('latin1')}`;
}

function unquote(s: string): string {
  return s.replace(/\\(["\\])/g, '$1');
}

export class SieveClient {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private ended = false;
  greeting!: SieveResponse;

  private constructor(private socket: net.Socket) {
    this.attach(socket);
  }

  private attach(socket: net.Socket): void {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<SieveClient> {
    const socket = net.connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new SieveClient(socket);
    c.greeting = await c.read();
    return c;
  }

  get closed(): boolean {
    return this.ended;
  }

  private async more(): Promise<boolean> {
    if (this.ended) return false;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ManageSieve response within 30 s; have ${JSON.stringify(this.buffer.toString('latin1').slice(0, 300))}`)), RESPONSE_TIMEOUT_MS);
      this.waiting = () => {
        clearTimeout(t);
        resolve();
      };
    });
    return true;
  }

  /** One line with its literals inlined; undefined when the connection ended. */
  private async logicalLine(): Promise<{ text: string; literals: string[]; raw: string } | undefined> {
    let text = '';
    let raw = '';
    const literals: string[] = [];
    for (;;) {
      let nl = this.buffer.indexOf('\r\n');
      while (nl < 0) {
        if (!(await this.more())) return undefined;
        nl = this.buffer.indexOf('\r\n');
      }
      const line = this.buffer.subarray(0, nl).toString('utf8');
      this.buffer = this.buffer.subarray(nl + 2);
      raw += `${line}\r\n`;
      const m = /\{(\d+)\}$/.exec(line);
      if (!m) return { text: text + line, literals, raw };
      const n = Number(m[1]);
      while (this.buffer.length < n) if (!(await this.more())) return undefined;
      const lit = this.buffer.subarray(0, n).toString('utf8');
      this.buffer = this.buffer.subarray(n);
      raw += lit;
      literals.push(lit);
      text += line.slice(0, m.index) + lit;
    }
  }

  /** One line (a SASL challenge), literals inlined; undefined when the connection ended. */
  async readLine(): Promise<string | undefined> {
    return (await this.logicalLine())?.text;
  }

  /** Reads one response: data lines up to OK, NO or BYE. */
  async read(): Promise<SieveResponse> {
    const lines: string[] = [];
    let raw = '';
    for (;;) {
      const l = await this.logicalLine();
      if (l === undefined) return { lines, status: 'CLOSED', code: undefined, text: undefined, raw };
      raw += l.raw;
      const m = /^(OK|NO|BYE)(?: \((.*?)\))?(?: (.*))?$/s.exec(l.text);
      if (!m) {
        lines.push(l.text);
        continue;
      }
      let text = m[3];
      // A literal's text is inlined as it is; a quoted one is unescaped.
      if (l.literals.length === 0 && text !== undefined && text.startsWith('"') && text.endsWith('"')) text = unquote(text.slice(1, -1));
      return { lines, status: m[1] as 'OK', code: m[2], text, raw };
    }
  }

  /** Sends raw text (CRLF added) and reads the response. */
  async cmd(line: string): Promise<SieveResponse> {
    this.send(`${line}\r\n`);
    return this.read();
  }

  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** STARTTLS, the handshake, and the capabilities the server sends again. */
  async startTls(): Promise<SieveResponse> {
    const r = await this.cmd('STARTTLS');
    if (r.status !== 'OK') throw new Error(`STARTTLS refused: ${r.raw}`);
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
    return this.read();
  }

  /** AUTHENTICATE PLAIN with an initial response. */
  async login(user: string, password: string): Promise<SieveResponse> {
    const ir = Buffer.from(`\0${user}\0${password}`).toString('base64');
    return this.cmd(`AUTHENTICATE "PLAIN" ${quoted(ir)}`);
  }

  /** Connects, STARTTLS, logs in; throws unless all went well. */
  static async loggedIn(port: number, user: string, password: string): Promise<SieveClient> {
    const c = await SieveClient.connect(port);
    await c.startTls();
    const r = await c.login(user, password);
    if (r.status !== 'OK') throw new Error(`login failed: ${r.raw}`);
    return c;
  }

  /**
   * Everything up to and including `marker` (as latin1), dropped from the
   * buffer; undefined when the connection ends first. For fuzzing, where
   * replies are not parsed one by one.
   */
  async until(marker: string, timeoutMs = RESPONSE_TIMEOUT_MS): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.buffer.indexOf(marker, 0, 'latin1');
      if (at >= 0) {
        const text = this.buffer.subarray(0, at + marker.length).toString('latin1');
        this.buffer = this.buffer.subarray(at + marker.length);
        return text;
      }
      if (this.ended) return undefined;
      if (Date.now() > deadline) throw new Error(`no ${marker} within ${timeoutMs} ms`);
      await this.more();
    }
  }

  /** Resolves once the server has closed the connection (fails after 30 s). */
  async waitClosed(): Promise<void> {
    while (!this.ended) await this.more();
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Capability lines as a map: "SIEVE" -> "fileinto ...". */
export function capabilityMap(r: SieveResponse): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of r.lines) {
    const m = /^"([^"]+)"(?: "(.*)")?$/.exec(line);
    if (m) out.set(m[1]!, m[2] ?? '');
  }
  return out;
}
