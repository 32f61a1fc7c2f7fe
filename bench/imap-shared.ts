// IMAP on one shared mailbox: 10 persistent clients over IMAPS on one
// 100-message INBOX, each looping LIST, STATUS, SELECT, FETCH of flags and
// envelope, FETCH of bodies, STORE of flags and keywords, STORE \Deleted,
// EXPUNGE and APPEND, against Postino and Dovecot in alternating rounds.
// A client that gets NO or BAD drops its session and opens a new one: the
// reconnects are counted per server. Each client also checks that no FETCH
// FLAGS shows it a keyword before the mailbox's FLAGS (or PERMANENTFLAGS) list
// it was told has it; the violations are counted per server (0 expected).
// Each client deletes (STORE \Deleted by UID, then EXPUNGE) the message it
// appended in its previous loop (APPENDUID), so the INBOX stays near 100.
// usage: node dist/bench/imap-shared.js [SECONDS [ROUNDS [CLIENTS]]] [--keywords K]
//   SECONDS per round and server (default 20), ROUNDS (default 3), CLIENTS 10;
//   K keywords in all (default 20, $Bench0..), stored by the clients in turn.
//   Past 26 Postino's Maildir has no letter for a keyword and leaves it out of
//   FLAGS (a violation in this bench); the default stays under that.
// Per round it also prints the server's CPU per command (user+sys of serve:
// steadier than rates on a shared machine), the bench's own CPU per command
// (its clients share the cores with the servers), and each command's median
// and mean latency per server.
// BENCH_PROFILE=DIR writes a V8 CPU profile of the server there.
import path from 'node:path';
import { openStorage } from '../storage/index.js';
import { indexMessageJson } from '../mime/index.js';
import { AdminService } from '../src/services/admin.js';
import { SERVICES } from '../src/config.js';
import { makeMessage } from '../test/support/messages.js';
import { startServe } from '../test/support/serve.js';
import { cliPath } from '../test/support/paths.js';
import { RawImap } from '../test/integration/imap-raw-client.js';
import { dovecotInstalled, startDovecotLmtp } from '../test/support/dovecot-lmtp.js';
import { makeScratchDir, removeScratch, waitForQuietDisk } from './scratch.js';
import { processCpu } from './smtp-client.js';

const argv = process.argv.slice(2);
const keywordsAt = argv.indexOf('--keywords');
const keywordCount = keywordsAt >= 0 ? Number(argv[keywordsAt + 1]) : 20;
const positional = argv.filter((a, i) => !a.startsWith('--') && (keywordsAt < 0 || i !== keywordsAt + 1));
const seconds = Number(positional[0] ?? 20);
const rounds = Number(positional[1] ?? 3);
const clients = Number(positional[2] ?? 10);
const FILL = 100;
const USER = 'shared@example.test';
const PASSWORD = 'correct horse staple 1234';
const body = makeMessage('shared', 2048).toString('latin1');

interface RoundResult {
  commandsPerSecond: number;
  /** Milliseconds per command name: median and mean (what waits where). */
  latency: Map<string, number[]>;
  /** The bench process's own CPU per command, ms (the clients compete with the servers for the 2 cores). */
  clientCpu: number;
  reconnects: number;
  violations: number;
  example?: string;
  /** The first NO or BAD, with its command. */
  refusal?: string;
}

/** One client's session and what the server told it about the selected mailbox. */
class Client {
  conn!: RawImap;
  exists = 0;
  /** UID of this client's last APPEND (APPENDUID), deleted in its next loop. */
  appended: number | undefined;
  /** Keywords of the last FLAGS and PERMANENTFLAGS lists. */
  private flagsList = new Set<string>();
  private permanent = new Set<string>();
  violations = 0;
  example: string | undefined;
  refusal: string | undefined;

  constructor(
    private port: number,
    readonly id: number,
  ) {}

  async open(): Promise<void> {
    this.conn = await RawImap.connect(this.port, true);
    const r = await this.conn.cmd(`LOGIN "${USER}" "${PASSWORD}"`, 30_000);
    if (!/ OK /.test(r)) throw new Error(`login failed: ${r}`);
    this.exists = 0;
    this.flagsList.clear();
    this.permanent.clear();
  }

  /** Runs one command; false on NO/BAD. Reads every untagged line in order. */
  async run(command: string, literal?: string): Promise<boolean> {
    let reply: string;
    if (literal === undefined) reply = await this.conn.cmd(command, 30_000);
    else {
      const tag = this.conn.nextTag();
      this.conn.write(`${tag} ${command} {${literal.length}+}\r\n${literal}\r\n`);
      reply = await this.conn.waitFor(new RegExp(`(?:^|\\r\\n)${tag} (?:OK|NO|BAD)[^\\r\\n]*\\r\\n`), 30_000);
    }
    this.observe(reply);
    const lines = reply.trimEnd().split('\r\n');
    const last = lines[lines.length - 1]!;
    const ok = / OK/.test(last.slice(0, 40));
    const appendUid = /\[APPENDUID \d+ (\d+)\]/.exec(last);
    if (appendUid) this.appended = Number(appendUid[1]);
    if (!ok) this.refusal ??= `${command.slice(0, 60)}: ${last.slice(0, 200)}`;
    return ok;
  }

