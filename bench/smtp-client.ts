// The benches' SMTP/LMTP load client (bench/smtp.ts, bench/smtp-ab.ts): a
// small pipelined client over node:net (MAIL, RCPT and DATA in one write,
// then the data), the load loop over N connections, and the CPU readings
// from /proc that say how busy the server and the machine were.
import net from 'node:net';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface Reply {
  code: number;
  text: string;
}

/** One SMTP/LMTP connection: replies are parsed as they come and handed out in order. */
export class WireConnection {
  private pending = '';
  private lines: string[] = [];
  private readonly replies: Reply[] = [];
  private readonly waiters: Array<{ resolve: (r: Reply) => void; reject: (e: Error) => void }> = [];
  private failure: Error | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('connection closed by the server')));
  }

  static connect(port: number): Promise<WireConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(new WireConnection(socket)));
      socket.once('error', reject);
    });
  }

  private onData(d: Buffer): void {
    this.pending += d.toString('latin1');
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, nl).replace(/\r$/, '');
      this.pending = this.pending.slice(nl + 1);
      this.lines.push(line);
      if (line.length >= 4 && line[3] === '-') continue;
      const reply = { code: Number(line.slice(0, 3)), text: this.lines.join('\n') };
      this.lines = [];
      const w = this.waiters.shift();
      if (w) w.resolve(reply);
      else this.replies.push(reply);
    }
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  read(): Promise<Reply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  close(): void {
    this.socket.destroy();
  }

  async quit(): Promise<void> {
    if (!this.failure) {
      this.write('QUIT\r\n');
      await this.read().catch(() => undefined);
    }
    this.close();
  }
}

/** A session after the greeting and EHLO/LHLO. */
export class WireSession {
  private constructor(
    readonly conn: WireConnection,
    readonly pipelining: boolean,
    readonly lmtp: boolean,
  ) {}

  static async open(port: number, lmtp: boolean, helo: string): Promise<WireSession> {
    const conn = await WireConnection.connect(port);
    const greeting = await conn.read();
    if (greeting.code !== 220) throw new Error(`greeting: ${greeting.text}`);
    conn.write(`${lmtp ? 'LHLO' : 'EHLO'} ${helo}\r\n`);
    const hello = await conn.read();
    if (hello.code !== 250) throw new Error(`${lmtp ? 'LHLO' : 'EHLO'}: ${hello.text}`);
    return new WireSession(conn, /^250[- ]PIPELINING\b/im.test(hello.text), lmtp);
  }

  /**
   * One transaction; resolves with the final reply, or with the first failing
   * reply (the transaction is then reset). `retry` says the server wants a
   * new connection (421 or a 4xx to MAIL, e.g. a per-connection limit).
   */
  async send(from: string, to: string, data: Buffer): Promise<{ ok: boolean; retry: boolean; reply: Reply }> {
    const c = this.conn;
    const commands = [`MAIL FROM:<${from}>\r\n`, `RCPT TO:<${to}>\r\n`, 'DATA\r\n'];
    let mail: Reply, rcpt: Reply, go: Reply;
    if (this.pipelining) {
      c.write(commands.join(''));
      mail = await c.read();
      rcpt = await c.read();
      go = await c.read();
    } else {
      c.write(commands[0]!);
      mail = await c.read();
      if (mail.code !== 250) return { ok: false, retry: mail.code >= 400 && mail.code < 500, reply: mail };
      c.write(commands[1]!);
      rcpt = await c.read();
      if (rcpt.code >= 300) {
        c.write('RSET\r\n');
        await c.read();
        return { ok: false, retry: rcpt.code === 421, reply: rcpt };
      }
      c.write(commands[2]!);
      go = await c.read();
    }
    if (go.code === 354) {
      // A 354 after a refused recipient: end the empty message and report the refusal.
      if (mail.code !== 250 || rcpt.code >= 300) {
        c.write('.\r\n');
        await c.read();
        const bad = mail.code !== 250 ? mail : rcpt;
        return { ok: false, retry: bad.code === 421, reply: bad };
      }
      c.write(data);
      const done = await c.read(); // one recipient: one reply, for LMTP too
      return { ok: done.code === 250, retry: done.code === 421, reply: done };
    }
    const bad = mail.code !== 250 ? mail : rcpt.code >= 300 ? rcpt : go;
    if (go.code !== 421) {
      c.write('RSET\r\n');
      await c.read().catch(() => undefined);
    }
    return { ok: false, retry: bad.code === 421 || (bad === mail && mail.code >= 400 && mail.code < 500), reply: bad };
  }
}

