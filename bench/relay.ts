// Outbound throughput: messages/s through the sending half of Postino.
//
//   node dist/bench/relay.js [COUNT [CONNECTIONS]]       (defaults 2000, 8)
//
// 1. submission -> smarthost: COUNT messages of 4 KB, sent by an authenticated
//    user over CONNECTIONS submission connections (STARTTLS + AUTH PLAIN,
//    nodemailer's SMTPConnection, one message at a time on each) to a remote
//    address; `serve` queues each (fsynced before the 250) and relays it to
//    a sink smarthost that requires STARTTLS and AUTH. The connections are set up (STARTTLS, AUTH) before the
//    clock starts. Prints the rate of 250s at submission and the rate at
//    which the smarthost received them (from the first MAIL to the last DATA).
// 2. queue -> MX: COUNT messages queued while the recipient domain's MX (a sink,
//    found through the DNS fixture) is down; then the sink starts and
//    `postino queue flush` is run. Prints the rate at which the queue empties
//    into the MX.
// Both with DKIM signing on (a key made with `postino dkim keygen`) and fsync on.
// BENCH_ONLY=submission|mx runs one phase only.
// BENCH_PROFILE=DIR writes a V8 CPU profile of each server there;
// BENCH_NODE_FLAGS passes node flags to serve (--perf-basic-prof for perf).
// Each phase also prints the CPU time `serve` spent per message (all its
// threads, and its main thread alone, from /proc): a figure a loaded machine
// disturbs far less than msg/s.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { startServe, type Served } from '../test/support/serve.js';
import { postino } from '../test/support/cli.js';
import { cliPath } from '../test/support/paths.js';
import { startDnsFixture } from '../test/support/dns-fixture.js';
import { startSink, type Sink } from '../test/support/sink-smtp.js';
import { makeMessage } from '../test/support/messages.js';
import { freePort } from '../test/support/free-port.js';
import { SERVICES } from '../src/config.js';
import { makeScratchDir, removeScratch } from './scratch.js';

const COUNT = Number(process.argv[2] ?? 2000);
const CONNECTIONS = Number(process.argv[3] ?? 8);
const USER = 'sender@example.test';
const PASSWORD = 'violet-harbor-93-quartz';
const RELAY_AUTH = { username: 'relay-user', password: 'relay-secret-42' };

/** A 4 KB message from the submitting user (submission checks the From header). */
function message(i: number): Buffer {
  const raw = makeMessage(`relay-${i}`).toString('latin1');
  return Buffer.from(raw.replace('From: Sender <sender@remote.test>', `From: Sender <${USER}>`).replace('To: user@example.test', `To: rcpt${i % 50}@remote.test`), 'latin1');
}

/** The bench sends far more than a user's default limits allow. */
const UNLIMITED = { submission: { limits: { messagesPerHour: 10_000_000, recipientsPerDay: 10_000_000 } } };

function prepare(dir: string, config: Record<string, unknown>): void {
  writeFileSync(path.join(dir, 'postino.json'), JSON.stringify({ ...UNLIMITED, ...config }));
  const cli = (args: string[], stdin?: string) => {
    const r = postino(dir, args, stdin);
    if (r.code !== 0) throw new Error(`postino ${args.join(' ')}: ${r.stderr}`);
  };
  cli(['domain', 'add', 'example.test', '--postmaster', USER, '--password-stdin'], `${PASSWORD}\n`);
  cli(['dkim', 'keygen', 'example.test']);
}

async function serve(dir: string): Promise<{ served: Served; submissionPort: number }> {
  const env = { ...Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0'])), POSTINO_DEMO: '0' };
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  // E.g. BENCH_NODE_FLAGS=--perf-basic-prof, for `perf record -p` on serve.
  profile.push(...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean));
  const served = startServe(process.execPath, [...profile, cliPath, 'serve', '--data', dir], env);
  const submissionPort = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'submission')).port);
  await served.waitFor((e) => e.event === 'ready');
  return { served, submissionPort };
}

/** CPU ms (user + system, every thread) the process has used so far; NaN where /proc is missing. */
function cpuMs(pid: number | undefined): number {
  const { user, system } = cpuSplit(pid);
  return user + system;
}

/** CPU ms per kind of thread (the thread's name: the main thread, libuv's pool, V8's, workers); empty where /proc is missing. */
function cpuByThread(pid: number | undefined): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const name = tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const { user, system } = cpuSplit(pid, `/proc/${pid}/task/${tid}/stat`);
      out.set(name, (out.get(name) ?? 0) + user + system);
    }
  } catch {
    // a thread ended meanwhile, or no /proc
  }
  return out;
}

