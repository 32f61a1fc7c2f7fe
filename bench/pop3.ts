// POP3 RETR throughput against a real `postino serve` and, in the same run,
// Dovecot's POP3 (the Debian package, scratch config, high port): 10,000
// messages of 4 KB downloaded by one client with RETR pipelined (a window
// of commands in flight), over plain TCP so both servers do the same work.
// Prints messages/s and MB/s for each.
// usage: node dist/bench/pop3.js [COUNT]
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { openStorage } from '../storage/index.js';
import { indexMessageJson } from '../mime/index.js';
import { AdminService } from '../src/services/admin.js';
import { SERVICES } from '../src/config.js';
import { makeMessage } from '../test/support/messages.js';
import { startServe } from '../test/support/serve.js';
import { cliPath } from '../test/support/paths.js';
import { freePort } from '../test/support/free-port.js';
import { dovecotInstalled, startDovecotLmtp } from '../test/support/dovecot-lmtp.js';
import { makeScratchDir, waitForQuietDisk } from './scratch.js';

const count = Number(process.argv[2] ?? 10_000);
const USER = 'bench@example.test';
const PASSWORD = 'correct horse staple 1234';
const WINDOW = 64;

await waitForQuietDisk();
const dir = makeScratchDir('postino-bench-pop3-');
const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

/** A plain POP3 connection that counts RETR replies as they complete. */
class Downloader {
  private chunks = '';
  private waiting: (() => void) | undefined;
  constructor(private readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.chunks += d;
      this.waiting?.();
    });
  }
  static async connect(port: number): Promise<Downloader> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((res, rej) => socket.once('connect', res).once('error', rej));
    const d = new Downloader(socket);
    await d.line();
    return d;
  }
  private async until(pred: () => boolean): Promise<void> {
    while (!pred()) await new Promise<void>((res) => (this.waiting = res));
    this.waiting = undefined;
  }
  async line(): Promise<string> {
    await this.until(() => this.chunks.includes('\r\n'));
    const i = this.chunks.indexOf('\r\n');
    const l = this.chunks.slice(0, i);
    this.chunks = this.chunks.slice(i + 2);
    return l;
  }
  async cmd(c: string): Promise<string> {
    this.socket.write(`${c}\r\n`);
    return this.line();
  }
  /** RETR 1..n with WINDOW commands in flight; returns the bytes received. */
  async retrAll(n: number): Promise<number> {
    let sent = 0;
    let done = 0;
    let bytes = 0;
    const send = () => {
      let batch = '';
      while (sent < n && sent - done < WINDOW) batch += `RETR ${++sent}\r\n`;
      if (batch) this.socket.write(batch);
    };
    send();
    while (done < n) {
      await this.until(() => this.chunks.includes('\r\n.\r\n'));
      let at: number;
      while ((at = this.chunks.indexOf('\r\n.\r\n')) >= 0) {
        if (!this.chunks.startsWith('+OK')) throw new Error(`RETR failed: ${this.chunks.slice(0, 100)}`);
        bytes += at + 5;
        this.chunks = this.chunks.slice(at + 5);
        done++;
      }
      send();
    }
    return bytes;
  }
  close(): void {
    this.socket.destroy();
  }
}

async function measure(name: string, port: number): Promise<{ rate: number; mbps: number }> {
  // A first session indexes what it must (Dovecot builds its index, Postino nothing): not timed.
  const warm = await Downloader.connect(port);
  await warm.cmd(`USER ${USER}`);
  const ok = await warm.cmd(`PASS ${PASSWORD}`);
  if (!ok.startsWith('+OK')) throw new Error(`${name} login: ${ok}`);
  await warm.cmd('QUIT');
  warm.close();
  const d = await Downloader.connect(port);
  await d.cmd(`USER ${USER}`);
  await d.cmd(`PASS ${PASSWORD}`);
  const stat = await d.cmd('STAT');
  if (!stat.startsWith(`+OK ${count} `)) throw new Error(`${name} STAT: ${stat}`);
  const t0 = process.hrtime.bigint();
  const bytes = await d.retrAll(count);
  const s = seconds(t0);
  await d.cmd('QUIT');
  d.close();
  const rate = count / s;
  const mbps = bytes / 1e6 / s;
  console.log(`pop3 bench: ${name}: RETR of ${count} messages of 4 KB in ${s.toFixed(2)} s: ${rate.toFixed(0)} messages/s, ${mbps.toFixed(1)} MB/s`);
  return { rate, mbps };
}

const messages = Array.from({ length: count }, (_, i) => makeMessage(`pop3-${i}`, 4096));

// ---- Postino -------------------------------------------------------------------------
{
  const storage = openStorage(dir, { indexer: indexMessageJson });
  await new AdminService(storage).addDomain('example.test', USER, { password: PASSWORD, allowWeak: false });
  const account = (await storage.directory.getAccount(USER))!;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i += 200) {
    await storage.mail.appendMany(account.id, 'INBOX', messages.slice(i, i + 200).map((raw) => ({ raw })));
  }
  console.log(`pop3 bench: stored ${count} messages in Postino (${seconds(t0).toFixed(1)} s)`);
  await storage.mail.drain();
  storage.close();
  // Plain text logins on loopback, as Dovecot below: both do the same work per byte.
  writeFileSync(path.join(dir, 'postino.json'), JSON.stringify({ demo: false, pop3: { allowPlaintextAuth: true } }));
}
const ports = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const server = startServe(process.execPath, [cliPath, 'serve', '--data', dir], { ...ports, POSTINO_DEMO: '0' });
let ours: { rate: number; mbps: number };
try {
  const pop3 = Number((await server.waitFor((e) => e.event === 'listening' && e.service === 'pop3')).port);
  await server.waitFor((e) => e.event === 'ready');
  ours = await measure('Postino', pop3);
} finally {
  await server.stop();
}

// ---- Dovecot -------------------------------------------------------------------------
if (!dovecotInstalled()) {
  console.log('pop3 bench: Dovecot is not installed: no comparison');
} else {
  const pop3Port = await freePort();
  const dovecot = await startDovecotLmtp({
    users: [USER],
    password: PASSWORD,
    scratchRoot: makeScratchDir('postino-bench-dovecot-'),
    extraConf: `protocols = lmtp imap pop3
pop3_uidl_format = %08Xu%08Xv
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = ${pop3Port}
  }
  inet_listener pop3s {
    port = 0
  }
  chroot =
}
`,
  });
  try {
    const cur = path.join(dovecot.maildirOf(USER), 'cur');
    mkdirSync(cur, { recursive: true });
    const asRoot = process.getuid?.() === 0;
    const nobody = asRoot ? [Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }))] : undefined;
    messages.forEach((raw, i) => {
      const file = path.join(cur, `${1_700_000_000 + i}.M${i}P1.bench,S=${raw.length}:2,`);
      writeFileSync(file, raw);
      if (nobody) chownSync(file, nobody[0]!, nobody[1]!);
    });
    const theirs = await measure('Dovecot', pop3Port);
    console.log(`pop3 bench: Postino / Dovecot: ${(ours.rate / theirs.rate).toFixed(2)} (messages/s)`);
  } finally {
    await dovecot.stop();
  }
}