/** The message as sent after DATA: dot-stuffed, ending in CRLF.CRLF. */
export function wireData(raw: Buffer): Buffer {
  const text = raw.toString('latin1').replace(/\r?\n/g, '\r\n');
  const stuffed = (text.startsWith('.') ? '.' : '') + text.replace(/\r\n\./g, '\r\n..');
  return Buffer.from(stuffed + (stuffed.endsWith('\r\n') ? '' : '\r\n') + '.\r\n', 'latin1');
}

export interface LoadResult {
  sent: number;
  failed: number;
  seconds: number;
  /** ms, sorted */
  latencies: number[];
  /** completion times (s since start), in order */
  completions: number[];
  errors: string[];
  /** connections opened: more than CONNECTIONS when the server ends sessions (per-connection message limits) */
  sessions: number;
  startedAt: bigint;
}

/** What measureLoad sends: each message once, over `connections` lanes, from `from` to `rcpt`. */
export interface WireLoad {
  port: number;
  lmtp: boolean;
  rcpt: string;
  messages: Buffer[];
  connections: number;
  from: string;
  helo: string;
}

export async function measureLoad(spec: WireLoad): Promise<LoadResult> {
  const wire = spec.messages.map(wireData);
  const latencies: number[] = [];
  const completions: number[] = [];
  const errors: string[] = [];
  let failed = 0;
  let next = 0;
  let sessions = 0;
  const startedAt = process.hrtime.bigint();
  const since = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;
  async function lane(): Promise<void> {
    let session: WireSession | undefined;
    while (next < wire.length) {
      const i = next++;
      const t0 = process.hrtime.bigint();
      let attempt = 0;
      for (;;) {
        try {
          if (!session) {
            sessions++;
            session = await WireSession.open(spec.port, spec.lmtp, spec.helo);
          }
          const r = await session.send(spec.from, spec.rcpt, wire[i]!);
          if (r.ok) break;
          if (r.retry && attempt++ < 3) {
            await session.conn.quit();
            session = undefined;
            continue;
          }
          failed++;
          if (errors.length < 5) errors.push(r.reply.text);
          break;
        } catch (e) {
          session?.conn.close();
          session = undefined;
          if (attempt++ < 3) continue;
          failed++;
          if (errors.length < 5) errors.push(String(e));
          break;
        }
      }
      latencies.push(since(t0));
      completions.push(since(startedAt) / 1000);
    }
    await session?.conn.quit();
  }
  await Promise.all(Array.from({ length: spec.connections }, lane));
  const seconds = since(startedAt) / 1000;
  latencies.sort((a, b) => a - b);
  return { sent: wire.length - failed, failed, seconds, latencies, completions, errors, sessions, startedAt };
}

export function maildirCount(maildir: string): number {
  let n = 0;
  for (const sub of ['new', 'cur']) {
    const d = path.join(maildir, sub);
    if (existsSync(d)) n += readdirSync(d).length;
  }
  return n;
}

/** Seconds from the load's start until the Maildir holds `expected` messages (polled), or undefined on timeout. */
export async function waitForMaildir(maildir: string, expected: number, startedAt: bigint, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (maildirCount(maildir) < expected) {
    if (Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, 50));
  }
  return Number(process.hrtime.bigint() - startedAt) / 1e9;
}

/** A process's CPU seconds so far (user, kernel), from /proc; undefined where there is none. */
export function processCpu(pid: number | undefined): { user: number; system: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = 100; // USER_HZ on Linux
    return { user: Number(fields[11]) / ticks, system: Number(fields[12]) / ticks };
  } catch {
    return undefined;
  }
}

/** Seconds the whole machine spent busy (steal included) and idle (iowait included), from /proc/stat. */
export function machineCpu(): { busy: number; idle: number; steal: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    // cpu user nice system idle iowait irq softirq steal ...
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map((v) => Number(v) / 100);
    return { busy: user! + nice! + system! + irq! + softirq! + steal!, idle: idle! + iowait!, steal: steal! };
  } catch {
    return undefined;
  }
}
