// Idle IMAP sessions: SESSIONS connections over STARTTLS, logged in, INBOX
// selected, spread over loopback source addresses 127.0.0.2.. (at most 50 per
// address, under the per-address cap), then left alone; the server's resident
// memory (VmRSS) before connecting and after they settle, per session.
// "Before" is taken after BENCH_WARMUP (default 50) sessions were opened and
// closed, so one-time costs (the scrypt worker threads started at the first
// LOGIN, code compiled on first use, TLS tables) are not counted per session;
// BENCH_WARMUP=0 counts them.
// The same for Dovecot in the same run, with at most DOVECOT_SESSIONS (default
// 200) sessions: it runs a process per session, so its figure is the sum of
// the proportional set size (Pss: shared pages split among their users) of
// all its processes; their summed RSS would count the shared libraries once
// per process.
// usage: node dist/bench/idle-sessions.js [SESSIONS [SETTLE_SECONDS [INBOX_FILL]]] [--no-dovecot]
// BENCH_HEAPSNAPSHOT=1: serve runs with --heapsnapshot-signal=SIGUSR2 and a
// snapshot is written (into the data dir's parent, .bench/) once settled.
import path from 'node:path';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { openStorage } from '../storage/index.js';
import { indexMessageJson } from '../mime/index.js';
import { AdminService } from '../src/services/admin.js';
import { SERVICES } from '../src/config.js';
import { makeMessage } from '../test/support/messages.js';
import { startServe } from '../test/support/serve.js';
import { cliPath } from '../test/support/paths.js';
import { RawImap } from '../test/integration/imap-raw-client.js';
import { dovecotInstalled, startDovecotLmtp } from '../test/support/dovecot-lmtp.js';
import { makeScratchDir, removeScratch, scratchRoot } from './scratch.js';

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const sessions = Number(positional[0] ?? 1000);
const settleSeconds = Number(positional[1] ?? 5);
const inboxFill = Number(positional[2] ?? 100);
const withDovecot = !process.argv.includes('--no-dovecot') && dovecotInstalled();
const dovecotSessions = Math.min(sessions, Number(process.env.DOVECOT_SESSIONS ?? 200));
const PER_ADDRESS = 50;
/** Sessions opened and closed before the first measurement (BENCH_WARMUP). */
const warmup = Number(process.env.BENCH_WARMUP ?? 50);
const USER = 'idle@example.test';
const PASSWORD = 'correct horse staple 1234';

/** Resident memory of a process in KB (VmRSS), 0 when it is gone. */
function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** The pid and its descendants (Dovecot's master forks a process per session). */
function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(name), Number(fields[1]));
    } catch {
      // exited meanwhile
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parent) if (ppid === tree[i]) tree.push(pid);
  return tree;
}

/** Proportional set size of a process in KB, 0 when it is gone. */
function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const treePssKb = (root: number) => processTree(root).reduce((n, pid) => n + pssKb(pid), 0);

