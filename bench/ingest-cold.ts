// Cold ingest: Postfix's smtp-source (a client other than the project's own)
// sends N messages of 4 KB over 8 sessions (smtp-source -s 8 -d: each session
// one connection that carries its messages one after the other, as the
// issue's command line has it; -d is "don't disconnect"), into a server
// started just before, with no warm-up; clocked until the last message is in
// the target folder. A 20-rule Sieve script with one addflag and one fileinto
// (every message ends in "Ingest", flagged). The MX port's limit of messages
// per connection (1,000 by default, as Exim's) is raised for the run
// (smtp.maxMessagesPerConnection): 10,000 messages over 8 connections are
// 1,250 each, and smtp-source stops at a 421.
//   - Postino's MX port (SMTP), SPF/DKIM/DMARC checks on (fixture DNS)
//   - Postino's LMTP (no sender checks)
//   - Dovecot's LMTP with the same script through Pigeonhole, started cold
//     before and after the Postino runs; the ratios are to the mean of the two.
// Prints messages/s, the ratios and the server's CPU per message (serve's
// threads; Dovecot's master and every process under it, reaped ones
// included; from /proc), and for Postino its main thread's shares of the
// run: the time it ran (near 100%: the one thread bounds the rate) and the
// time it was ready but waited for a CPU that another thread or process had.
// usage: node dist/bench/ingest-cold.js [N]   (default 10000, the load: a
// cold server's first seconds compile its code, about 0.3 to 0.4 ms of CPU per
// message over 2,000 messages, less per message the longer the run)
// BENCH_SESSIONS=N changes the 8 sessions (1 shows the latency per message).
// BENCH_PROFILE=DIR writes a V8 CPU profile of each serve there.
// BENCH_NODE_ARGS adds node options to `postino serve` (e.g. "--trace-gc").
// BENCH_STRACE=DIR counts serve's system calls during the load (strace -c -f,
// attached once serve is ready) into DIR/strace-<target>.txt and prints its
// fsyncs per message; strace slows serve, so the rates of such a run are not
// comparable.
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { startServe } from '../test/support/serve.js';
import { fixturesDir, cliPath } from '../test/support/paths.js';
import { startDnsFixture, type DnsFixture } from '../test/support/dns-fixture.js';
import { dovecotInstalled, startDovecotLmtp } from '../test/support/dovecot-lmtp.js';
import { findProgram } from '../test/support/postfix.js';
import { SERVICES } from '../src/config.js';
import { makeScratchDir, removeScratch, waitForQuietDisk } from './scratch.js';
import { maildirCount } from './smtp-client.js';
import { cpuTimes, mainThreadTimes, treeCpu } from './proc-cpu.js';

const count = Number(process.argv[2] ?? 10_000);
if (!Number.isInteger(count) || count < 1) {
  console.error('usage: node dist/bench/ingest-cold.js [N]');
  process.exit(2);
}
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 8);
const DOMAIN = 'example.test';
const RCPT = `cold@${DOMAIN}`;
const FROM = 'sender@remote.test';
const HELO = 'bench.remote.test';
const FOLDER = 'Ingest';
const PASSWORD = 'bench-password-Quokka-7\n';
const smtpSource = findProgram('smtp-source') ?? (process.platform === 'linux' ? '/usr/sbin/smtp-source' : undefined);
if (!smtpSource) throw new Error('smtp-source (Debian package postfix) is not installed');
if (!dovecotInstalled()) throw new Error('ingest-cold bench: Dovecot (dovecot-lmtpd, dovecot-sieve) is not installed');

/**
 * The bench's 20-rule script (fixtures/sieve/bench-20-rules.sieve) with its
 * last two rules replaced by one addflag and one fileinto that every
 * smtp-source message meets (its subject is set with -S); fileinto :create
 * (RFC 5490), as the folder does not exist before the first message.
 */
function script(): string {
  const base = readFileSync(path.join(fixturesDir, 'sieve', 'bench-20-rules.sieve'), 'utf8');
  const cut = base.indexOf('# 19-20');
  if (cut < 0) throw new Error('bench-20-rules.sieve changed: no "# 19-20" section');
  const head = base.slice(0, cut).replace('require ["fileinto",', 'require ["fileinto", "mailbox",');
  if (!head.includes('"mailbox"')) throw new Error('bench-20-rules.sieve changed: its require line');
  return (
    head +
    '# 19-20: every message from smtp-source (-S "Bench ingest") is flagged and filed.\n' +
    'if header :contains "subject" "Bench ingest" { addflag "\\\\Flagged"; }\n' +
    `if address :domain :is "from" "remote.test" { fileinto :create "${FOLDER}"; stop; }\n`
  );
}