/** "main 1.20, libuv-worker 0.90, ..." ms per message between two cpuByThread readings. */
function threadShares(before: Map<string, number>, after: Map<string, number>): string {
  return [...after]
    .map(([name, ms]) => [name, (ms - (before.get(name) ?? 0)) / COUNT] as const)
    .filter(([, perMessage]) => perMessage >= 0.01)
    .sort((a, b) => b[1] - a[1])
    .map(([name, perMessage]) => `${name} ${perMessage.toFixed(2)}`)
    .join(', ');
}

/** CPU ms of the process's main thread alone (its event loop: what one core caps). */
function mainThreadMs(pid: number | undefined): number {
  const { user, system } = cpuSplit(pid, `/proc/${pid}/task/${pid}/stat`);
  return user + system;
}

/** The same, user and system apart (the kernel's share: file creation, fsync, sockets). */
function cpuSplit(pid: number | undefined, file = `/proc/${pid}/stat`): { user: number; system: number } {
  try {
    const stat = readFileSync(file, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return { user: (Number(fields[11]) * 1000) / 100, system: (Number(fields[12]) * 1000) / 100 };
  } catch {
    return { user: NaN, system: NaN };
  }
}

/** One submission connection, set up: STARTTLS (required) and AUTH PLAIN as USER. */
async function openSubmission(port: number): Promise<SMTPConnection> {
  const conn = new SMTPConnection({ host: '127.0.0.1', port, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, logger: false });
  conn.on('error', () => undefined); // a failure is seen by the call it breaks
  await new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(err) : resolve())));
  await new Promise<void>((resolve, reject) => conn.login({ user: USER, pass: PASSWORD }, (err) => (err ? reject(err) : resolve())));
  return conn;
}

/**
 * Sends COUNT messages (built beforehand: making them is the bench's work,
 * not serve's) over `connections` (set up beforehand: STARTTLS and AUTH,
 * whose scrypt costs serve a fixed ~80 ms of CPU per connection, are not
 * what a message costs), each sending its next message as soon as the last
 * one got its 250; resolves with the seconds taken. nodemailer's
 * SMTPConnection, not its Mailer: the Mailer's per-message composing cost
 * this machine's shared CPU a fifth of a millisecond per message.
 */
