// Inbound delivery bench (issue 4): COUNT messages of 4 KB over CONNECTIONS
// concurrent connections into an account whose active Sieve script has 20
// rules (fixtures/sieve/bench-20-rules.sieve), fsync on, printing messages/s
// and p50/p99 latency. Then, when the Debian packages are installed, the
// same load against Dovecot's LMTP (Pigeonhole running the same script) and
// against Postfix relaying to it, and the ratios.
//
// usage: node dist/bench/smtp.js [COUNT [CONNECTIONS]] [--targets LIST] [--no-sieve] [--warmup N]
//   COUNT 10000, CONNECTIONS 8 by default.
//   LIST: comma-separated among postino-smtp, postino-lmtp, dovecot-lmtp,
//   postfix-dovecot, postfix-postino, sink (Postfix's smtp-sink, which stores
//   nothing: the client's own ceiling), or "all"; default: the first four.
//   --no-sieve: no script anywhere (to see what Sieve costs).
//   --warmup N: messages sent to each target before timing starts (default
//   500, or a tenth of COUNT when smaller); 0 times a cold start.
//   BENCH_DIR: where the scratch data dirs go (default the OS temp dir).
//   BENCH_SERVE_NODE_ARGS: node flags for `postino serve`, e.g.
//   "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the server under load.
//
// The client is a small pipelined SMTP/LMTP client over node:net (MAIL, RCPT
// and DATA in one write, then the data): against Postfix's smtp-sink it did
// 7,300 msg/s with 8 connections (3,600 on a busy machine), where
// nodemailer's pooled transport did 1,200: too close to the 800 msg/s
// target, and it takes CPU from the server on a 2-core machine.
//
// Latency is from MAIL FROM to the final reply to the end of data. For the
// Postfix targets that reply means "queued", so their rate is measured end to
// end instead: from the first MAIL to the last message found in the Maildir.
//
// Single runs on a shared machine differ by 10-20%: to compare two builds (or
// Postino with Dovecot) use bench/smtp-ab.ts, which alternates rounds.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeMessage } from '../test/support/messages.js';
import { startServe, type Served } from '../test/support/serve.js';
import { postino } from '../test/support/cli.js';
import { cliPath, fixturesDir } from '../test/support/paths.js';
import { startDnsFixture, type DnsFixture } from '../test/support/dns-fixture.js';
import { findProgram, postfixInstalled, startPostfix, type RunningPostfix } from '../test/support/postfix.js';
import { freePort, waitForPort } from '../test/support/free-port.js';
import { dovecotInstalled, startDovecotLmtp, type RunningDovecot } from '../test/support/dovecot-lmtp.js';
import { SERVICES } from '../src/config.js';
import { makeScratchDir, removeScratch, waitForQuietDisk } from './scratch.js';
import { machineCpu, maildirCount, measureLoad as measureWire, processCpu, waitForMaildir, type LoadResult } from './smtp-client.js';

// ---------------------------------------------------------------- arguments

const TARGETS = ['postino-smtp', 'postino-lmtp', 'dovecot-lmtp', 'postfix-dovecot', 'postfix-postino', 'sink'] as const;
type Target = (typeof TARGETS)[number];

const argv = process.argv.slice(2);
const VALUED = new Set(['--targets', '--warmup']);
const positional = argv.filter((a, i) => !a.startsWith('--') && !VALUED.has(argv[i - 1] ?? ''));
function option(name: string): string | undefined {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const a = argv[i]!;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1];
}
const count = Number(positional[0] ?? 10_000);
const warmup = Number(option('warmup') ?? Math.min(500, Math.floor(count / 10)));
const connections = Number(positional[1] ?? 8);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(connections) || connections < 1 || !Number.isInteger(warmup) || warmup < 0) {
  console.error('usage: node dist/bench/smtp.js [COUNT [CONNECTIONS]] [--targets LIST] [--no-sieve] [--warmup N]');
  process.exit(2);
}
const targetArg = option('targets');
const targets = new Set<Target>(
  targetArg === 'all' ? TARGETS : targetArg ? (targetArg.split(',') as Target[]) : TARGETS.filter((t) => t !== 'postfix-postino' && t !== 'sink'),
);
for (const t of targets) if (!TARGETS.includes(t)) {
  console.error(`unknown target ${t}; one of ${TARGETS.join(', ')}`);
  process.exit(2);
}

