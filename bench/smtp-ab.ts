// A/B ingest bench: the same load against two (or more) builds of Postino,
// and optionally Dovecot's LMTP, in alternating rounds, so that the machine's
// ups and downs (other jobs on a shared 2-core box) fall on every side alike.
// Single runs of bench/smtp.ts here differ by 10-20% from one to the next;
// the median of per-round ratios is what to compare.
//
// usage: node dist/bench/smtp-ab.js [COUNT [CONNECTIONS]] --builds LIST [--rounds N] [--targets smtp,lmtp] [--warmup N] [--no-sieve]
//   LIST: comma-separated checkouts, each with bin/postino.cjs and a built
//   dist/ (e.g. /work/wt/pre12-ingest,.), and/or "dovecot" (LMTP only:
//   Pigeonhole running the same script). The first is the base of the ratios.
//   COUNT: messages of 4 KB per round and target (default 1000);
//   CONNECTIONS 8; N rounds (default 10); warm-up 500 messages per target.
//   Each round runs the builds in turn for each target, in reverse order
//   every other round (ABBA), each build into its own server and data dir
//   (started once, with its own CLI), fsync on, the 20-rule Sieve script.
//
// Per round it prints msg/s and the server's CPU per message (user+kernel,
// from /proc: steadier than the rate under contention); at the end, per
// target, each build's medians and the median (min..max) of its per-round
// ratios to the first build.
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { makeMessage } from '../test/support/messages.js';
import { startServe, type Served } from '../test/support/serve.js';
import { fixturesDir } from '../test/support/paths.js';
import { startDnsFixture, type DnsFixture } from '../test/support/dns-fixture.js';
import { dovecotInstalled, startDovecotLmtp, type RunningDovecot } from '../test/support/dovecot-lmtp.js';
import { SERVICES } from '../src/config.js';
import { makeScratchDir, removeScratch, waitForQuietDisk } from './scratch.js';
import { measureLoad, processCpu } from './smtp-client.js';

const argv = process.argv.slice(2);
const VALUED = new Set(['--builds', '--rounds', '--targets', '--warmup']);
const positional = argv.filter((a, i) => !a.startsWith('--') && !VALUED.has(argv[i - 1] ?? ''));
function option(name: string): string | undefined {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const a = argv[i]!;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1];
}
const USAGE = 'usage: node dist/bench/smtp-ab.js [COUNT [CONNECTIONS]] --builds DIR1,DIR2[,dovecot] [--rounds N] [--targets smtp,lmtp] [--warmup N] [--no-sieve]';
const count = Number(positional[0] ?? 1000);
const connections = Number(positional[1] ?? 8);
const rounds = Number(option('rounds') ?? 10);
const warmup = Number(option('warmup') ?? 500);
const builds = (option('builds') ?? '').split(',').filter(Boolean);
const targets = (option('targets') ?? 'smtp,lmtp').split(',').filter(Boolean) as Array<'smtp' | 'lmtp'>;
const useSieve = !argv.includes('--no-sieve');
if (
  ![count, connections, rounds].every((n) => Number.isInteger(n) && n >= 1) ||
  !Number.isInteger(warmup) ||
  warmup < 0 ||
  builds.length < 1 ||
  targets.some((t) => t !== 'smtp' && t !== 'lmtp')
) {
  console.error(USAGE);
  process.exit(2);
}

const DOMAIN = 'example.test';
const FROM = 'sender@remote.test';
const HELO = 'bench.remote.test';
const RCPT = `ab@${DOMAIN}`;
const SCRIPT = path.join(fixturesDir, 'sieve', 'bench-20-rules.sieve');
const PASSWORD = 'bench-password-Quokka-7\n';

/** One system under test: its listening ports and the process whose CPU is counted. */
interface System {
  label: string;
  ports: Partial<Record<'smtp' | 'lmtp', number>>;
  pid: number | undefined;
  stop(): Promise<void>;
}

