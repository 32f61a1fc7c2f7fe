// A real clamd for tests: a scratch config (Foreground, loopback TCP on a
// free high port and a unix socket), a scratch DatabaseDirectory holding a
// database of our own (freshclam cannot reach the internet): the EICAR test
// signature as one .ndb line, or a signature for something else (a clamd that
// has "stopped detecting" EICAR). Ready when it answers PING; stop() ends it
// by its PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './free-port.js';
import { scratchDir } from './tmp.js';
import { eicar } from '../../src/scan/eicar.js';
import { ClamdScanner } from '../../src/scan/clamd.js';
import { SERVICES } from '../../src/config.js';
import { postino } from './cli.js';
import { cliPath } from './paths.js';
import { startServe, type Served } from './serve.js';
import { openDialog } from './smtp-dialog.js';

export const CLAMD = '/usr/sbin/clamd';

export type Signatures = 'eicar' | 'other';

export interface ClamdOptions {
  signatures?: Signatures;
  /** clamd's StreamMaxLength (e.g. '1M'); clamd's default is 100M. */
  streamMaxLength?: string;
}

export interface Clamd {
  port: number;
  socket: string;
  dir: string;
  /** Stops clamd (SIGTERM, waits for the exit). */
  stop(): Promise<void>;
  /** Starts it again on the same port and socket, maybe with other signatures. */
  start(signatures?: Signatures): Promise<void>;
  /** Stops it and removes its scratch directory. */
  cleanup(): Promise<void>;
  log(): string;
}

function database(signatures: Signatures): string {
  const hex = signatures === 'eicar' ? eicar().toString('hex') : Buffer.from('POSTINO-TEST-NOT-EICAR-0123456789').toString('hex');
  return `Test.${signatures === 'eicar' ? 'EICAR' : 'Other'}:0:*:${hex}\n`;
}

export async function startClamd(options: ClamdOptions = {}): Promise<Clamd> {
  const scratch = scratchDir('postino-clamd-');
  const dir = scratch.dir;
  const port = await freePort();
  const socket = path.join(dir, 'clamd.sock');
  const db = path.join(dir, 'db');
  const conf = path.join(dir, 'clamd.conf');
  let child: ChildProcess | undefined;
  let output = '';

  const start = async (signatures: Signatures = options.signatures ?? 'eicar') => {
    rmSync(db, { recursive: true, force: true });
    mkdirSync(db);
    writeFileSync(path.join(db, 'test.ndb'), database(signatures));
    writeFileSync(
      conf,
      [
        'Foreground yes',
        `DatabaseDirectory ${db}`,
        `TemporaryDirectory ${dir}`,
        `TCPSocket ${port}`,
        'TCPAddr 127.0.0.1',
        `LocalSocket ${socket}`,
        'LocalSocketMode 666',
        `PidFile ${path.join(dir, 'clamd.pid')}`,
        `LogFile ${path.join(dir, 'clamd.log')}`,
        'LogTime yes',
        'SelfCheck 0',
        ...(options.streamMaxLength ? [`StreamMaxLength ${options.streamMaxLength}`] : []),
        '',
      ].join('\n'),
    );
    const c = spawn(CLAMD, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    c.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const scanner = new ClamdScanner({ host: '127.0.0.1', port });
    const deadline = Date.now() + 30_000;
    while (!(await scanner.ping(Date.now() + 1_000))) {
      if (c.exitCode !== null) throw new Error(`clamd exited ${c.exitCode}: ${output}`);
      if (Date.now() > deadline) throw new Error(`clamd did not answer PING within 30 s: ${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    rmSync(socket, { force: true });
  };

  await start();
  return {
    port,
    socket,
    dir,
    stop,
    start,
    async cleanup() {
      await stop();
      scratch.cleanup();
    },
    log: () => output,
  };
}

// A real `postino serve` child for the scanning tests: a data dir with
// example.test and bob, the given antivirus block, SMTP and LMTP on free ports.

export interface ServedMx {
  served: Served;
  dir: string;
  smtp: number;
  lmtp: number;
  /** Files of bob's Maildir (new, cur, tmp) and the local-retry queue. */
  stored(): string[];
  /** The text of every message in bob's INBOX. */
  inbox(): string[];
  stop(): Promise<void>;
}

export async function startMx(antivirus: Record<string, unknown> | undefined, dnsServers: string[]): Promise<ServedMx> {
  const scratch = scratchDir('postino-av-');
  const dir = scratch.dir;
  const cli = (args: string[], stdin?: string) => {
    const r = postino(dir, args, stdin);
    if (r.code !== 0) throw new Error(`postino ${args.join(' ')}: ${r.stderr}`);
  };
  cli(['domain', 'add', 'example.test', '--postmaster', 'alice@example.test', '--password-stdin'], 'tangerine-otter-42\n');
  cli(['user', 'add', 'bob@example.test', '--password-stdin'], 'tangerine-otter-42\n');
  writeFileSync(
    path.join(dir, 'postino.json'),
    JSON.stringify({ hostname: 'mx.example.test', demo: false, smtp: { greetDelayMs: 0 }, dns: { servers: dnsServers }, antivirus }),
  );
  const ports = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
  const served = startServe(process.execPath, [cliPath, 'serve', '--data', dir], ports);
  const portOf = async (service: string) => Number((await served.waitFor((e) => e.event === 'listening' && e.service === service)).port);
  const smtp = await portOf('smtp');
  const lmtp = await portOf('lmtp');
  const maildir = path.join(dir, 'mail', 'example.test', 'bob');
  const filesOf = (d: string) => (existsSync(d) ? readdirSync(d).map((f) => path.join(d, f)) : []);
  return {
    served,
    dir,
    smtp,
    lmtp,
    stored: () => ['new', 'cur', 'tmp'].map((d) => path.join(maildir, d)).concat(path.join(dir, 'queue', 'local')).flatMap(filesOf),
    inbox: () => ['new', 'cur'].flatMap((d) => filesOf(path.join(maildir, d))).map((f) => readFileSync(f, 'latin1')),
    async stop() {
      await served.stop();
      scratch.cleanup();
    },
  };
}

export interface Sent {
  mail: string;
  rcpt: string;
  /** The replies at the end of DATA (LMTP: one per recipient); empty when refused before. */
  end: string[];
  /** Milliseconds from the end of the message to its reply. */
  ms: number;
}

/** One message to bob over SMTP or LMTP. */
export async function sendTo(port: number, message: Buffer | string, lmtp = false): Promise<Sent> {
  const d = await openDialog(port);
  try {
    await d.send(lmtp ? 'LHLO client.test' : 'EHLO client.test');
    const mail = await d.send('MAIL FROM:<sender@remote.test>');
    if (!mail.startsWith('250')) return { mail, rcpt: '', end: [], ms: 0 };
    const rcpt = await d.send('RCPT TO:<bob@example.test>');
    const data = await d.send('DATA');
    if (!data.startsWith('354')) return { mail, rcpt, end: [data], ms: 0 };
    const started = Date.now();
    const end = await d.data(typeof message === 'string' ? message : message.toString('latin1'));
    return { mail, rcpt, end, ms: Date.now() - started };
  } finally {
    d.close();
  }
}