/** Opens `n` idle sessions: STARTTLS, LOGIN, SELECT INBOX; 20 opening at once. */
async function openIdle(port: number, from: number, n: number): Promise<RawImap[]> {
  const open: RawImap[] = [];
  let next = from;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const local = `127.0.0.${2 + Math.floor(i / PER_ADDRESS)}`;
      const c = await RawImap.connect(port, false, local);
      await c.starttls();
      const login = await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`, 60_000);
      if (!/ OK /.test(login)) throw new Error(`session ${i}: login failed: ${login}`);
      const sel = await c.cmd('SELECT INBOX', 60_000);
      if (!/ OK /.test(sel)) throw new Error(`session ${i}: SELECT failed: ${sel}`);
      open.push(c);
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker));
  return open;
}

async function measure(label: string, port: number, rootPid: number, sessions: number, tree: boolean, onSettled?: () => Promise<void>): Promise<number> {
  const rss = () => (tree ? treePssKb(rootPid) : rssKb(rootPid));
  // One-time costs are not a session's: the first TLS handshake, the first
  // LOGIN (Postino starts its scrypt worker threads then), code compiled on
  // first use. A few sessions opened and closed first take them.
  if (warmup > 0) for (const c of await openIdle(port, 0, Math.min(warmup, sessions))) c.close();
  await new Promise((r) => setTimeout(r, 2000));
  const before = rss();
  const t0 = Date.now();
  // Half first, then the rest: the second half's cost leaves out one-time growth (heap, code, caches).
  const half = Math.floor(sessions / 2);
  const conns = await openIdle(port, 0, half);
  await new Promise((r) => setTimeout(r, settleSeconds * 1000));
  const middle = rss();
  conns.push(...(await openIdle(port, half, sessions)));
  const opened = (Date.now() - t0) / 1000 - settleSeconds;
  await new Promise((r) => setTimeout(r, settleSeconds * 1000));
  const after = rss();
  const perSession = (after - before) / sessions;
  const unit = tree ? 'Pss' : 'RSS';
  console.log(
    `${label}: ${sessions} idle sessions opened in ${opened.toFixed(1)} s; ${unit} ${(before / 1024).toFixed(1)} MB before, ` +
      `${(after / 1024).toFixed(1)} MB after ${settleSeconds} s: ${perSession.toFixed(1)} KB per session ` +
      `(the second ${sessions - half}: ${(sessions - half > 0 ? (after - middle) / (sessions - half) : NaN).toFixed(1)} KB each)`,
  );
  if (onSettled) await onSettled();
  for (const c of conns) c.close();
  return perSession;
}

if (!Number.isInteger(sessions) || sessions < 1 || sessions > 253 * PER_ADDRESS) {
  console.error('usage: node dist/bench/idle-sessions.js [SESSIONS [SETTLE_SECONDS [INBOX_FILL]]] [--no-dovecot]');
  process.exit(2);
}
// No waitForQuietDisk(): slow file creation does not change what is measured here.
const dir = makeScratchDir('postino-bench-idle-');
{
  const storage = openStorage(dir, { indexer: indexMessageJson });
  await new AdminService(storage).addDomain('example.test', USER, { password: PASSWORD, allowWeak: false });
  const account = (await storage.directory.getAccount(USER))!;
  const msg = makeMessage('fill', 2048);
  await Promise.all(Array.from({ length: inboxFill }, () => storage.mail.append(account.id, 'INBOX', msg)));
  await storage.mail.drain();
  storage.close();
}
// The total IMAP cap defaults to 1,000; the bench's own connections need a little room.
writeFileSync(path.join(dir, 'postino.json'), JSON.stringify({ hostname: 'mx.example.test', limits: { maxConnections: { imap: sessions + 100 } } }, null, 2));
const ports = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const snapshot = process.env.BENCH_HEAPSNAPSHOT === '1';
const nodeArgs = snapshot ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${scratchRoot}`] : [];
const server = startServe(process.execPath, [...nodeArgs, cliPath, 'serve', '--data', dir], { ...ports, POSTINO_DEMO: '0' });
const tls = { certFile: path.join(dir, 'tls', 'selfsigned.crt'), keyFile: path.join(dir, 'tls', 'selfsigned.key') };
try {
  const imap = Number((await server.waitFor((e) => e.event === 'listening' && e.service === 'imap')).port);
  await server.waitFor((e) => e.event === 'ready');
  console.log(`idle sessions bench: ${sessions} sessions over STARTTLS, INBOX of ${inboxFill} messages selected, ${settleSeconds} s to settle`);
  const ours = await measure('Postino', imap, server.child.pid!, sessions, false, async () => {
    if (!snapshot) return;
    process.kill(server.child.pid!, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, 15_000));
    console.log(`heap snapshot written under ${scratchRoot}`);
  });
  console.log(`Postino: ${ours <= 50 ? 'within' : 'ABOVE'} the target of 50 KB per session`);
  if (withDovecot) {
    const dovecot = await startDovecotLmtp({
      users: [USER],
      password: PASSWORD,
      tls,
      scratchRoot: makeScratchDir('dc-'),
      keep: true,
      // Room for the sessions: a login process and an imap process each by default.
      extraConf: `default_process_limit = ${dovecotSessions + 100}\ndefault_client_limit = ${2 * dovecotSessions + 200}\nmail_max_userip_connections = ${dovecotSessions}\n`,
    });
    try {
      if (inboxFill > 0) {
        const c = await RawImap.connect(dovecot.imapPort, false);
        await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`, 30_000);
        const body = makeMessage('fill', 2048).toString('latin1');
        for (let k = 1; k < inboxFill; k++) c.write(`f${k} APPEND INBOX {${body.length}+}\r\n${body}\r\n`);
        await c.cmd(`APPEND INBOX {${body.length}+}\r\n${body}`, 60_000);
        c.close();
      }
      const master = Number(readFileSync(path.join(dovecot.dir, 'run', 'master.pid'), 'utf8').trim());
      const theirs = await measure('Dovecot (Pss of all its processes)', dovecot.imapPort, master, dovecotSessions, true);
      console.log(`ratio Postino/Dovecot per session: ${(ours / theirs).toFixed(2)}`);
    } finally {
      await dovecot.stop();
    }
  }
} finally {
  await server.stop();
  removeScratch();
}
