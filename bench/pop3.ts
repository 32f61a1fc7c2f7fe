// POP3 RETR throughput against a real `postino serve` and, in the same run,
// Dovecot's POP3 (the Debian package, scratch config, high port): 10,000
// messages of 4 KB downloaded by one client with RETR pipelined (a window
// of commands in flight), over plain TCP so both servers do the same work.
// Both servers stay up and are measured in alternating rounds (ABBA order,
// BENCH_ROUNDS of them, default 3): this machine is noisy, and a ratio of
// neighbours in time says more than one of two runs minutes apart. Prints
// messages/s and MB/s for each round and the medians, the ratio per round,
// and how many reads the client made per message (about one per server
// write: a server that writes each reply on its own wakes the client once
// per message). The first round is the first download (RETR sets \Seen:
// Dovecot stores the flags at QUIT, Postino at QUIT or a second after the
// first RETR not stored yet; the "with QUIT" figures count that); later
// rounds download seen mail.
// Each round also prints the server's CPU time per message while the RETRs
// ran (all its threads, from /proc/PID/task/*/schedstat): Postino's `serve`
// process, and the pop3 process Dovecot started for the session; for
// Postino, split into the main thread and the others (V8's GC and compiler
// helpers, reader threads). CPU per message is steadier than a rate on a
// loaded machine. The client's own CPU per message follows (this process):
// on two cores, what it leaves is what a server's other threads can have,
// so the client is kept cheap (see Downloader). Before the rounds, each server is warmed up the same way
// (see warmUp: TOP passes, no \Seen).
// Dovecot's pop3 here (2.3, Debian 12) slows to about a quarter from the
// fourth download of the same mailbox on (some 60 µs of user CPU per message
// instead of 14): with BENCH_ROUNDS above 3 its later rounds are not its
// best, and ratios from them flatter Postino.
// The scratch directories are removed at the end (BENCH_KEEP=1 keeps them).
// BENCH_NODE_ARGS adds node options to `postino serve` (e.g. "--cpu-prof
// --cpu-prof-dir=/tmp/prof" to profile it).
// usage: node dist/bench/pop3.js [COUNT]
import { chownSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { openStorage } from '../storage/index.js';
import { indexMessageJson } from '../mime/index.js';
import { AdminService } from '../src/services/admin.js';
import { SERVICES } from '../src/config.js';
import { makeMessage } from '../test/support/messages.js';
import { startServe, type Served } from '../test/support/serve.js';
import { cliPath } from '../test/support/paths.js';
import { freePort } from '../test/support/free-port.js';
import { dovecotInstalled, startDovecotLmtp, type RunningDovecot } from '../test/support/dovecot-lmtp.js';
import { makeScratchDir, removeScratch, waitForQuietDisk } from './scratch.js';

const count = Number(process.argv[2] ?? 10_000);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const USER = 'bench@example.test';
const PASSWORD = 'correct horse staple 1234';
const WINDOW = 64;
const PLUS = 0x2b;
/** The account downloaded to warm up (see warmUp), its messages, and how many times (BENCH_WARM_PASSES; 0: none). */
const WARM_USER = 'warm@example.test';
const WARM_COUNT = Math.min(count, 3000);
const WARM_PASSES = Number(process.env.BENCH_WARM_PASSES ?? 10);

await waitForQuietDisk();
const dir = makeScratchDir('postino-bench-pop3-');
const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * CPU time of a process: all its threads (ns), the main thread's (ns), and
 * user and system time (clock ticks, all threads); undefined when it cannot
 * be read (gone, not Linux).
 */
type Cpu = { ns: number; mainNs: number; userTicks: number; sysTicks: number };
function cpuOf(pid: number): Cpu | undefined {
  try {
    let ns = 0;
    let mainNs = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const t = Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
      ns += t;
      if (Number(task) === pid) mainNs = t;
    }
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are the 14th and 15th fields of the line (the 12th and 13th after the command name).
    return { ns, mainNs, userTicks: Number(fields[11]), sysTicks: Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** Processes (pid, command name, parent pid) from /proc. */
function processes(): Array<{ pid: number; comm: string; ppid: number; cmdline: string }> {
  const out: Array<{ pid: number; comm: string; ppid: number; cmdline: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      out.push({ pid: Number(entry), comm, ppid, cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The pid of the newest pop3 process of the Dovecot whose config lives in `dir` (the session just logged in). */
function dovecotPop3Pid(dir: string): number | undefined {
  const all = processes();
  const masters = new Set(all.filter((p) => p.cmdline.includes(path.join(dir, 'dovecot.conf'))).map((p) => p.pid));
  const pop3 = all.filter((p) => masters.has(p.ppid) && p.comm === 'pop3').map((p) => p.pid);
  return pop3.length > 0 ? Math.max(...pop3) : undefined;
}

/**
 * A plain POP3 connection that counts multi-line replies as they complete,
 * made to cost its core little next to the servers' (a client that kept
 * what came in as strings spent 6 to 20 µs per message, varying run to
 * run, and the rates then measured the client as much): the socket reads
 * into one buffer it reuses (no new buffer per read), a reply's end
 * ("CRLF.CRLF") is found with Buffer.indexOf, and nothing is decoded but
 * single-line replies. An end cut by a read is matched across it (at most
 * 4 bytes carried).
 */
class Downloader {
  /** Bytes of single-line replies not taken yet (only outside pipelined()). */
  private pending: Buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  /** Set by pipelined(): the reads go to it, not to `pending`. */
  private counter: ReplyCounter | undefined;
  /** Chunks received: about one per server write, so how finely a server cuts its replies. */
  reads = 0;
  private constructor(private readonly socket: net.Socket) {}
  static async connect(port: number): Promise<Downloader> {
    let d: Downloader | undefined;
    const socket = net.connect({
      port,
      host: '127.0.0.1',
      onread: {
        buffer: Buffer.allocUnsafe(256 * 1024),
        callback: (n: number, buf: Uint8Array) => {
          d!.received(buf as Buffer, n);
          return true;
        },
      },
    });
    d = new Downloader(socket);
    await new Promise((res, rej) => socket.once('connect', res).once('error', rej));
    // The RETR batches go out at once: with Nagle's algorithm a batch could wait for the
    // server's delayed ACK (tens of ms), and the bench would measure that, not the server.
    socket.setNoDelay(true);
    await d.line();
    return d;
  }
  /** n bytes read into buf (overwritten by the next read: looked at now, or copied). */
  private received(buf: Buffer, n: number): void {
    this.reads++;
    const chunk = buf.subarray(0, n);
    if (this.counter) this.counter.feed(chunk);
    else this.pending = Buffer.concat([this.pending, chunk]);
    this.waiting?.();
  }
  private async until(pred: () => boolean): Promise<void> {
    while (!pred()) await new Promise<void>((res) => (this.waiting = res));
    this.waiting = undefined;
  }
  async line(): Promise<string> {
    await this.until(() => this.pending.indexOf('\r\n') >= 0);
    const i = this.pending.indexOf('\r\n');
    const l = this.pending.toString('latin1', 0, i);
    this.pending = this.pending.subarray(i + 2);
    return l;
  }
  async cmd(c: string): Promise<string> {
    this.socket.write(`${c}\r\n`);
    return this.line();
  }
  /** RETR 1..n with WINDOW commands in flight; returns the bytes received. */
  retrAll(n: number): Promise<number> {
    return this.pipelined(n, (i) => `RETR ${i}`);
  }
  /** A multi-line command for messages 1..n (command(i)), WINDOW in flight; returns the bytes received. */
  async pipelined(n: number, command: (i: number) => string): Promise<number> {
    if (this.pending.length > 0) throw new Error('bytes left over before a pipelined command');
    const counter = (this.counter = new ReplyCounter((done) => `${command(done + 1)} failed`));
    let sent = 0;
    const send = () => {
      let batch = '';
      while (sent < n && sent - counter.done < WINDOW) batch += `${command(++sent)}\r\n`;
      if (batch) this.socket.write(batch);
    };
    send();
    while (counter.done < n) {
      const before = counter.done;
      await this.until(() => counter.done > before || counter.failure !== undefined);
      if (counter.failure !== undefined) throw new Error(counter.failure);
      send();
    }
    if (counter.done > n || counter.partial !== 0) throw new Error('more bytes than the replies asked for');
    this.counter = undefined;
    return counter.bytes;
  }
  close(): void {
    this.socket.destroy();
  }
}

/** "CRLF.CRLF", the end of a multi-line reply (dot-stuffing keeps it out of the message). */
const END = Buffer.from('\r\n.\r\n');

/** Counts the multi-line replies in a stream of reads, each of which must start with "+". */
class ReplyCounter {
  done = 0;
  bytes = 0;
  failure: string | undefined;
  /** How many bytes of END the last read ended with (0 to 4), past the last reply's end. */
  partial = 0;
  /** Whether the next byte starts a reply (its "+" not seen yet). */
  private atStart = true;
  constructor(private readonly describe: (done: number) => string) {}

  feed(chunk: Buffer): void {
    this.bytes += chunk.length;
    let from = 0;
    if (this.partial > 0) {
      // The end cut by the last read: the rest of it starts this one?
      const rest = END.length - this.partial;
      if (chunk.length < rest && chunk.compare(END, this.partial, this.partial + chunk.length) === 0) {
        // A read of a byte or two, still inside the end.
        this.partial += chunk.length;
        return;
      }
      if (chunk.length >= rest && chunk.compare(END, this.partial, END.length, 0, rest) === 0) {
        this.ended();
        from = rest;
      }
      this.partial = 0;
    }
    for (;;) {
      if (this.atStart && from < chunk.length) {
        if (chunk[from] !== PLUS) {
          this.failure ??= `${this.describe(this.done)}: ${chunk.toString('latin1', from, from + 100)}`;
          return;
        }
        this.atStart = false;
      }
      const at = chunk.indexOf(END, from);
      if (at < 0) break;
      from = at + END.length;
      this.ended();
    }
    // The longest tail of the read that could begin an END (at least a byte past the last reply's end).
    for (let k = Math.min(END.length - 1, chunk.length - from); k > 0; k--) {
      if (chunk.compare(END, 0, k, chunk.length - k, chunk.length) === 0) {
        this.partial = k;
        break;
      }
    }
  }

  private ended(): void {
    this.done++;
    this.atStart = true;
  }
}

type Result = { rate: number; mbps: number; withQuit: number; readsPerMessage: number; cpuUs: number | undefined };

/**
 * Warm-up sessions first, not timed, the same for both servers: the
 * measured account's messages read once with TOP n 0 (in the page cache;
 * Dovecot builds its index; TOP sets no \Seen, so round 1 is still the
 * first download), and WARM_PASSES downloads of a second account's
 * WARM_COUNT messages (for Postino, V8's compiled code as a server that has
 * run a while has it: a fresh process spends its first downloads compiling
 * and deoptimizing, some µs per message). Ten passes, not three: what is
 * called once per event-loop turn or socket write (a turn carries some 60
 * RETRs), Node's stream code and the session's flush among it, reaches
 * V8's optimizing compiler only after thousands of messages. After three
 * passes, `--trace-opt` showed 16 and 11 such compiles (37 and 31 ms of a
 * helper thread's CPU) inside the timed RETRs of rounds 1 and 2, on the
 * core the client needs; after ten, a few. Dovecot starts a new pop3
 * process per login, so for it the passes only warm the page cache.
 * BENCH_WARM_PASSES=3 shows the colder server.
 */
async function warmUp(name: string, port: number): Promise<void> {
  const login = async (user: string) => {
    const d = await Downloader.connect(port);
    await d.cmd(`USER ${user}`);
    const ok = await d.cmd(`PASS ${PASSWORD}`);
    if (!ok.startsWith('+OK')) throw new Error(`${name} login: ${ok}`);
    return d;
  };
  const measured = await login(USER);
  await measured.pipelined(count, (i) => `TOP ${i} 0`);
  await measured.cmd('QUIT');
  measured.close();
  for (let pass = 0; pass < WARM_PASSES; pass++) {
    const warm = await login(WARM_USER);
    await warm.retrAll(WARM_COUNT);
    const quit = await warm.cmd('QUIT');
    if (!quit.startsWith('+OK')) throw new Error(`${name} QUIT: ${quit}`);
    warm.close();
  }
}

/** serverPid: the server process to measure, found once logged in (Dovecot starts one per session). */
async function measure(name: string, port: number, round: number, serverPid: () => number | undefined): Promise<Result> {
  const d = await Downloader.connect(port);
  await d.cmd(`USER ${USER}`);
  const ok = await d.cmd(`PASS ${PASSWORD}`);
  if (!ok.startsWith('+OK')) throw new Error(`${name} login: ${ok}`);
  const stat = await d.cmd('STAT');
  if (!stat.startsWith(`+OK ${count} `)) throw new Error(`${name} STAT: ${stat}`);
  const reads0 = d.reads;
  const pid = serverPid();
  const cpu0 = pid === undefined ? undefined : cpuOf(pid);
  const client0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const bytes = await d.retrAll(count);
  const client = process.cpuUsage(client0);
  const readsPerMessage = (d.reads - reads0) / count;
  const s = seconds(t0);
  const cpu1 = pid === undefined ? undefined : cpuOf(pid);
  const cpuUs = cpu0 === undefined || cpu1 === undefined ? undefined : (cpu1.ns - cpu0.ns) / 1000 / count;
  // Where it went: the main thread or the others (reader threads, GC helpers), user or system time.
  let split = '';
  if (cpu0 !== undefined && cpu1 !== undefined) {
    const mainUs = (cpu1.mainNs - cpu0.mainNs) / 1000 / count;
    const user = cpu1.userTicks - cpu0.userTicks;
    const sys = cpu1.sysTicks - cpu0.sysTicks;
    split = ` (main thread ${mainUs.toFixed(1)}, other threads ${(cpuUs! - mainUs).toFixed(1)}; ${user + sys > 0 ? ((100 * sys) / (user + sys)).toFixed(0) : '?'}% system)`;
  }
  // Both servers store the \Seen flags of RETR at QUIT at the latest: the session is done when its reply comes.
  const quit = await d.cmd('QUIT');
  const total = seconds(t0);
  d.close();
  if (!quit.startsWith('+OK')) throw new Error(`${name} QUIT: ${quit}`);
  const rate = count / s;
  const mbps = bytes / 1e6 / s;
  const withQuit = count / total;
  console.log(
    `pop3 bench: round ${round}: ${name}: RETR of ${count} messages of 4 KB in ${s.toFixed(2)} s: ${rate.toFixed(0)} messages/s, ${mbps.toFixed(1)} MB/s; ` +
      `with QUIT ${total.toFixed(2)} s: ${withQuit.toFixed(0)} messages/s; ${readsPerMessage.toFixed(2)} client reads per message; ` +
      `server CPU ${cpuUs === undefined ? '?' : cpuUs.toFixed(1)} µs per message${split}; client CPU ${((client.user + client.system) / count).toFixed(1)} µs per message`,
  );
  return { rate, mbps, withQuit, readsPerMessage, cpuUs };
}

const messages = Array.from({ length: count }, (_, i) => makeMessage(`pop3-${i}`, 4096));

// ---- Postino -------------------------------------------------------------------------
{
  const storage = openStorage(dir, { indexer: indexMessageJson });
  await new AdminService(storage).addDomain('example.test', USER, { password: PASSWORD, allowWeak: false });
  const account = (await storage.directory.getAccount(USER))!;
  await new AdminService(storage).addUser({ address: WARM_USER, password: PASSWORD, allowWeak: false });
  const warmAccount = (await storage.directory.getAccount(WARM_USER))!;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i += 200) {
    await storage.mail.appendMany(account.id, 'INBOX', messages.slice(i, i + 200).map((raw) => ({ raw })));
  }
  for (let i = 0; i < WARM_COUNT; i += 200) {
    await storage.mail.appendMany(warmAccount.id, 'INBOX', messages.slice(i, Math.min(i + 200, WARM_COUNT)).map((raw) => ({ raw })));
  }
  console.log(`pop3 bench: stored ${count} messages in Postino (${seconds(t0).toFixed(1)} s)`);
  await storage.mail.drain();
  storage.close();
  // Plain text logins on loopback, as Dovecot below: both do the same work per byte.
  writeFileSync(path.join(dir, 'postino.json'), JSON.stringify({ demo: false, pop3: { allowPlaintextAuth: true } }));
}
const ports = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
let server: Served | undefined;
let dovecot: RunningDovecot | undefined;
try {
  server = startServe(process.execPath, [...nodeArgs, cliPath, 'serve', '--data', dir], { ...ports, POSTINO_DEMO: '0' });
  const ourPort = Number((await server.waitFor((e) => e.event === 'listening' && e.service === 'pop3')).port);
  await server.waitFor((e) => e.event === 'ready');
  await warmUp('Postino', ourPort);

  // ---- Dovecot -----------------------------------------------------------------------
  let theirPort: number | undefined;
  if (!dovecotInstalled()) {
    console.log('pop3 bench: Dovecot is not installed: no comparison');
  } else {
    theirPort = await freePort();
    dovecot = await startDovecotLmtp({
      users: [USER, WARM_USER],
      password: PASSWORD,
      scratchRoot: makeScratchDir('postino-bench-dovecot-'),
      extraConf: `protocols = lmtp imap pop3
pop3_uidl_format = %08Xu%08Xv
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = ${theirPort}
  }
  inet_listener pop3s {
    port = 0
  }
  chroot =
}
`,
    });
    const asRoot = process.getuid?.() === 0;
    const nobody = asRoot ? [Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }))] : undefined;
    for (const [user, n] of [[USER, count], [WARM_USER, WARM_COUNT]] as const) {
      const cur = path.join(dovecot.maildirOf(user), 'cur');
      mkdirSync(cur, { recursive: true });
      messages.slice(0, n).forEach((raw, i) => {
        const file = path.join(cur, `${1_700_000_000 + i}.M${i}P1.bench,S=${raw.length}:2,`);
        writeFileSync(file, raw);
        if (nobody) chownSync(file, nobody[0]!, nobody[1]!);
      });
    }
    await warmUp('Dovecot', theirPort);
  }

  // ---- the rounds: ABBA order ------------------------------------------------------
  console.log(`pop3 bench: each server warmed up with a TOP pass and ${WARM_PASSES} downloads of ${WARM_COUNT} messages (BENCH_WARM_PASSES)`);
  const ours: Result[] = [];
  const theirs: Result[] = [];
  for (let round = 1; round <= rounds; round++) {
    const postinoFirst = round % 2 === 1 || theirPort === undefined;
    const ourPid = () => server!.child.pid;
    const theirPid = () => dovecotPop3Pid(dovecot!.dir);
    if (postinoFirst) ours.push(await measure('Postino', ourPort, round, ourPid));
    if (theirPort !== undefined) theirs.push(await measure('Dovecot', theirPort, round, theirPid));
    if (!postinoFirst) ours.push(await measure('Postino', ourPort, round, ourPid));
    if (theirPort !== undefined) {
      const [a, b] = [ours[round - 1]!, theirs[round - 1]!];
      const cpu = a.cpuUs !== undefined && b.cpuUs !== undefined ? `; CPU per message ${(a.cpuUs / b.cpuUs).toFixed(2)}` : '';
      console.log(`pop3 bench: round ${round}: Postino / Dovecot: ${(a.rate / b.rate).toFixed(2)}, with QUIT ${(a.withQuit / b.withQuit).toFixed(2)}${cpu}`);
    }
  }
  const summary = (name: string, rs: Result[]) =>
    `pop3 bench: ${name}: median of ${rs.length} rounds: ${median(rs.map((r) => r.rate)).toFixed(0)} messages/s, ${median(rs.map((r) => r.mbps)).toFixed(1)} MB/s; ` +
    `with QUIT ${median(rs.map((r) => r.withQuit)).toFixed(0)} messages/s` +
    (rs.every((r) => r.cpuUs !== undefined) ? `; server CPU ${median(rs.map((r) => r.cpuUs!)).toFixed(1)} µs per message` : '');
  console.log(summary('Postino', ours));
  if (theirs.length > 0) {
    console.log(summary('Dovecot', theirs));
    const ratios = ours.map((r, i) => r.rate / theirs[i]!.rate);
    const withQuit = ours.map((r, i) => r.withQuit / theirs[i]!.withQuit);
    const show = (xs: number[]) => `median ${median(xs).toFixed(2)} of rounds ${xs.map((r) => r.toFixed(2)).join(' ')}`;
    console.log(`pop3 bench: Postino / Dovecot (messages/s): ${show(ratios)}; with QUIT: ${show(withQuit)}`);
    if (ours.every((r) => r.cpuUs !== undefined) && theirs.every((r) => r.cpuUs !== undefined)) {
      console.log(`pop3 bench: server CPU per message, Postino / Dovecot: ${show(ours.map((r, i) => r.cpuUs! / theirs[i]!.cpuUs!))}`);
    }
  }
} finally {
  await server?.stop();
  await dovecot?.stop();
  removeScratch();
}