async function startBuild(dir: string, label: string, dns: DnsFixture): Promise<System> {
  const cli = path.join(path.resolve(dir), 'bin', 'postino.cjs');
  const dataDir = makeScratchDir('postino-bench-ab-');
  writeFileSync(path.join(dataDir, 'postino.json'), JSON.stringify({ hostname: 'mx.example.test', dns: { servers: dns.servers } }, null, 2));
  const run = (args: string[], stdin = '') => {
    const r = spawnSync(process.execPath, [cli, ...args, '--data', dataDir], { input: stdin, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${label}: postino ${args.join(' ')}: ${r.stderr}`);
  };
  run(['domain', 'add', DOMAIN, '--postmaster', RCPT, '--password-stdin'], PASSWORD);
  if (useSieve) run(['sieve', 'put', RCPT, 'bench', SCRIPT, '--activate']);
  const env = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
  const nodeArgs = (process.env.BENCH_SERVE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const served: Served = startServe(process.execPath, [...nodeArgs, cli, 'serve', '--data', dataDir], env);
  await served.waitFor((e) => e.event === 'ready', 60_000);
  const portOf = (service: string) => {
    const e = served.events.find((x) => x.event === 'listening' && x.service === service);
    return e ? Number(e.port) : undefined;
  };
  const ports: System['ports'] = {};
  for (const t of targets) {
    const p = portOf(t);
    if (p === undefined) throw new Error(`${label}: no ${t} listener`);
    ports[t] = p;
  }
  return {
    label,
    ports,
    pid: served.child.pid,
    async stop() {
      const code = await served.stop();
      if (code !== 0) console.log(`${label}: serve exited ${code}: ${served.stderr().slice(-2000)}`);
    },
  };
}

async function startDovecot(): Promise<System> {
  if (!dovecotInstalled()) throw new Error('dovecot (dovecot-core, dovecot-lmtpd) is not installed');
  const dc: RunningDovecot = await startDovecotLmtp({
    // A short name: Dovecot's unix sockets live under it (108 bytes at most).
    scratchRoot: makeScratchDir('dc-'),
    keep: true,
    users: [RCPT],
    ...(useSieve ? { sieveScript: readFileSync(SCRIPT, 'utf8') } : {}),
  });
  // Dovecot forks its lmtp workers: their CPU is not one pid's, so none is counted.
  return { label: 'dovecot', ports: { lmtp: dc.lmtpPort }, pid: undefined, stop: () => dc.stop() };
}

interface Sample {
  rate: number;
  /** server CPU ms per message, NaN when not measured */
  cpu: number;
  failed: number;
}

let tag = 0;
const messages = (n: number) => Array.from({ length: n }, () => makeMessage(`ab-${tag++}`, 4096));

async function sample(sys: System, target: 'smtp' | 'lmtp', n: number): Promise<Sample> {
  const port = sys.ports[target]!;
  const cpu0 = processCpu(sys.pid);
  const r = await measureLoad({ port, lmtp: target === 'lmtp', rcpt: RCPT, messages: messages(n), connections, from: FROM, helo: HELO });
  const cpu1 = processCpu(sys.pid);
  const cpu = cpu0 && cpu1 ? ((cpu1.user + cpu1.system - cpu0.user - cpu0.system) * 1000) / Math.max(1, r.sent) : NaN;
  if (r.failed > 0) console.log(`  ${sys.label} ${target}: ${r.failed} FAILED, e.g. ${r.errors.join(' | ').replace(/\s+/g, ' ')}`);
  return { rate: r.sent / r.seconds, cpu, failed: r.failed };
}

const median = (xs: number[]) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

// ---------------------------------------------------------------- main

console.log(
  `smtp A/B bench: ${rounds} rounds of ${count} messages of 4 KB per target over ${connections} connections, ` +
    `${useSieve ? '20-rule Sieve script' : 'no Sieve'}, targets ${targets.join(', ')}, builds ${builds.join(', ')}`,
);
await waitForQuietDisk();
const dns = await startDnsFixture({
  'remote.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'], MX: [{ exchange: 'mx.remote.test', priority: 10 }], A: ['127.0.0.1'] },
  [HELO]: { TXT: ['v=spf1 ip4:127.0.0.1 -all'], A: ['127.0.0.1'] },
  '_dmarc.remote.test': { TXT: ['v=DMARC1; p=none'] },
  '1.0.0.127.in-addr.arpa': { PTR: ['localhost'] },
  localhost: { A: ['127.0.0.1'] },
});
const systems: System[] = [];
try {
  const labels = builds.map((b, i) => (b === 'dovecot' ? 'dovecot' : `${String.fromCharCode(65 + i)}:${path.basename(path.resolve(b))}`));
  for (const [i, b] of builds.entries()) systems.push(b === 'dovecot' ? await startDovecot() : await startBuild(b, labels[i]!, dns));
  const samples = new Map<string, Sample[]>();
  const key = (s: System, t: string) => `${s.label} ${t}`;
  for (const t of targets) {
    for (const s of systems) {
      samples.set(key(s, t), []);
      if (s.ports[t] !== undefined && warmup > 0) await sample(s, t, warmup);
    }
  }
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 ? systems : [...systems].reverse();
    for (const t of targets) {
      const line: string[] = [];
      const got = new Map<System, Sample>();
      for (const s of order) {
        if (s.ports[t] === undefined) continue;
        const x = await sample(s, t, count);
        got.set(s, x);
        samples.get(key(s, t))!.push(x);
      }
      for (const s of systems) {
        const x = got.get(s);
        if (x) line.push(`${s.label} ${x.rate.toFixed(0)} msg/s${Number.isNaN(x.cpu) ? '' : ` ${x.cpu.toFixed(2)} ms CPU`}`);
      }
      const base = got.get(systems[0]!);
      const ratios = base ? systems.slice(1).flatMap((s) => (got.has(s) ? [`${(got.get(s)!.rate / base.rate).toFixed(3)}`] : [])) : [];
      console.log(`round ${String(round).padStart(2)} ${t}: ${line.join(', ')}${ratios.length ? `; rate ratios to ${systems[0]!.label}: ${ratios.join(', ')}` : ''}`);
    }
  }
  console.log('\nmedians');
  for (const t of targets) {
    const base = samples.get(key(systems[0]!, t))!;
    for (const s of systems) {
      const xs = samples.get(key(s, t))!;
      if (xs.length === 0) continue;
      const failed = xs.reduce((n, x) => n + x.failed, 0);
      let text = `${t} ${s.label.padEnd(24)} ${median(xs.map((x) => x.rate)).toFixed(0)} msg/s`;
      const cpu = median(xs.map((x) => x.cpu));
      if (!Number.isNaN(cpu)) text += `, server CPU ${cpu.toFixed(3)} ms/msg`;
      if (s !== systems[0] && base.length === xs.length) {
        const rates = xs.map((x, i) => x.rate / base[i]!.rate);
        text += `; rate ratio to ${systems[0]!.label}: median ${median(rates).toFixed(3)} (${Math.min(...rates).toFixed(3)}..${Math.max(...rates).toFixed(3)})`;
        const cpus = xs.map((x, i) => x.cpu / base[i]!.cpu);
        if (!Number.isNaN(median(cpus))) text += `, CPU ratio median ${median(cpus).toFixed(3)}`;
      }
      if (failed > 0) text += `, ${failed} FAILED`;
      console.log(text);
    }
  }
} finally {
  for (const s of systems) await s.stop();
  await dns.close();
  removeScratch();
}