interface Result {
  rate: number;
  seconds: number;
  /** the server's CPU ms per message: serve's threads, or Dovecot's master and every process under it */
  cpu: number;
  /** Postino only: its main thread's CPU ms per message, and the shares of the run it ran and it waited for a CPU */
  main?: { cpu: number; busy: number; waited: number };
}

/** Runs smtp-source and waits for `count` messages in `folder` (a Maildir); the clock starts at the spawn. */
async function load(port: number, lmtp: boolean, folder: string, serverCpu: () => number, mainTimes?: () => { ran: number; waited: number }): Promise<Result> {
  const cpu0 = serverCpu();
  const main0 = mainTimes?.();
  const t0 = process.hrtime.bigint();
  const args = ['-s', String(SESSIONS), '-d', '-l', '4096', '-m', String(count), '-M', HELO, '-S', 'Bench ingest', '-f', FROM, '-t', RCPT, ...(lmtp ? ['-L'] : []), `127.0.0.1:${port}`];
  const child = spawn(smtpSource!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  const deadline = Date.now() + 600_000;
  // The folder appears with the first message (created under a temporary name and renamed): count 0 till then.
  const countIn = (dir: string) => {
    try {
      return maildirCount(dir);
    } catch {
      return 0;
    }
  };
  let seen = 0;
  let progressAt = Date.now();
  for (let n; (n = countIn(folder)) < count; ) {
    if (code !== undefined && code !== 0) throw new Error(`smtp-source exited ${code}: ${err.slice(-2000)}`);
    if (n > seen) [seen, progressAt] = [n, Date.now()];
    if (code !== undefined && Date.now() - progressAt > 30_000) throw new Error(`smtp-source is done but only ${n} of ${count} messages reached ${folder}`);
    if (Date.now() > deadline) throw new Error(`only ${countIn(folder)} of ${count} messages reached ${folder}; smtp-source: ${err.slice(-2000)}`);
    // Counting a folder of thousands of files costs the bench a few ms: looked at rarely while
    // smtp-source runs (its CPU is taken from the servers'), often once it is done.
    await new Promise((r) => setTimeout(r, code === undefined ? 250 : 10));
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu1 = serverCpu();
  const main1 = mainTimes?.();
  await exited;
  if (err.trim()) console.log(`  smtp-source said: ${err.trim().slice(-500)}`);
  const cpu = ((cpu1 - cpu0) * 1000) / count;
  const main =
    main0 !== undefined && main1 !== undefined
      ? { cpu: ((main1.ran - main0.ran) * 1000) / count, busy: (main1.ran - main0.ran) / seconds, waited: (main1.waited - main0.waited) / seconds }
      : undefined;
  return { rate: count / seconds, seconds, cpu, ...(main ? { main } : {}) };
}

async function postino(target: 'smtp' | 'lmtp', dns: DnsFixture): Promise<Result> {
  const dataDir = makeScratchDir('postino-bench-cold-');
  const config = { hostname: 'mx.example.test', dns: { servers: dns.servers }, smtp: { maxMessagesPerConnection: count } };
  writeFileSync(path.join(dataDir, 'postino.json'), JSON.stringify(config, null, 2));
  const scriptFile = path.join(dataDir, 'bench.sieve');
  writeFileSync(scriptFile, script());
  const run = (args: string[], stdin = '') => {
    const r = spawnSync(process.execPath, [cliPath, ...args, '--data', dataDir], { input: stdin, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`postino ${args.join(' ')}: ${r.stderr}`);
  };
  run(['domain', 'add', DOMAIN, '--postmaster', RCPT, '--password-stdin'], PASSWORD);
  run(['sieve', 'put', RCPT, 'bench', scriptFile, '--activate']);
  const env = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const served = startServe(process.execPath, [...profile, ...nodeArgs, cliPath, 'serve', '--data', dataDir], env);
  try {
    const port = Number((await served.waitFor((e) => e.event === 'listening' && e.service === target)).port);
    await served.waitFor((e) => e.event === 'ready', 60_000);
    const folder = path.join(dataDir, 'mail', DOMAIN, RCPT.split('@')[0]!, `.${FOLDER}`);
    const traced = process.env.BENCH_STRACE ? await straceAttach(served.child.pid!, path.join(process.env.BENCH_STRACE, `strace-${target}.txt`)) : undefined;
    const pid = served.child.pid!;
    const result = await load(port, target === 'lmtp', folder, () => cpuTimes(pid).all, () => mainThreadTimes(pid));
    if (traced) console.log(`  ${target}: ${await traced()}`);
    return result;
  } finally {
    const code = await served.stop();
    if (code !== 0) console.log(`postino: serve exited ${code}: ${served.stderr().slice(-2000)}`);
  }
}

/** Attaches strace -c -f to a process; the function returned detaches it and sums up its fsyncs per message. */
async function straceAttach(pid: number, out: string): Promise<() => Promise<string>> {
  const child = spawn('strace', ['-f', '-c', '-o', out, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  // strace says "Process N attached" once per thread; give it a moment.
  for (let i = 0; i < 100 && !err.includes('attached'); i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  return async () => {
    child.kill('SIGINT');
    await exited;
    const calls = (name: string) => {
      const m = new RegExp(`^\\s*[\\d.]+\\s+[\\d.]+\\s+\\d+\\s+(\\d+)\\s+(?:\\d+\\s+)?${name}$`, 'm').exec(readFileSync(out, 'utf8'));
      return m ? Number(m[1]) : 0;
    };
    const fsyncs = calls('fsync') + calls('fdatasync');
    return `fsync ${calls('fsync')} + fdatasync ${calls('fdatasync')} = ${(fsyncs / count).toFixed(2)} per message (${out})`;
  };
}

async function dovecot(): Promise<Result> {
  const dc = await startDovecotLmtp({
    scratchRoot: makeScratchDir('dc-'),
    keep: true,
    users: [RCPT],
    sieveScript: script(),
  });
  try {
    return await load(dc.lmtpPort, true, path.join(dc.maildirOf(RCPT), `.${FOLDER}`), () => treeCpu(dc.pid));
  } finally {
    await dc.stop();
  }
}

const show = (label: string, r: Result) =>
  console.log(
    `${label.padEnd(34)} ${r.rate.toFixed(0).padStart(6)} msg/s (${r.seconds.toFixed(2)} s), server CPU ${r.cpu.toFixed(3)} ms/msg` +
      (r.main ? ` (main thread ${r.main.cpu.toFixed(3)}, ran ${(100 * r.main.busy).toFixed(0)}% of the run, waited for a CPU ${(100 * r.main.waited).toFixed(0)}%)` : ''),
  );

console.log(`cold ingest bench: ${count} messages of 4 KB from smtp-source, ${SESSIONS} sessions (a connection each), no warm-up, 20-rule Sieve script (addflag + fileinto "${FOLDER}")`);
await waitForQuietDisk();
const dns = await startDnsFixture({
  'remote.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'], MX: [{ exchange: 'mx.remote.test', priority: 10 }], A: ['127.0.0.1'] },
  [HELO]: { TXT: ['v=spf1 ip4:127.0.0.1 -all'], A: ['127.0.0.1'] },
  '_dmarc.remote.test': { TXT: ['v=DMARC1; p=none'] },
  '1.0.0.127.in-addr.arpa': { PTR: ['localhost'] },
  localhost: { A: ['127.0.0.1'] },
});
try {
  const dc1 = await dovecot();
  show('Dovecot LMTP (first)', dc1);
  const mx = await postino('smtp', dns);
  show('Postino MX, sender checks on', mx);
  const lmtp = await postino('lmtp', dns);
  show('Postino LMTP, no sender checks', lmtp);
  const dc2 = await dovecot();
  show('Dovecot LMTP (second)', dc2);
  const dc = (dc1.rate + dc2.rate) / 2;
  console.log(`ratio Postino MX (sender checks) / Dovecot LMTP: ${(mx.rate / dc).toFixed(2)} (target 2.0)`);
  console.log(`ratio Postino LMTP / Dovecot LMTP:               ${(lmtp.rate / dc).toFixed(2)} (target 2.5)`);
  const dcCpu = (dc1.cpu + dc2.cpu) / 2;
  console.log(`server CPU per message, Postino / Dovecot: MX ${(mx.cpu / dcCpu).toFixed(2)}, LMTP ${(lmtp.cpu / dcCpu).toFixed(2)}`);
} finally {
  await dns.close();
  removeScratch();
}