  private observe(reply: string): void {
    for (const line of reply.split('\r\n')) {
      if (!line.startsWith('* ')) continue;
      let m: RegExpExecArray | null;
      if ((m = /^\* FLAGS \(([^)]*)\)/.exec(line))) this.flagsList = keywords(m[1]!);
      else if ((m = /^\* OK \[PERMANENTFLAGS \(([^)]*)\)/.exec(line))) this.permanent = keywords(m[1]!);
      else if ((m = /^\* (\d+) EXISTS/.exec(line))) this.exists = Number(m[1]);
      else if (/^\* \d+ EXPUNGE/.test(line)) this.exists = Math.max(0, this.exists - 1);
      else if ((m = /^\* \d+ FETCH \(.*?\bFLAGS \(([^)]*)\)/.exec(line))) {
        for (const k of keywords(m[1]!)) {
          if (!this.flagsList.has(k) && !this.permanent.has(k)) {
            this.violations++;
            this.example ??= `client ${this.id}: ${line.slice(0, 200)} before FLAGS had ${k}`;
          }
        }
      }
    }
  }

  close(): void {
    this.conn.close();
  }
}

function commandLabel(command: string): string {
  if (command.startsWith('FETCH')) return command.includes('BODY') ? 'FETCH-body' : 'FETCH-envelope';
  if (/STORE/.test(command)) return command.includes('Deleted') ? 'STORE-deleted' : 'STORE-flags';
  return command.split(' ')[0]!;
}

function latencySummary(latency: Map<string, number[]>): string {
  return [...latency]
    .map(([name, times]) => {
      times.sort((a, b) => a - b);
      const mean = times.reduce((a, b) => a + b, 0) / times.length;
      return `${name} ${times[times.length >> 1]!.toFixed(1)}/${mean.toFixed(1)}`;
    })
    .join(', ');
}

const keywords = (list: string) => new Set(list.split(' ').filter((f) => f !== '' && !f.startsWith('\\')));