async function submit(connections: SMTPConnection[], messages: Buffer[]): Promise<number> {
  const start = process.hrtime.bigint();
  let next = 0;
  const worker = async (conn: SMTPConnection) => {
    while (next < messages.length) {
      const i = next++;
      await new Promise<void>((resolve, reject) =>
        conn.send({ from: USER, to: [`rcpt${i % 50}@remote.test`] }, messages[i]!, (err, info) => (err ? reject(err) : info.rejected.length > 0 ? reject(new Error(`refused: ${info.response}`)) : resolve())),
      );
    }
  };
  await Promise.all(connections.map(worker));
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** CONNECTIONS submission connections, set up at once; resolves with them and the seconds taken. */
async function connect(port: number): Promise<{ connections: SMTPConnection[]; seconds: number }> {
  const start = process.hrtime.bigint();
  const connections = await Promise.all(Array.from({ length: CONNECTIONS }, () => openSubmission(port)));
  return { connections, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

async function untilReceived(sink: Sink, count: number): Promise<void> {
  await sink.waitForMessages(count, 600_000);
}

async function submissionToSmarthost(): Promise<void> {
  const messages = Array.from({ length: COUNT }, (_, i) => message(i));
  const sink = await startSink({ tls: 'starttls', requireTls: true, auth: RELAY_AUTH });
  const dir = makeScratchDir('relay-smarthost');
  const ca = path.join(dir, 'sink-ca.pem');
  writeFileSync(ca, sink.cert);
  prepare(dir, { relay: { smarthost: { host: '127.0.0.1', port: sink.port, tls: 'starttls', ...RELAY_AUTH, ca } } });
  const { served, submissionPort } = await serve(dir);
  try {
    const { connections, seconds: setup } = await connect(submissionPort);
    const cpuBefore = cpuMs(served.child.pid);
    const mainBefore = mainThreadMs(served.child.pid);
    const threadsBefore = cpuByThread(served.child.pid);
    const systemBefore = cpuSplit(served.child.pid).system;
    const ownBefore = process.cpuUsage();
    const start = process.hrtime.bigint();
    const submitted = await submit(connections, messages);
    for (const c of connections) c.quit();
    await untilReceived(sink, COUNT);
    const total = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu = cpuMs(served.child.pid) - cpuBefore;
    const main = mainThreadMs(served.child.pid) - mainBefore;
    const system = cpuSplit(served.child.pid).system - systemBefore;
    const own = process.cpuUsage(ownBefore);
    const signed = sink.messages.filter((m) => m.raw.includes('DKIM-Signature:')).length;
    console.log(`submission -> smarthost: ${COUNT} x 4 KB over ${CONNECTIONS} connections`);
    console.log(`  ${CONNECTIONS} connections set up (STARTTLS, AUTH) first, in ${setup.toFixed(2)} s; from then on:`);
    console.log(`  accepted at submission: ${(COUNT / submitted).toFixed(0)} msg/s (${submitted.toFixed(2)} s)`);
    console.log(`  received by smarthost:  ${(COUNT / total).toFixed(0)} msg/s (${total.toFixed(2)} s, ${sink.connections} connections, ${signed} DKIM-signed)`);
    console.log(`  serve's CPU: ${(cpu / COUNT).toFixed(2)} ms per message, ${(system / COUNT).toFixed(2)} of it in the kernel, ${(main / COUNT).toFixed(2)} on its main thread (${(cpu / 1000 / total).toFixed(2)} cores busy on average)`);
    console.log(`  serve's CPU by thread, ms per message: ${threadShares(threadsBefore, cpuByThread(served.child.pid))}`);
    console.log(`  the bench's own CPU (client and sink): ${((own.user + own.system) / 1000 / COUNT).toFixed(2)} ms per message`);
  } finally {
    await served.stop();
    await sink.stop();
  }
}

async function queueToMx(): Promise<void> {
  const messages = Array.from({ length: COUNT }, (_, i) => message(i));
  const dns = await startDnsFixture({ 'remote.test': { MX: [{ exchange: 'mx.remote.test', priority: 10 }] }, 'mx.remote.test': { A: ['127.0.0.1'] } });
  const mxPort = await freePort();
  const dir = makeScratchDir('relay-mx');
  prepare(dir, { dns: { servers: dns.servers }, relay: { mxPort, schedule: { retrySeconds: [3600] } } });
  const { served, submissionPort } = await serve(dir);
  let sink: Sink | undefined;
  try {
    // The MX is down: every message is tried once, deferred, and waits.
    const { connections } = await connect(submissionPort);
    await submit(connections, messages);
    for (const c of connections) c.quit();
    await served.waitFor(() => served.events.filter((e) => e.event === 'outbound-attempt').length >= COUNT, 600_000).catch(() => undefined);
    sink = await startSink({ tls: 'starttls', port: mxPort });
    const cpuBefore = cpuMs(served.child.pid);
    const mainBefore = mainThreadMs(served.child.pid);
    const threadsBefore = cpuByThread(served.child.pid);
    const start = process.hrtime.bigint();
    const r = postino(dir, ['queue', 'flush']);
    if (r.code !== 0) throw new Error(`queue flush: ${r.stderr}`);
    await untilReceived(sink, COUNT);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu = cpuMs(served.child.pid) - cpuBefore;
    const main = mainThreadMs(served.child.pid) - mainBefore;
    console.log(`queue -> MX: ${COUNT} x 4 KB queued, then flushed to the recipient's MX (STARTTLS, DNS fixture)`);
    console.log(`  received by MX: ${(COUNT / seconds).toFixed(0)} msg/s (${seconds.toFixed(2)} s, ${sink.connections} connections)`);
    console.log(`  serve's CPU: ${(cpu / COUNT).toFixed(2)} ms per message, ${(main / COUNT).toFixed(2)} on its main thread (${(cpu / 1000 / seconds).toFixed(2)} cores busy on average)`);
    console.log(`  serve's CPU by thread, ms per message: ${threadShares(threadsBefore, cpuByThread(served.child.pid))}`);
  } finally {
    await served.stop();
    await sink?.stop();
    await dns.close();
  }
}

// BENCH_ONLY=submission or BENCH_ONLY=mx runs one phase.
const only = process.env.BENCH_ONLY;
try {
  if (only !== 'mx') await submissionToSmarthost();
  if (only !== 'submission') await queueToMx();
} finally {
  removeScratch();
}
