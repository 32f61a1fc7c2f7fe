// Several nodes on one PostgreSQL (issue 17): the same loads against
//   sqlite      one `postino serve` on SQLite + Maildir (the embedded default)
//   pg-1        one node on PostgreSQL, bodies in a blob directory (storage.blobs)
//   pg-2        two nodes on the same PostgreSQL database, sharing that blob directory
//   pg-1-db, pg-2-db   the same with the bodies in PostgreSQL (no storage.blobs)
// all in one run, on one scratch PostgreSQL 15 cluster (test/support/postgres.ts)
// started durable (fsync and synchronous commits on, as SQLite's fsyncs are),
// a fresh database per setup.
//
// Loads, each spread over 8 accounts, lane i on account i and on node i mod nodes:
//   ingest  N messages of 4 KB over LMTP (no Sieve script, no sender checks:
//           the storage path), 8 sessions in all, pipelined (bench/smtp-client.ts),
//           after an untimed warm-up of N/10 (at most 200); clocked from the
//           first MAIL to the last 250, which Postino sends only once the message
//           is durable; then every INBOX is counted over IMAP on the last node.
//   imap    8 clients over IMAPS, each looping on its account's INBOX:
//           SELECT, FETCH of FLAGS and ENVELOPE of 20 messages, FETCH BODY[] of
//           one, STORE +FLAGS/-FLAGS \Flagged, SEARCH FLAGGED, NOOP; for SECONDS.
// For each: rate, CPU per message (or command) of each node (all threads,
// from /proc) and of PostgreSQL (the scratch cluster's processes), and how
// busy the machine's cores were. Then the ratios, and the projected scaling
// of two nodes when each has cores of its own (see the end of the output).
//
// usage: node dist/bench/pg-nodes.js [N [SECONDS]]   (default 1000 messages, 8 s of IMAP)
// BENCH_SETUPS=sqlite,pg-1,pg-2 runs only those (default: all five).
// BENCH_PROFILE=DIR writes a V8 CPU profile of each node there (SETUP-nodeK.cpuprofile).
// BENCH_DIR: scratch root (give each run its own); BENCH_KEEP=1 keeps the scratch.
import tls from 'node:tls';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cpuTimes, processTable } from './proc-cpu.js';
import { makeMessage } from '../test/support/messages.js';
import { startServe, type Served } from '../test/support/serve.js';
import { openConfiguredStorage } from '../storage/index.js';
import { AdminService } from '../src/services/admin.js';
import type { PostgresStorage } from '../storage/postgres/index.js';
import { cliPath } from '../test/support/paths.js';
import { startDnsFixture, type DnsFixture } from '../test/support/dns-fixture.js';
import { startPostgres, type PostgresCluster } from '../test/support/postgres.js';
import { SERVICES } from '../src/config.js';
import { makeScratchDir, removeScratch, waitForQuietDisk } from './scratch.js';
import { machineCpu, measureLoad, type LoadResult } from './smtp-client.js';

const count = Number(process.argv[2] ?? 1000);
const seconds = Number(process.argv[3] ?? 8);
if (!Number.isInteger(count) || count < 8 || !(seconds > 0)) {
  console.error('usage: node dist/bench/pg-nodes.js [N [SECONDS]]   (N >= 8)');
  process.exit(2);
}
const SESSIONS = 8;
const DOMAIN = 'example.test';
const ACCOUNTS = Array.from({ length: SESSIONS }, (_, i) => `bench${i + 1}@${DOMAIN}`);
const PASSWORD = 'bench-password-Quokka-7';
const FROM = 'sender@remote.test';
const HELO = 'bench.remote.test';
const WARMUP = Math.min(200, Math.floor(count / 10));

interface SetupSpec {
  name: string;
  nodes: number;
  backend: 'sqlite' | 'postgres';
  /** Bodies in a shared blob directory (PostgreSQL only). */
  blobs: boolean;
}
const ALL_SETUPS: SetupSpec[] = [
  { name: 'sqlite', nodes: 1, backend: 'sqlite', blobs: false },
  { name: 'pg-1', nodes: 1, backend: 'postgres', blobs: true },
  { name: 'pg-2', nodes: 2, backend: 'postgres', blobs: true },
  { name: 'pg-1-db', nodes: 1, backend: 'postgres', blobs: false },
  { name: 'pg-2-db', nodes: 2, backend: 'postgres', blobs: false },
];
const wanted = process.env.BENCH_SETUPS?.split(',').map((s) => s.trim());
const setups = wanted ? ALL_SETUPS.filter((s) => wanted.includes(s.name)) : ALL_SETUPS;
if (wanted && setups.length !== wanted.length) {
  console.error(`BENCH_SETUPS: known setups are ${ALL_SETUPS.map((s) => s.name).join(', ')}`);
  process.exit(2);
}

