// A real SpamAssassin spamd for tests: on 127.0.0.1 and a free high port,
// with a scratch site config (the Debian package's plugin .pre files, no
// Bayes, no network tests: -L), run in the foreground so its PID is ours to
// stop. The Debian package ships its rules (/usr/share/spamassassin): no
// sa-update needed. Also a `postino serve` child with a `spam` block, for the
// spam tests (each engine).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from './free-port.js';
import { scratchDir } from './tmp.js';
import { SERVICES } from '../../src/config.js';
import { postino } from './cli.js';
import { cliPath } from './paths.js';
import { startServe, type Served } from './serve.js';

export const SPAMD = '/usr/sbin/spamd';

export interface Spamd {
  port: number;
  stop(): Promise<void>;
  log(): string;
}

function pingSpamd(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    let reply = '';
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write('PING SPAMC/1.5\r\n\r\n'));
    s.setTimeout(2_000, () => s.destroy());
    s.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    s.on('close', () => resolve(/PONG/.test(reply)));
    s.on('error', () => resolve(false));
  });
}

export async function startSpamd(): Promise<Spamd> {
  const scratch = scratchDir('postino-spamd-');
  const dir = scratch.dir;
  const site = path.join(dir, 'site');
  const home = path.join(dir, 'home');
  mkdirSync(site);
  mkdirSync(home);
  // spamd (started as root) runs as debian-spamd, which must write its home.
  chmodSync(dir, 0o755);
  chmodSync(home, 0o777);
  for (const f of readdirSync('/etc/spamassassin')) if (f.endsWith('.pre')) copyFileSync(path.join('/etc/spamassassin', f), path.join(site, f));
  writeFileSync(path.join(site, 'local.cf'), 'use_bayes 0\nbayes_auto_learn 0\nskip_rbl_checks 1\nuse_razor2 0\nuse_pyzor 0\ndns_available no\n');
  const port = await freePort();
  const logFile = path.join(dir, 'spamd.log');
  const args = ['-L', '-x', '-i', `127.0.0.1:${port}`, '-A', '127.0.0.1', '-m', '2', '-H', home, '-s', logFile, '--siteconfigpath', site, '-r', path.join(dir, 'spamd.pid')];
  if (process.getuid?.() === 0) args.push('-u', 'debian-spamd');
  let output = '';
  const child: ChildProcess = spawn(SPAMD, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log = () => output + (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    scratch.cleanup();
  };
  // Up in about 2.5 s; a loaded machine may take several times that.
  const deadline = Date.now() + 60_000;
  while (!(await pingSpamd(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const why = log();
      await stop();
      throw new Error(`spamd did not start: ${why.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { port, stop, log };
}

// A real `postino serve` child with the given spam block: example.test and bob,
// SMTP and LMTP on free ports.

export interface SpamMx {
  served: Served;
  dir: string;
  smtp: number;
  lmtp: number;
  /** Files of bob's mailbox NAME ('INBOX' or a folder such as 'Junk'). */
  messages(mailbox?: string): string[];
  /** Every stored file of bob's (all folders) and the local-retry queue. */
  stored(): string[];
  /** Runs `postino` against the server's data dir. */
  cli(args: string[], stdin?: string): void;
  stop(): Promise<void>;
}

export async function startSpamMx(spam: Record<string, unknown>, dnsServers: string[], extra: Record<string, unknown> = {}): Promise<SpamMx> {
  const scratch = scratchDir('postino-spam-');
  const dir = scratch.dir;
  const cli = (args: string[], stdin?: string) => {
    const r = postino(dir, args, stdin);
    if (r.code !== 0) throw new Error(`postino ${args.join(' ')}: ${r.stderr}`);
  };
  cli(['domain', 'add', 'example.test', '--postmaster', 'alice@example.test', '--password-stdin'], 'tangerine-otter-42\n');
  cli(['user', 'add', 'bob@example.test', '--password-stdin'], 'tangerine-otter-42\n');
  writeFileSync(
    path.join(dir, 'postino.json'),
    JSON.stringify({ hostname: 'mx.example.test', demo: false, smtp: { greetDelayMs: 0 }, dns: { servers: dnsServers }, spam, ...extra }),
  );
  const ports = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
  const served = startServe(process.execPath, [cliPath, 'serve', '--data', dir], ports);
  const smtp = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'smtp')).port);
  const lmtp = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'lmtp')).port);
  const maildir = path.join(dir, 'mail', 'example.test', 'bob');
  const filesOf = (d: string) => (existsSync(d) ? readdirSync(d).map((f) => path.join(d, f)) : []);
  const folder = (mailbox: string) => (mailbox === 'INBOX' ? maildir : path.join(maildir, `.${mailbox}`));
  return {
    served,
    dir,
    smtp,
    lmtp,
    messages: (mailbox = 'INBOX') => ['new', 'cur'].flatMap((d) => filesOf(path.join(folder(mailbox), d))).map((f) => readFileSync(f, 'latin1')),
    stored: () => {
      const folders = existsSync(maildir) ? readdirSync(maildir).filter((f) => f.startsWith('.')).map((f) => path.join(maildir, f)) : [];
      return [maildir, ...folders].flatMap((m) => ['new', 'cur', 'tmp'].flatMap((d) => filesOf(path.join(m, d)))).concat(filesOf(path.join(dir, 'queue', 'local')));
    },
    cli,
    async stop() {
      await served.stop();
      scratch.cleanup();
    },
  };
}