const useSieve = !argv.includes('--no-sieve');
const DOMAIN = 'example.test';
const FROM = 'sender@remote.test';
const HELO = 'bench.remote.test';
const SCRIPT = path.join(fixturesDir, 'sieve', 'bench-20-rules.sieve');
const PASSWORD = 'bench-password-Quokka-7\n';

// ---------------------------------------------------------------- the load

interface LoadSpec {
  port: number;
  lmtp: boolean;
  rcpt: string;
  messages: Buffer[];
  /** Where the recipient's mail lands: the timed run starts once the warm-up messages are all there. */
  maildir?: string;
  /** The server's process, whose CPU time during the timed run is reported. */
  serverPid?: number;
}

/**
 * Warms the target up (WARMUP messages, not timed: a long-running server is
 * warm, and the first tenth of a cold run is mostly Postino's JIT at work),
 * then runs the timed load. `warmedUp` says how many extra messages went in.
 */
async function runLoad(spec: LoadSpec): Promise<LoadResult & { warmedUp: number }> {
  let warmedUp = 0;
  if (warmup > 0) {
    const before = spec.maildir ? maildirCount(spec.maildir) : 0;
    const messages = Array.from({ length: warmup }, (_, i) => makeMessage(`warmup-${spec.rcpt}-${i}`, 4096));
    warmedUp = (await measureLoad({ ...spec, messages })).sent;
    if (spec.maildir && (await waitForMaildir(spec.maildir, before + warmedUp, process.hrtime.bigint(), 300_000)) === undefined) {
      throw new Error(`warm-up: the messages did not all reach ${spec.maildir}`);
    }
  }
  const cpu0 = processCpu(spec.serverPid);
  const machine0 = machineCpu();
  const client0 = process.cpuUsage();
  const r = await measureLoad(spec);
  const client1 = process.cpuUsage(client0);
  const machine1 = machineCpu();
  const cpu1 = processCpu(spec.serverPid);
  if (r.sent > 0) {
    const per = (seconds: number) => ((seconds * 1000) / r.sent).toFixed(2);
    if (cpu0 && cpu1) console.log(`${''.padEnd(16)} server CPU per message: ${per(cpu1.user - cpu0.user)} ms user + ${per(cpu1.system - cpu0.system)} ms kernel`);
    // The client shares the machine: what it and everything else took tells how close the run came to the cores' limit.
    console.log(`${''.padEnd(16)} bench client CPU per message: ${per((client1.user + client1.system) / 1e6)} ms`);
    if (machine0 && machine1) {
      const busy = machine1.busy - machine0.busy;
      const total = busy + machine1.idle - machine0.idle;
      console.log(`${''.padEnd(16)} machine: ${per(busy)} ms of CPU per message, cores ${((100 * busy) / total).toFixed(0)}% busy (steal ${((100 * (machine1.steal - machine0.steal)) / total).toFixed(0)}%)`);
    }
  }
  return { ...r, warmedUp };
}

const measureLoad = (spec: LoadSpec) => measureWire({ ...spec, connections, from: FROM, helo: HELO });

// ---------------------------------------------------------------- reporting

const pct = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN);

/** Rates of the first and last tenth of completions: a store that slows as the folder grows shows here. */
function tenths(completions: number[]): string {
  const n = completions.length;
  const k = Math.floor(n / 10);
  if (k < 10) return '';
  const first = k / completions[k - 1]!;
  const last = k / (completions[n - 1]! - completions[n - 1 - k]!);
  return `, first/last tenth ${first.toFixed(0)}/${last.toFixed(0)} msg/s`;
}

const rates = new Map<Target, number>();

