// A bare SMTP client for the submission tests, over plain TCP, STARTTLS or
// implicit TLS: one line at a time, every reply whole (multi-line replies
// joined with "\n"), so a test sees exact codes. Also an RFC 7677
// SCRAM-SHA-256 client written from the RFC text (no client here has it).
import net from 'node:net';
import tls from 'node:tls';
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

const REPLY_TIMEOUT_MS = 30_000;

export interface SubmissionClient {
  greeting: string;
  send(line: string): Promise<string>;
  /** STARTTLS, then the session continues over TLS (the caller sends EHLO again). */
  startTls(): Promise<string>;
  /** The body after a 354 (dot-stuffed here); resolves with the reply to the end of DATA. */
  data(body: string): Promise<string>;
  close(): void;
  closed(): boolean;
}

export async function openSubmission(port: number, options: { implicitTls?: boolean } = {}): Promise<SubmissionClient> {
  let socket: net.Socket = options.implicitTls
    ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, servername: 'localhost' })
    : net.connect(port, '127.0.0.1');
  let buffer = '';
  let current: string[] = [];
  const ready: string[] = [];
  const waiting: Array<(r: string) => void> = [];
  let ended = false;
  const deliver = (reply: string) => {
    const w = waiting.shift();
    if (w) w(reply);
    else ready.push(reply);
  };
  const onData = (d: Buffer) => {
    buffer += d.toString('latin1');
    let nl;
    while ((nl = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 2);
      current.push(line);
      if (/^\d{3}(?: |$)/.test(line)) {
        deliver(current.join('\n'));
        current = [];
      }
    }
  };
  const onClose = () => {
    ended = true;
    for (const w of waiting.splice(0)) w('(connection closed)');
  };
  const attach = (s: net.Socket) => {
    s.on('data', onData);
    s.on('close', onClose);
    s.on('error', () => {});
  };
  attach(socket);
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const hit = ready.shift();
      if (hit !== undefined) return resolve(hit);
      if (ended) return resolve('(connection closed)');
      const timer = setTimeout(() => reject(new Error('no SMTP reply within 30 s')), REPLY_TIMEOUT_MS);
      waiting.push((r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  const greeting = await next();
  return {
    greeting,
    send(line) {
      socket.write(line + '\r\n');
      return next();
    },
    async startTls() {
      socket.write('STARTTLS\r\n');
      const reply = await next();
      if (!reply.startsWith('220')) return reply;
      const plain = socket;
      plain.removeListener('data', onData);
      plain.removeListener('close', onClose);
      const secured = tls.connect({ socket: plain, rejectUnauthorized: false, servername: 'localhost' });
      attach(secured);
      await new Promise<void>((resolve, reject) => secured.once('secureConnect', () => resolve()).once('error', reject));
      socket = secured;
      return reply;
    },
    async data(body) {
      const stuffed = body.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
      socket.write(stuffed + (stuffed.endsWith('\r\n') ? '' : '\r\n') + '.\r\n');
      return next();
    },
    close() {
      socket.end('QUIT\r\n');
      socket.destroy();
    },
    closed: () => ended,
  };
}

/** AUTH PLAIN's initial response. */
export function plainResponse(user: string, password: string): string {
  return Buffer.from(`\0${user}\0${password}`).toString('base64');
}

/**
 * SCRAM-SHA-256 over AUTH (RFC 5802 section 3, RFC 7677, RFC 4954): client-first,
 * client-final with the proof, and the server signature checked before the
 * empty response that completes the exchange. Resolves with the final reply.
 */
export async function authScramSha256(c: SubmissionClient, user: string, password: string): Promise<string> {
  const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
  const saslname = user.replace(/=/g, '=3D').replace(/,/g, '=2C');
  const cnonce = randomBytes(18).toString('base64');
  const clientFirstBare = `n=${saslname},r=${cnonce}`;
  const gs2 = 'n,,';
  let reply = await c.send(`AUTH SCRAM-SHA-256 ${b64(gs2 + clientFirstBare)}`);
  if (!reply.startsWith('334 ')) return reply;
  const serverFirst = Buffer.from(reply.slice(4), 'base64').toString();
  const attrs = new Map(serverFirst.split(',').map((p) => [p[0]!, p.slice(2)]));
  const nonce = attrs.get('r')!;
  if (!nonce.startsWith(cnonce)) throw new Error('server nonce does not extend ours');
  const salt = Buffer.from(attrs.get('s')!, 'base64');
  const iterations = Number(attrs.get('i'));
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const withoutProof = `c=${b64(gs2)},r=${nonce}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = createHmac('sha256', storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
  reply = await c.send(b64(`${withoutProof},p=${proof.toString('base64')}`));
  if (!reply.startsWith('334 ')) return reply;
  const serverFinal = Buffer.from(reply.slice(4), 'base64').toString();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  const expected = Buffer.from(`v=${createHmac('sha256', serverKey).update(authMessage).digest('base64')}`);
  if (expected.length !== Buffer.byteLength(serverFinal) || !timingSafeEqual(expected, Buffer.from(serverFinal))) {
    await c.send('*');
    throw new Error(`server signature does not verify: ${serverFinal}`);
  }
  return c.send('');
}