// ---------------------------------------------------------------- CPU from /proc

const cpuOf = (pid: number) => cpuTimes(pid).all;

/** The scratch cluster's postmaster: the `postgres` process started with port=PORT. */
function postmasterOf(port: number): number {
  for (const p of processTable()) {
    if (p.comm !== 'postgres') continue;
    try {
      const args = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0');
      if (args.includes(`port=${port}`)) return p.pid;
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no postgres process with port=${port}`);
}

/** CPU seconds of the whole cluster: the postmaster (with the backends it has reaped) and its live children. */
function clusterCpu(postmaster: number): number {
  let sum = cpuOf(postmaster);
  for (const p of processTable()) if (p.ppid === postmaster) sum += cpuOf(p.pid);
  return sum;
}

interface CpuSnapshot {
  nodes: number[];
  nodesKernel: number[];
  pg: number;
  machine: { busy: number; idle: number } | undefined;
  client: NodeJS.CpuUsage;
}

// ---------------------------------------------------------------- a small IMAPS client

/** One IMAPS session: commands one at a time, replies read up to their tagged line (buffer trimmed as it goes). */
class ImapSession {
  private buffer = '';
  private scanFrom = 0;
  private wake: (() => void) | undefined;
  private closed = false;
  private tagNo = 0;

  private constructor(private readonly socket: tls.TLSSocket) {
    socket.on('data', (d: Buffer) => {
      this.buffer += d.toString('latin1');
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static async open(port: number, user: string): Promise<ImapSession> {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    const s = new ImapSession(socket);
    await s.until(/^\* OK[^\r\n]*\r\n/);
    const r = await s.cmd(`LOGIN "${user}" "${PASSWORD}"`);
    if (!r.ok) throw new Error(`LOGIN ${user}: ${r.text.slice(-300)}`);
    return s;
  }

  /** Waits until the buffer matches `re` (anchored where the caller needs it); returns the text through the match. */
  private async until(re: RegExp, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.buffer);
      if (m) {
        const end = m.index + m[0].length;
        const text = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end);
        this.scanFrom = 0;
        return text;
      }
      if (this.closed) throw new Error(`connection closed; got ${JSON.stringify(this.buffer.slice(-300))}`);
      if (Date.now() > deadline) throw new Error(`no reply in ${timeoutMs} ms; got ${JSON.stringify(this.buffer.slice(-300))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        this.wake = () => {
          clearTimeout(t);
          this.wake = undefined;
          resolve();
        };
      });
    }
  }

  /** Sends one command; resolves at its tagged reply. */
  async cmd(command: string): Promise<{ ok: boolean; text: string }> {
    const tag = `b${++this.tagNo}`;
    this.socket.write(`${tag} ${command}\r\n`);
    const marker = `${tag} `;
    const deadline = Date.now() + 30_000;
    for (;;) {
      // The tagged line starts the buffer or follows a CRLF; each byte is scanned about once.
      let at = -1;
      if (this.buffer.startsWith(marker)) at = 0;
      else {
        const i = this.buffer.indexOf(`\r\n${marker}`, this.scanFrom);
        if (i >= 0) at = i + 2;
      }
      const eol = at >= 0 ? this.buffer.indexOf('\r\n', at) : -1;
      if (eol >= 0) {
        const text = this.buffer.slice(0, eol + 2);
        this.buffer = this.buffer.slice(eol + 2);
        this.scanFrom = 0;
        return { ok: text.startsWith(`${tag} OK`, at), text };
      }
      this.scanFrom = at >= 2 ? at - 2 : Math.max(0, this.buffer.length - marker.length - 2);
      if (this.closed) throw new Error(`connection closed during ${command}`);
      if (Date.now() > deadline) throw new Error(`no reply to ${command} in 30 s`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        this.wake = () => {
          clearTimeout(t);
          this.wake = undefined;
          resolve();
        };
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------- a setup's nodes

interface Node {
  served: Served;
  pid: number;
  lmtp: number;
  imaps: number;
}

interface RunningSetup {
  nodes: Node[];
  /** The cluster's postmaster pid (PostgreSQL setups). */
  postmaster: number | undefined;
  stop(): Promise<void>;
}

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));

async function startSetup(spec: SetupSpec, dns: DnsFixture, cluster: PostgresCluster | undefined): Promise<RunningSetup> {
  let storage: Record<string, string> | undefined;
  if (spec.backend === 'postgres') {
    storage = { backend: 'postgres', url: await cluster!.createDatabase() };
    if (spec.blobs) storage.blobs = makeScratchDir(`blobs-${spec.name}-`);
  }
  const dirs = Array.from({ length: spec.nodes }, (_, i) => {
    const dir = makeScratchDir(`postino-bench-${spec.name}-${i + 1}-`);
    const config = { hostname: `mx${i + 1}.${DOMAIN}`, dns: { servers: dns.servers }, ...(storage ? { storage } : {}) };
    writeFileSync(path.join(dir, 'postino.json'), JSON.stringify(config, null, 2));
    return dir;
  });
  // The accounts, in process (a CLI run per account costs seconds on a busy machine); on PostgreSQL every node sees them.
  const store = await openConfiguredStorage(dirs[0]!, storage ? { backend: 'postgres', url: storage.url!, ...(storage.blobs ? { blobs: storage.blobs } : {}) } : { backend: 'sqlite' });
  try {
    const admin = new AdminService(store);
    const [first, ...rest] = ACCOUNTS;
    await admin.addDomain(DOMAIN, first!, { password: PASSWORD, allowWeak: false });
    await Promise.all(rest.map((address) => admin.addUser({ address, password: PASSWORD })));
    await store.mail.drain();
  } finally {
    if ('end' in store) await (store as PostgresStorage).end();
    else store.close();
  }
  const nodes: Node[] = [];
  const stop = async () => {
    for (const n of nodes) {
      const code = await n.served.stop();
      if (code !== 0) console.log(`  ${spec.name}: serve exited ${code}: ${n.served.stderr().slice(-2000)}`);
    }
  };
  try {
    // One after the other: the first runs the migrations.
    for (const dir of dirs) {
      const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`, `--cpu-prof-name=${spec.name}-node${nodes.length + 1}.cpuprofile`] : [];
      const served = startServe(process.execPath, [...profile, cliPath, 'serve', '--data', dir], { ...freePorts, POSTINO_DEMO: '0' });
      nodes.push({ served, pid: served.child.pid!, lmtp: 0, imaps: 0 });
      await served.waitFor((e) => e.event === 'ready', 60_000);
      const port = (service: string) => {
        const e = served.events.find((x) => x.event === 'listening' && x.service === service);
        if (!e) throw new Error(`serve has no ${service} listener`);
        return Number(e.port);
      };
      nodes[nodes.length - 1]!.lmtp = port('lmtp');
      nodes[nodes.length - 1]!.imaps = port('imaps');
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, postmaster: cluster && spec.backend === 'postgres' ? postmasterOf(cluster.port) : undefined, stop };
}

function snapshot(setup: RunningSetup): CpuSnapshot {
  return {
    nodes: setup.nodes.map((n) => cpuOf(n.pid)),
    nodesKernel: setup.nodes.map((n) => cpuTimes(n.pid).kernel),
    pg: setup.postmaster ? clusterCpu(setup.postmaster) : 0,
    machine: machineCpu(),
    client: process.cpuUsage(),
  };
}

interface Measured {
  rate: number;
  seconds: number;
  units: number;
  /** ms of CPU per unit, per node */
  nodeMs: number[];
  /** of which in the kernel (file and socket I/O, fsync) */
  nodeKernelMs: number[];
  pgMs: number;
  clientMs: number;
  /** % of the machine's cores busy */
  busy: number;
}

function measured(units: number, secs: number, a: CpuSnapshot, b: CpuSnapshot): Measured {
  const per = (s: number) => (s * 1000) / units;
  const client = process.cpuUsage(a.client);
  let busy = NaN;
  if (a.machine && b.machine) {
    const used = b.machine.busy - a.machine.busy;
    busy = (100 * used) / (used + b.machine.idle - a.machine.idle);
  }
  return {
    rate: units / secs,
    seconds: secs,
    units,
    nodeMs: b.nodes.map((x, i) => per(x - a.nodes[i]!)),
    nodeKernelMs: b.nodesKernel.map((x, i) => per(x - a.nodesKernel[i]!)),
    pgMs: per(b.pg - a.pg),
    clientMs: per((client.user + client.system) / 1e6),
    busy,
  };
}

// ---------------------------------------------------------------- the loads

const messages = Array.from({ length: count + WARMUP }, (_, i) => makeMessage(`pg-nodes-${i}`, 4096));

/** Sends `batch` over the 8 lanes (lane i: account i on node i mod nodes); resolves when every message has its 250. */
async function sendOver(setup: RunningSetup, batch: Buffer[]): Promise<LoadResult[]> {
  return Promise.all(
    ACCOUNTS.map((rcpt, lane) =>
      measureLoad({
        port: setup.nodes[lane % setup.nodes.length]!.lmtp,
        lmtp: true,
        rcpt,
        messages: batch.filter((_, i) => i % SESSIONS === lane),
        connections: 1,
        from: FROM,
        helo: HELO,
      }),
    ),
  );
}

async function ingest(setup: RunningSetup): Promise<Measured> {
  const warm = await sendOver(setup, messages.slice(count));
  const warmFailed = warm.reduce((n, r) => n + r.failed, 0);
  if (warmFailed > 0) throw new Error(`warm-up: ${warmFailed} refused: ${warm.flatMap((r) => r.errors).slice(0, 3).join(' | ')}`);
  const a = snapshot(setup);
  const t0 = process.hrtime.bigint();
  const results = await sendOver(setup, messages.slice(0, count));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const b = snapshot(setup);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  if (failed > 0) throw new Error(`${failed} of ${count} refused: ${results.flatMap((r) => r.errors).slice(0, 3).join(' | ')}`);
  // Every accepted message is there, seen from the last node.
  const last = setup.nodes[setup.nodes.length - 1]!;
  let stored = 0;
  for (const address of ACCOUNTS) {
    const s = await ImapSession.open(last.imaps, address);
    const r = await s.cmd('STATUS INBOX (MESSAGES)');
    s.close();
    stored += Number(/MESSAGES (\d+)/.exec(r.text)?.[1] ?? NaN);
  }
  if (stored !== count + WARMUP) throw new Error(`${count + WARMUP} messages accepted, ${stored} in the INBOXes`);
  return measured(count, secs, a, b);
}

async function imapLoad(setup: RunningSetup): Promise<Measured & { latency: string }> {
  const clients = await Promise.all(ACCOUNTS.map((a, i) => ImapSession.open(setup.nodes[i % setup.nodes.length]!.imaps, a)));
  const inbox = Math.floor((count + WARMUP) / SESSIONS); // every INBOX holds at least this many
  let commands = 0;
  const refusals: string[] = [];
  const byKind = new Map<string, { n: number; ms: number }>();
  const a = snapshot(setup);
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(
    clients.map(async (c, ci) => {
      const run = async (kind: string, command: string) => {
        const t = performance.now();
        const r = await c.cmd(command);
        const k = byKind.get(kind) ?? { n: 0, ms: 0 };
        k.n++;
        k.ms += performance.now() - t;
        byKind.set(kind, k);
        if (!r.ok && refusals.length < 5) refusals.push(`${command}: ${r.text.slice(-200).trim()}`);
        commands++;
      };
      for (let loop = 0; Date.now() < deadline; loop++) {
        const k = ((loop * 7 + ci * 13) % inbox) + 1;
        const from = Math.max(1, Math.min(k, inbox - 19));
        await run('SELECT', 'SELECT INBOX');
        await run('FETCH env', `FETCH ${from}:${Math.min(inbox, from + 19)} (FLAGS ENVELOPE)`);
        await run('FETCH body', `FETCH ${k} BODY[]`);
        await run('STORE', `STORE ${k} ${loop % 2 ? '-' : '+'}FLAGS.SILENT (\\Flagged)`);
        await run('SEARCH', 'SEARCH FLAGGED');
        await run('NOOP', 'NOOP');
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const b = snapshot(setup);
  for (const c of clients) c.close();
  if (refusals.length > 0) throw new Error(`IMAP commands refused: ${refusals.join(' | ')}`);
  return { ...measured(commands, secs, a, b), latency: [...byKind].map(([kind, k]) => `${kind} ${f(k.ms / k.n, 1)}`).join(', ') };
}

// ---------------------------------------------------------------- main

const f = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const nodeCpu = (m: Measured) => m.nodeMs.map((x) => f(x)).join(' + ');
const kernelCpu = (m: Measured) => m.nodeKernelMs.map((x) => f(x)).join(' + ');

console.log(
  `pg-nodes bench: ingest ${count} messages of 4 KB over LMTP (8 sessions, 8 accounts, warm-up ${WARMUP}), ` +
    `then ${seconds} s of IMAP from 8 IMAPS clients; setups ${setups.map((s) => s.name).join(', ')}; this machine has ${(await import('node:os')).cpus().length} cores`,
);
await waitForQuietDisk();
const dns = await startDnsFixture({
  'remote.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'], MX: [{ exchange: 'mx.remote.test', priority: 10 }], A: ['127.0.0.1'] },
  [HELO]: { TXT: ['v=spf1 ip4:127.0.0.1 -all'], A: ['127.0.0.1'] },
  '1.0.0.127.in-addr.arpa': { PTR: ['localhost'] },
  localhost: { A: ['127.0.0.1'] },
});
const results = new Map<string, { ingest: Measured; imap: Measured }>();
let cluster: PostgresCluster | undefined;
try {
  if (setups.some((s) => s.backend === 'postgres')) cluster = await startPostgres({ durable: true });
  for (const spec of setups) {
    const started = Date.now();
    const setup = await startSetup(spec, dns, cluster);
    console.log(`${spec.name.padEnd(8)} ${spec.nodes} node(s) ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    try {
      const ing = await ingest(setup);
      console.log(
        `${spec.name.padEnd(8)} ingest ${f(ing.rate, 0).padStart(5)} msg/s (${f(ing.seconds)} s); CPU ms/msg: node ${nodeCpu(ing)} (kernel ${kernelCpu(ing)}), PostgreSQL ${f(ing.pgMs)}, bench client ${f(ing.clientMs)}; cores ${f(ing.busy, 0)}% busy`,
      );
      const imap = await imapLoad(setup);
      console.log(
        `${spec.name.padEnd(8)} imap   ${f(imap.rate, 0).padStart(5)} cmd/s (${imap.units} commands); CPU ms/cmd: node ${nodeCpu(imap)} (kernel ${kernelCpu(imap)}), PostgreSQL ${f(imap.pgMs)}, bench client ${f(imap.clientMs)}; cores ${f(imap.busy, 0)}% busy`,
      );
      console.log(`${''.padEnd(15)} mean ms per command: ${imap.latency}`);
      results.set(spec.name, { ingest: ing, imap });
    } finally {
      await setup.stop();
    }
  }
} finally {
  await cluster?.stop();
  await dns.close();
  removeScratch();
}

console.log('');
console.log('setup     msg/s  node ms/msg        PG ms/msg   cmd/s  node ms/cmd        PG ms/cmd');
for (const [name, r] of results) {
  console.log(
    `${name.padEnd(8)} ${f(r.ingest.rate, 0).padStart(6)}  ${nodeCpu(r.ingest).padEnd(17)}  ${f(r.ingest.pgMs).padStart(9)}  ${f(r.imap.rate, 0).padStart(6)}  ${nodeCpu(r.imap).padEnd(17)}  ${f(r.imap.pgMs).padStart(9)}`,
  );
}
console.log("(node ms/msg: each node's CPU over all the setup's messages, so two nodes that split the work evenly show half each; PG: the cluster's processes)");
const ratio = (label: string, a: string, b: string) => {
  const x = results.get(a);
  const y = results.get(b);
  if (x && y) console.log(`${label.padEnd(40)} ingest ${f(x.ingest.rate / y.ingest.rate)}, imap ${f(x.imap.rate / y.imap.rate)}`);
};
console.log('');
ratio('two nodes / one PG node (blob dir):', 'pg-2', 'pg-1');
ratio('two nodes / one PG node (bodies in PG):', 'pg-2-db', 'pg-1-db');
ratio('one PG node / SQLite:', 'pg-1', 'sqlite');
ratio('one PG node, bodies in PG / SQLite:', 'pg-1-db', 'sqlite');
const project = (label: string, one: string, two: string) => {
  const x = results.get(one);
  const y = results.get(two);
  if (!x || !y) return;
  const scale = (m1: Measured, m2: Measured) => m1.nodeMs[0]! / Math.max(...m2.nodeMs);
  console.log(`${label.padEnd(40)} ingest ${f(scale(x.ingest, y.ingest))}, imap ${f(scale(x.imap, y.imap))}`);
};
console.log('');
project('projected scaling, blob dir:', 'pg-1', 'pg-2');
project('projected scaling, bodies in PG:', 'pg-1-db', 'pg-2-db');
if ((results.has('pg-1') && results.has('pg-2')) || (results.has('pg-1-db') && results.has('pg-2-db'))) {
  console.log(
    'projected scaling = one PG node\'s CPU per message / the busiest node\'s CPU per message (of all messages) with two nodes: ' +
      'the speed-up two nodes would give with cores of their own each, if PostgreSQL (its CPU per message above) keeps up.',
  );
}