function report(target: Target, r: LoadResult, endToEndSeconds?: number | null, note = ''): void {
  const line =
    `${target.padEnd(16)} ${r.sent}/${r.sent + r.failed} accepted in ${r.seconds.toFixed(2)} s: ` +
    `${(r.sent / r.seconds).toFixed(0)} msg/s, latency p50 ${pct(r.latencies, 0.5).toFixed(1)} ms p99 ${pct(r.latencies, 0.99).toFixed(1)} ms` +
    tenths(r.completions) +
    (r.sessions > connections ? `, ${r.sessions} sessions` : '');
  console.log(line);
  if (endToEndSeconds !== undefined) {
    if (endToEndSeconds === null) console.log(`${''.padEnd(16)} NOT all delivered to the Maildir in time`);
    else console.log(`${''.padEnd(16)} end to end (last message in the Maildir): ${endToEndSeconds.toFixed(2)} s, ${(r.sent / endToEndSeconds).toFixed(0)} msg/s`);
  }
  if (note) console.log(`${''.padEnd(16)} ${note}`);
  if (r.failed > 0) console.log(`${''.padEnd(16)} ${r.failed} FAILED, e.g.: ${r.errors.join(' | ').replace(/\s+/g, ' ')}`);
  if (r.failed === 0) rates.set(target, r.sent / (endToEndSeconds ?? r.seconds));
}

// ---------------------------------------------------------------- the systems

function messagesFor(tag: string): Buffer[] {
  return Array.from({ length: count }, (_, i) => makeMessage(`${tag}-${i}`, 4096));
}

interface PostinoUnderTest {
  served: Served;
  dataDir: string;
  smtpPort: number | undefined;
  lmtpPort: number | undefined;
  sieve: boolean;
  dns: DnsFixture;
  stop(): Promise<void>;
}

async function startPostino(accounts: string[]): Promise<PostinoUnderTest> {
  const dataDir = makeScratchDir('postino-bench-smtp-');
  // SPF/DMARC lookups answered at once by an in-process DNS server: no network, no timeouts.
  const dns = await startDnsFixture({
    'remote.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'], MX: [{ exchange: 'mx.remote.test', priority: 10 }], A: ['127.0.0.1'] },
    [HELO]: { TXT: ['v=spf1 ip4:127.0.0.1 -all'], A: ['127.0.0.1'] },
    '_dmarc.remote.test': { TXT: ['v=DMARC1; p=none'] },
    '1.0.0.127.in-addr.arpa': { PTR: ['localhost'] },
    localhost: { A: ['127.0.0.1'] },
  });
  writeFileSync(path.join(dataDir, 'postino.json'), JSON.stringify({ hostname: 'mx.example.test', dns: { servers: dns.servers } }, null, 2));
  const [first, ...rest] = accounts;
  const cli = (args: string[], stdin?: string) => {
    const r = postino(dataDir, args, stdin);
    return r;
  };
  const add = cli(['domain', 'add', DOMAIN, '--postmaster', first!, '--password-stdin'], PASSWORD);
  if (add.code !== 0) throw new Error(`postino domain add: ${add.stderr}`);
  for (const a of rest) {
    const r = cli(['user', 'add', a, '--password-stdin'], PASSWORD);
    if (r.code !== 0) throw new Error(`postino user add ${a}: ${r.stderr}`);
  }
  let sieve = useSieve;
  for (const a of useSieve ? accounts : []) {
    const r = cli(['sieve', 'put', a, 'bench', SCRIPT, '--activate']);
    if (r.code !== 0) {
      sieve = false;
      console.log(`postino: WARNING: sieve put failed (${(r.stderr || r.stdout).trim().split('\n')[0]}); running WITHOUT the 20-rule script`);
      break;
    }
  }
  const env = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
  const nodeArgs = (process.env.BENCH_SERVE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const served = startServe(process.execPath, [...nodeArgs, cliPath, 'serve', '--data', dataDir], env);
  await served.waitFor((e) => e.event === 'ready', 60_000);
  const portOf = (service: string) => {
    const e = served.events.find((x) => x.event === 'listening' && x.service === service);
    return e ? Number(e.port) : undefined;
  };
  return {
    served,
    dataDir,
    smtpPort: portOf('smtp'),
    lmtpPort: portOf('lmtp'),
    sieve,
    dns,
    async stop() {
      const code = await served.stop();
      if (code !== 0) console.log(`postino: serve exited ${code}: ${served.stderr().slice(-2000)}`);
      await dns.close();
    },
  };
}

