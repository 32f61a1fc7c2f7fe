// Outbound throughput: messages/s through the sending half of Postino.
//
//   node dist/bench/relay.js [COUNT [CONNECTIONS]]       (defaults 2000, 8)
//
// 1. submission -> smarthost: COUNT messages of 4 KB, sent by an authenticated
//    user over CONNECTIONS submission connections (STARTTLS + AUTH PLAIN,
//    nodemailer's pooled client) to a remote address; `serve` queues each
//    (fsynced before the 250) and relays it to a sink smarthost that requires
//    STARTTLS and AUTH. Prints the rate of 250s at submission and the rate at
//    which the smarthost received them (from the first MAIL to the last DATA).
// 2. queue -> MX: COUNT messages queued while the recipient domain's MX (a sink,
//    found through the DNS fixture) is down; then the sink starts and
//    `postino queue flush` is run. Prints the rate at which the queue empties
//    into the MX.
// Both with DKIM signing on (a key made with `postino dkim keygen`) and fsync on.
// BENCH_ONLY=submission|mx runs one phase only.
// BENCH_PROFILE=DIR writes a V8 CPU profile of each server there.
// Each phase also prints the CPU time `serve` spent per message (all its
// threads, from /proc): a figure a loaded machine disturbs far less than msg/s.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
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

/** The same, user and system apart (the kernel's share: file creation, fsync, sockets). */
function cpuSplit(pid: number | undefined): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return { user: (Number(fields[11]) * 1000) / 100, system: (Number(fields[12]) * 1000) / 100 };
  } catch {
    return { user: NaN, system: NaN };
  }
}

/** Sends COUNT messages over a pool of CONNECTIONS; resolves with the seconds taken. */
async function submit(port: number): Promise<number> {
  const client = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: USER, pass: PASSWORD },
    pool: true,
    maxConnections: CONNECTIONS,
    maxMessages: Infinity,
  });
  const start = process.hrtime.bigint();
  let next = 0;
  const worker = async () => {
    while (next < COUNT) {
      const i = next++;
      await client.sendMail({ envelope: { from: USER, to: [`rcpt${i % 50}@remote.test`] }, raw: message(i) });
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS * 2 }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  client.close();
  return seconds;
}

async function untilReceived(sink: Sink, count: number): Promise<void> {
  await sink.waitForMessages(count, 600_000);
}

async function submissionToSmarthost(): Promise<void> {
  const sink = await startSink({ tls: 'starttls', requireTls: true, auth: RELAY_AUTH });
  const dir = makeScratchDir('relay-smarthost');
  const ca = path.join(dir, 'sink-ca.pem');
  writeFileSync(ca, sink.cert);
  prepare(dir, { relay: { smarthost: { host: '127.0.0.1', port: sink.port, tls: 'starttls', ...RELAY_AUTH, ca } } });
  const { served, submissionPort } = await serve(dir);
  try {
    const cpuBefore = cpuMs(served.child.pid);
    const systemBefore = cpuSplit(served.child.pid).system;
    const ownBefore = process.cpuUsage();
    const start = process.hrtime.bigint();
    const submitted = await submit(submissionPort);
    await untilReceived(sink, COUNT);
    const total = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu = cpuMs(served.child.pid) - cpuBefore;
    const system = cpuSplit(served.child.pid).system - systemBefore;
    const own = process.cpuUsage(ownBefore);
    const signed = sink.messages.filter((m) => m.raw.includes('DKIM-Signature:')).length;
    console.log(`submission -> smarthost: ${COUNT} x 4 KB over ${CONNECTIONS} connections`);
    console.log(`  accepted at submission: ${(COUNT / submitted).toFixed(0)} msg/s (${submitted.toFixed(2)} s)`);
    console.log(`  received by smarthost:  ${(COUNT / total).toFixed(0)} msg/s (${total.toFixed(2)} s, ${sink.connections} connections, ${signed} DKIM-signed)`);
    console.log(`  serve's CPU: ${(cpu / COUNT).toFixed(2)} ms per message, ${(system / COUNT).toFixed(2)} of it in the kernel (${(cpu / 1000 / total).toFixed(2)} cores busy on average)`);
    console.log(`  the bench's own CPU (client and sink): ${((own.user + own.system) / 1000 / COUNT).toFixed(2)} ms per message`);
  } finally {
    await served.stop();
    await sink.stop();
  }
}

async function queueToMx(): Promise<void> {
  const dns = await startDnsFixture({ 'remote.test': { MX: [{ exchange: 'mx.remote.test', priority: 10 }] }, 'mx.remote.test': { A: ['127.0.0.1'] } });
  const mxPort = await freePort();
  const dir = makeScratchDir('relay-mx');
  prepare(dir, { dns: { servers: dns.servers }, relay: { mxPort, schedule: { retrySeconds: [3600] } } });
  const { served, submissionPort } = await serve(dir);
  let sink: Sink | undefined;
  try {
    // The MX is down: every message is tried once, deferred, and waits.
    await submit(submissionPort);
    await served.waitFor(() => served.events.filter((e) => e.event === 'outbound-attempt').length >= COUNT, 600_000).catch(() => undefined);
    sink = await startSink({ tls: 'starttls', port: mxPort });
    const cpuBefore = cpuMs(served.child.pid);
    const start = process.hrtime.bigint();
    const r = postino(dir, ['queue', 'flush']);
    if (r.code !== 0) throw new Error(`queue flush: ${r.stderr}`);
    await untilReceived(sink, COUNT);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu = cpuMs(served.child.pid) - cpuBefore;
    console.log(`queue -> MX: ${COUNT} x 4 KB queued, then flushed to the recipient's MX (STARTTLS, DNS fixture)`);
    console.log(`  received by MX: ${(COUNT / seconds).toFixed(0)} msg/s (${seconds.toFixed(2)} s, ${sink.connections} connections)`);
    console.log(`  serve's CPU: ${(cpu / COUNT).toFixed(2)} ms per message (${(cpu / 1000 / seconds).toFixed(2)} cores busy on average)`);
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
