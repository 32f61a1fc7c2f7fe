// A bare SMTP/LMTP client for tests that need exact replies: sends one
// command at a time and returns every reply (multi-line replies joined).
import net from 'node:net';

export interface Dialog {
  greeting: string;
  /** Sends a line, resolves with the next complete reply. */
  send(line: string): Promise<string>;
  /** Sends a message body after DATA (dot-stuffed here) and resolves with `replies` replies (LMTP: one per recipient). */
  data(body: string, replies?: number): Promise<string[]>;
  close(): void;
  closed: Promise<void>;
}

/** Every reply must arrive within this time, or the test fails (never hangs). */
const REPLY_TIMEOUT_MS = 30_000;

export function openDialog(port: number, host = '127.0.0.1'): Promise<Dialog> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    let buffer = '';
    const waiting: Array<(reply: string) => void> = [];
    const ready: string[] = [];
    let current: string[] = [];
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    socket.on('data', (d) => {
      buffer += d.toString('latin1');
      let nl;
      while ((nl = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        current.push(line);
        if (/^\d{3} /.test(line) || /^\d{3}$/.test(line)) {
          const reply = current.join('\n');
          current = [];
          const w = waiting.shift();
          if (w) w(reply);
          else ready.push(reply);
        }
      }
    });
    socket.on('error', (err) => {
      if (!ended) reject(err);
    });
    let ended = false;
    socket.on('close', () => {
      ended = true;
      // Wake whoever waits: the connection is gone.
      for (const w of waiting.splice(0)) w('(connection closed)');
    });
    const next = () =>
      new Promise<string>((r, fail) => {
        const hit = ready.shift();
        if (hit !== undefined) return r(hit);
        if (ended) return r('(connection closed)');
        const timer = setTimeout(() => fail(new Error('no SMTP reply within 30 s')), REPLY_TIMEOUT_MS);
        waiting.push((reply) => {
          clearTimeout(timer);
          r(reply);
        });
      });
    next().then((greeting) =>
      resolve({
        greeting,
        send(line) {
          socket.write(line + '\r\n');
          return next();
        },
        async data(body, replies = 1) {
          const stuffed = body.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
          socket.write(stuffed + (stuffed.endsWith('\r\n') ? '' : '\r\n') + '.\r\n');
          const out: string[] = [];
          for (let i = 0; i < replies; i++) out.push(await next());
          return out;
        },
        close() {
          socket.end('QUIT\r\n');
          socket.destroy();
        },
        closed,
      }),
    );
  });
}