const maildirOfPostino = (dataDir: string, address: string) => {
  const [local, domain] = address.split('@') as [string, string];
  return path.join(dataDir, 'mail', domain, local);
};

async function benchPostino(): Promise<void> {
  const want = (['postino-smtp', 'postino-lmtp', 'postfix-postino'] as const).filter((t) => targets.has(t));
  if (want.length === 0) return;
  const accounts = { 'postino-smtp': `smtp@${DOMAIN}`, 'postino-lmtp': `lmtp@${DOMAIN}`, 'postfix-postino': `relay@${DOMAIN}` };
  const p = await startPostino(Object.values(accounts));
  const note = p.sieve ? '' : useSieve ? 'WITHOUT the Sieve script (postino sieve put failed)' : 'without Sieve (--no-sieve)';
  try {
    for (const target of want) {
      const rcpt = accounts[target];
      const maildir = maildirOfPostino(p.dataDir, rcpt);
      if (target === 'postino-smtp' || target === 'postino-lmtp') {
        const port = target === 'postino-smtp' ? p.smtpPort : p.lmtpPort;
        if (port === undefined) {
          console.log(`${target.padEnd(16)} skipped: postino serve has no ${target.slice(8).toUpperCase()} listener yet`);
          continue;
        }
        const r = await runLoad({ port, lmtp: target === 'postino-lmtp', rcpt, messages: messagesFor(target), serverPid: p.served.child.pid });
        // A 250 is sent only once the message is in the Maildir: check none is missing.
        const stored = maildirCount(maildir) - r.warmedUp;
        report(target, r, undefined, `${note}${stored === r.sent ? '' : ` STORED ${stored} OF ${r.sent} ACCEPTED`}`.trim());
      } else {
        if (p.lmtpPort === undefined) {
          console.log(`${target.padEnd(16)} skipped: postino serve has no LMTP listener yet`);
          continue;
        }
        if (!postfixInstalled()) {
          console.log(`${target.padEnd(16)} skipped: postfix is not installed`);
          continue;
        }
        const pf = await startPostfix({ domain: DOMAIN, lmtpPort: p.lmtpPort });
        try {
          const r = await runLoad({ port: pf.smtpPort, lmtp: false, rcpt, messages: messagesFor(target), maildir });
          const e2e = await waitForMaildir(maildir, r.warmedUp + r.sent, r.startedAt, 300_000);
          report(target, r, e2e ?? null, `${note} (accepted = queued by Postfix)`.trim());
        } finally {
          await pf.stop();
        }
      }
    }
  } finally {
    await p.stop();
  }
}