async function sharedLoad(port: number, seconds: number): Promise<RoundResult> {
  const all = Array.from({ length: clients }, (_, i) => new Client(port, i));
  await Promise.all(all.map((c) => c.open()));
  let commands = 0;
  let reconnects = 0;
  let loop = 0;
  const latency = new Map<string, number[]>();
  const cpu0 = process.cpuUsage();
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(
    all.map(async (c) => {
      const step = async (command: string, literal?: string) => {
        if (Date.now() >= deadline) return false;
        const t0 = performance.now();
        const ok = await c.run(command, literal);
        const name = commandLabel(command);
        const times = latency.get(name) ?? [];
        times.push(performance.now() - t0);
        latency.set(name, times);
        commands++;
        if (!ok) {
          reconnects++;
          c.close();
          await c.open();
        }
        return ok;
      };
      while (Date.now() < deadline) {
        const n = loop++;
        // Keywords from a bounded set, so some are new to the other sessions now and then.
        const keyword = `$Bench${n % keywordCount}`;
        if (!(await step('LIST "" "*"'))) continue;
        if (!(await step('STATUS INBOX (MESSAGES UIDNEXT UNSEEN)'))) continue;
        if (!(await step('SELECT INBOX'))) continue;
        if (c.exists === 0) {
          await step('APPEND INBOX', body);
          continue;
        }
        if (!(await step('FETCH 1:* (FLAGS ENVELOPE)'))) continue;
        if (!(await step(`FETCH ${c.exists} BODY.PEEK[]`))) continue;
        const target = 1 + (n % c.exists);
        if (!(await step(`STORE ${target} FLAGS (\\Seen ${keyword})`))) continue;
        const victim = c.appended !== undefined ? `UID STORE ${c.appended}` : 'STORE 1';
        c.appended = undefined;
        if (!(await step(`${victim} +FLAGS.SILENT (\\Deleted)`))) continue;
        if (!(await step('EXPUNGE'))) continue;
        await step('APPEND INBOX', body);
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  for (const c of all) c.close();
  const clientCpu = (cpu.user + cpu.system) / 1000 / Math.max(1, commands);
  const violations = all.reduce((n, c) => n + c.violations, 0);
  const example = all.find((c) => c.example)?.example;
  const refusal = all.find((c) => c.refusal)?.refusal;
  return { commandsPerSecond: commands / seconds, latency, clientCpu, reconnects, violations, ...(example ? { example } : {}), ...(refusal ? { refusal } : {}) };
}

if (![seconds, rounds, clients, keywordCount].every((n) => Number.isInteger(n) && n >= 1)) {
  console.error('usage: node dist/bench/imap-shared.js [SECONDS [ROUNDS [CLIENTS]]] [--keywords K]');
  process.exit(2);
}
if (!dovecotInstalled()) throw new Error('imap-shared bench: Dovecot is not installed');
await waitForQuietDisk();
const dir = makeScratchDir('postino-bench-shared-');
{
  const storage = openStorage(dir, { indexer: indexMessageJson });
  await new AdminService(storage).addDomain('example.test', USER, { password: PASSWORD, allowWeak: false });
  const account = (await storage.directory.getAccount(USER))!;
  const msg = makeMessage('fill', 2048);
  await Promise.all(Array.from({ length: FILL }, () => storage.mail.append(account.id, 'INBOX', msg)));
  await storage.mail.drain();
  storage.close();
}
const ports = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
const server = startServe(process.execPath, [...profile, cliPath, 'serve', '--data', dir], { ...ports, POSTINO_DEMO: '0' });
const tls = { certFile: path.join(dir, 'tls', 'selfsigned.crt'), keyFile: path.join(dir, 'tls', 'selfsigned.key') };
try {
  const imaps = Number((await server.waitFor((e) => e.event === 'listening' && e.service === 'imaps')).port);
  await server.waitFor((e) => e.event === 'ready');
  const dovecot = await startDovecotLmtp({ users: [USER], password: PASSWORD, tls, scratchRoot: makeScratchDir('dc-'), keep: true });
  try {
    {
      const c = await RawImap.connect(dovecot.imapsPort, true);
      await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`, 30_000);
      const fill = makeMessage('fill', 2048).toString('latin1');
      for (let k = 1; k < FILL; k++) c.write(`f${k} APPEND INBOX {${fill.length}+}\r\n${fill}\r\n`);
      await c.cmd(`APPEND INBOX {${fill.length}+}\r\n${fill}`, 60_000);
      c.close();
    }
    console.log(`imap shared bench: ${clients} clients on one INBOX of ${FILL} messages over IMAPS, ${keywordCount} keywords, ${rounds} rounds of ${seconds} s per server`);
    const ratios: number[] = [];
    const total = { postino: { reconnects: 0, violations: 0 }, dovecot: { reconnects: 0, violations: 0 } };
    for (let r = 0; r < rounds; r++) {
      // Alternating order, so a change in the machine's load falls on both alike.
      const runOurs = async () => {
        const cpu0 = processCpu(server.child.pid);
        const x = await sharedLoad(imaps, seconds);
        const cpu1 = processCpu(server.child.pid);
        const cpu = cpu0 && cpu1 ? ((cpu1.user + cpu1.system - cpu0.user - cpu0.system) * 1000) / (x.commandsPerSecond * seconds) : NaN;
        return { ...x, cpu };
      };
      let ours, theirs;
      if (r % 2 === 0) {
        ours = await runOurs();
        theirs = await sharedLoad(dovecot.imapsPort, seconds);
      } else {
        theirs = await sharedLoad(dovecot.imapsPort, seconds);
        ours = await runOurs();
      }
      ratios.push(ours.commandsPerSecond / theirs.commandsPerSecond);
      total.postino.reconnects += ours.reconnects;
      total.postino.violations += ours.violations;
      total.dovecot.reconnects += theirs.reconnects;
      total.dovecot.violations += theirs.violations;
      console.log(
        `round ${r + 1}: Postino ${ours.commandsPerSecond.toFixed(0)} commands/s (${ours.cpu.toFixed(3)} ms CPU/command, ` +
          `${ours.reconnects} reconnects, ${ours.violations} keyword-before-FLAGS), Dovecot ${theirs.commandsPerSecond.toFixed(0)} commands/s ` +
          `(${theirs.reconnects} reconnects, ${theirs.violations} keyword-before-FLAGS): ratio ${(ours.commandsPerSecond / theirs.commandsPerSecond).toFixed(2)}`,
      );
      for (const [who, x] of [['Postino', ours], ['Dovecot', theirs]] as const) {
        console.log(`  ${who}: client CPU ${x.clientCpu.toFixed(3)} ms/command; latency ms (median/mean): ${latencySummary(x.latency)}`);
        if (x.example) console.log(`  ${who}: e.g. ${x.example}`);
        if (x.refusal) console.log(`  ${who}: first refusal: ${x.refusal}`);
      }
    }
    ratios.sort((a, b) => a - b);
    const median = ratios.length % 2 ? ratios[(ratios.length - 1) / 2]! : (ratios[ratios.length / 2 - 1]! + ratios[ratios.length / 2]!) / 2;
    console.log(
      `imap shared: median ratio Postino/Dovecot ${median.toFixed(2)} over ${rounds} rounds of ${seconds} s; ` +
        `reconnects Postino ${total.postino.reconnects}, Dovecot ${total.dovecot.reconnects}; ` +
        `keyword-before-FLAGS violations Postino ${total.postino.violations}, Dovecot ${total.dovecot.violations}`,
    );
  } finally {
    await dovecot.stop();
  }
} finally {
  await server.stop();
  removeScratch();
}
