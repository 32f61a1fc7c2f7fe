// A real rspamd for tests: a scratch configuration of our own (not the
// Debian tree): one normal worker on 127.0.0.1 and a free high port, the
// shipped Lua rules (header and MIME checks), no controller, proxy or fuzzy
// worker, no Redis, no maps to fetch, DNS pointed at a closed loopback port
// so nothing leaves the machine. Foreground (-f), so the PID is ours to stop.
// rspamd refuses to run as root: it drops to _rspamd (the Debian user).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { freePort } from './free-port.js';
import { scratchDir } from './tmp.js';

export const RSPAMD = '/usr/bin/rspamd';

export interface RspamdOptions {
  /** rspamd's action thresholds (its own score scale). */
  actions?: { reject?: number; add_header?: number; greylist?: number };
}

export interface Rspamd {
  port: number;
  stop(): Promise<void>;
  log(): string;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/ping', timeout: 2_000, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export async function startRspamd(options: RspamdOptions = {}): Promise<Rspamd> {
  const scratch = scratchDir('postino-rspamd-');
  const dir = scratch.dir;
  chmodSync(dir, 0o777);
  const port = await freePort();
  const actions = { reject: 15, add_header: 6, greylist: 4, ...options.actions };
  const conf = path.join(dir, 'rspamd.conf');
  writeFileSync(
    conf,
    `options {
  pidfile = "${dir}/rspamd.pid";
  tempdir = "${dir}";
  dns { nameserver = ["127.0.0.1:9"]; timeout = 0.5s; retransmits = 0; }
  filters = "";
}
logging { type = "file"; filename = "${dir}/rspamd.log"; level = "info"; }
lua = "/usr/share/rspamd/rules/rspamd.lua";
worker "normal" { bind_socket = "127.0.0.1:${port}"; count = 1; mime = true; task_timeout = 20s; }
actions { reject = ${actions.reject}; add_header = ${actions.add_header}; greylist = ${actions.greylist}; }
`,
  );
  const args = ['-f', '-c', conf, '--var', `DBDIR=${dir}`, '--var', `RUNDIR=${dir}`];
  if (process.getuid?.() === 0) args.push('-u', '_rspamd', '-g', '_rspamd');
  let output = '';
  const child: ChildProcess = spawn(RSPAMD, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const logFile = path.join(dir, 'rspamd.log');
  const log = () => output + (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    scratch.cleanup();
  };
  // Compiling its TLD list and language models takes rspamd 30-60 s on a loaded 2-core machine.
  const deadline = Date.now() + 150_000;
  while (!(await ping(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const why = log();
      await stop();
      throw new Error(`rspamd did not start: ${why.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return { port, stop, log };
}