async function benchDovecot(): Promise<void> {
  const want = (['dovecot-lmtp', 'postfix-dovecot'] as const).filter((t) => targets.has(t));
  if (want.length === 0) return;
  if (!dovecotInstalled()) {
    for (const t of want) console.log(`${t.padEnd(16)} skipped: dovecot (dovecot-core, dovecot-lmtpd) is not installed`);
    return;
  }
  const script = readFileSync(SCRIPT, 'utf8');
  const users = { 'dovecot-lmtp': `lmtp@${DOMAIN}`, 'postfix-dovecot': `relay@${DOMAIN}` };
  const withSieve = useSieve && existsSync('/usr/lib/dovecot/modules/lib90_sieve_plugin.so');
  const dc: RunningDovecot = await startDovecotLmtp({
    scratchRoot: makeScratchDir('postino-bench-dovecot-'),
    keep: true,
    users: Object.values(users),
    ...(withSieve ? { sieveScript: script } : {}),
  });
  const note = withSieve ? 'Pigeonhole runs the same 20-rule script' : useSieve ? 'WITHOUT Sieve (dovecot-sieve not installed)' : 'without Sieve (--no-sieve)';
  try {
    for (const target of want) {
      const rcpt = users[target];
      const maildir = dc.maildirOf(rcpt);
      if (target === 'dovecot-lmtp') {
        const r = await runLoad({ port: dc.lmtpPort, lmtp: true, rcpt, messages: messagesFor(target) });
        const stored = maildirCount(maildir) - r.warmedUp;
        report(target, r, undefined, `${note}${stored === r.sent ? '' : `; STORED ${stored} OF ${r.sent} ACCEPTED`}`);
      } else {
        if (!postfixInstalled()) {
          console.log(`${target.padEnd(16)} skipped: postfix is not installed`);
          continue;
        }
        let pf: RunningPostfix | undefined;
        try {
          pf = await startPostfix({ domain: DOMAIN, lmtpPort: dc.lmtpPort });
          const r = await runLoad({ port: pf.smtpPort, lmtp: false, rcpt, messages: messagesFor(target), maildir });
          const e2e = await waitForMaildir(maildir, r.warmedUp + r.sent, r.startedAt, 300_000);
          report(target, r, e2e ?? null, `${note}; accepted = queued by Postfix`);
        } finally {
          await pf?.stop();
        }
      }
    }
    if (/\b(error|fatal|panic)\b/i.test(dc.logText())) {
      console.log(`dovecot log has errors:\n${dc.logText().split('\n').filter((l) => /error|fatal|panic/i.test(l)).slice(0, 5).join('\n')}`);
    }
  } finally {
    await dc.stop();
  }
}

async function benchSink(): Promise<void> {
  if (!targets.has('sink')) return;
  const bin = findProgram('smtp-sink');
  if (!bin) {
    console.log(`${'sink'.padEnd(16)} skipped: smtp-sink (package postfix) is not installed`);
    return;
  }
  const port = await freePort();
  const sink = spawn(bin, ['-u', 'nobody', `127.0.0.1:${port}`, '256'], { stdio: 'ignore' });
  try {
    await waitForPort(port, 10_000);
    const r = await runLoad({ port, lmtp: false, rcpt: `sink@${DOMAIN}`, messages: messagesFor('sink') });
    report('sink', r, undefined, 'smtp-sink stores nothing: this is the client\'s own ceiling');
  } finally {
    sink.kill('SIGTERM');
  }
}

// ---------------------------------------------------------------- main

console.log(`smtp bench: ${count} messages of 4 KB over ${connections} connections, fsync on, ${useSieve ? '20-rule Sieve script' : 'no Sieve'}, targets ${[...targets].join(', ')}`);
await waitForQuietDisk();
try {
  await benchPostino();
  await benchDovecot();
  await benchSink();
} finally {
  removeScratch();
}

const ratio = (a: Target, b: Target, label: string) => {
  const x = rates.get(a);
  const y = rates.get(b);
  if (x !== undefined && y !== undefined) console.log(`ratio ${label}: ${(x / y).toFixed(2)}x (${x.toFixed(0)} / ${y.toFixed(0)} msg/s)`);
};
ratio('postino-smtp', 'postfix-dovecot', 'Postino SMTP vs Postfix -> Dovecot LMTP (end to end)');
ratio('postino-lmtp', 'dovecot-lmtp', 'Postino LMTP vs Dovecot LMTP');
ratio('postfix-postino', 'postfix-dovecot', 'Postfix -> Postino LMTP vs Postfix -> Dovecot LMTP (end to end)');
const postinoRate = rates.get('postino-smtp');
if (postinoRate !== undefined) console.log(`target 800 msg/s for postino-smtp: ${postinoRate >= 800 ? 'met' : 'NOT met'} (${postinoRate.toFixed(0)})`);
