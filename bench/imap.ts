// IMAP figures against a real `postino serve`: SELECT on a 100,000-message
// mailbox, FETCH of 1,000 full headers, SEARCH BODY over 10,000 messages,
// IDLE notification latency, and the server's RSS with 1,000 idle
// authenticated connections.
// usage: npm run bench:imap [-- BIG_COUNT [IDLE_CONNECTIONS]]
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openStorage } from '../storage/index.js';
import { indexMessageJson } from '../mime/index.js';
import { AdminService } from '../src/services/admin.js';
import { SERVICES } from '../src/config.js';
import { makeMessage } from '../test/support/messages.js';
import { startServe } from '../test/support/serve.js';
import { cliPath } from '../test/support/paths.js';
import { RawImap } from '../test/integration/imap-raw-client.js';
import { mixedLoad } from './imap-load.js';
import { dovecotInstalled, startDovecotLmtp } from '../test/support/dovecot-lmtp.js';
import { makeScratchDir, removeScratch, waitForQuietDisk } from './scratch.js';

const bigCount = Number(process.argv[2] ?? 100_000);
const idleConnections = Number(process.argv[3] ?? 1000);
const USER = 'bench@example.test';
const PASSWORD = 'correct horse staple 1234';

await waitForQuietDisk();
const dir = makeScratchDir('postino-bench-imap-');
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

async function fill(storage: ReturnType<typeof openStorage>, accountId: number, mailbox: string, count: number, make: (i: number) => Buffer): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      await storage.mail.append(accountId, mailbox, make(i));
    }
  };
  await Promise.all(Array.from({ length: 128 }, lane));
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

// ---- data ------------------------------------------------------------------
{
  const storage = openStorage(dir, { indexer: indexMessageJson });
  const admin = new AdminService(storage);
  await admin.addDomain('example.test', USER, { password: PASSWORD, allowWeak: false });
  const account = (await storage.directory.getAccount(USER))!;
  await storage.mail.createMailbox(account.id, 'Big');
  await storage.mail.createMailbox(account.id, 'Ten');
  const small = [0, 1, 2, 3].map((i) => makeMessage(`big-${i}`, 600));
  let t0 = process.hrtime.bigint();
  await fill(storage, account.id, 'Big', bigCount, (i) => small[i % small.length]!);
  console.log(`imap bench: stored ${bigCount} messages in Big (${(ms(t0) / 1000).toFixed(1)} s)`);
  t0 = process.hrtime.bigint();
  await fill(storage, account.id, 'Ten', 10_000, (i) => makeMessage(`ten-${i}${i === 7777 ? '-needle' : ''}`, 4096));
  console.log(`imap bench: stored 10000 messages of 4 KB in Ten (${(ms(t0) / 1000).toFixed(1)} s)`);
  await storage.mail.drain();
  storage.close();
}

// ---- server ------------------------------------------------------------------
const ports = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const server = startServe(process.execPath, [cliPath, 'serve', '--data', dir], { ...ports, POSTINO_DEMO: '0' });
let imaps = Number((await server.waitFor((e) => e.event === 'listening' && e.service === 'imaps')).port);
await server.waitFor((e) => e.event === 'ready');

async function login(localAddress?: string): Promise<RawImap> {
  const c = await RawImap.connect(imaps, true, localAddress);
  const r = await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`, 30_000);
  if (!/ OK /.test(r)) throw new Error(`login failed: ${r}`);
  return c;
}

try {
  const c = await login();
  let t0 = process.hrtime.bigint();
  let r = await c.cmd('SELECT Big', 60_000);
  const firstSelect = ms(t0);
  const exists = /\* (\d+) EXISTS/.exec(r)?.[1];
  t0 = process.hrtime.bigint();
  r = await c.cmd('SELECT Big', 60_000);
  console.log(`imap bench: SELECT of ${exists} messages: ${firstSelect.toFixed(1)} ms (cold), ${ms(t0).toFixed(1)} ms (again)  [target < 50 ms]`);

  t0 = process.hrtime.bigint();
  r = await c.cmd('FETCH 1:1000 (UID BODY.PEEK[HEADER])', 60_000);
  const fetched = (r.match(/^\* \d+ FETCH/gm) ?? []).length;
  console.log(`imap bench: FETCH of ${fetched} full headers: ${ms(t0).toFixed(1)} ms (${(r.length / 1024).toFixed(0)} KB)`);

  await c.cmd('SELECT Ten', 60_000);
  t0 = process.hrtime.bigint();
  r = await c.cmd('SEARCH BODY "END ten-7777-needle"', 120_000);
  console.log(`imap bench: SEARCH BODY over 10000 messages of 4 KB: ${ms(t0).toFixed(1)} ms (${/\* SEARCH([\d ]*)/.exec(r)?.[1]?.trim()})`);

  // IDLE notification after a delivery by another session.
  const watcher = await login();
  await watcher.cmd('SELECT INBOX');
  watcher.write('i1 IDLE\r\n');
  await watcher.waitFor(/^\+ idling\r\n/m);
  const lat: number[] = [];
  for (let i = 0; i < 20; i++) {
    const tag = c.nextTag();
    const msg = `Subject: idle ${i}\r\n\r\nx\r\n`;
    const t1 = process.hrtime.bigint();
    c.write(`${tag} APPEND INBOX {${msg.length}+}\r\n${msg}\r\n`);
    await watcher.waitFor(new RegExp(`\\* ${i + 1} EXISTS\\r\\n`), 5000);
    lat.push(ms(t1));
    await c.waitFor(new RegExp(`${tag} OK[^\\r\\n]*\\r\\n`));
  }
  lat.sort((a, b) => a - b);
  console.log(`imap bench: IDLE notification after APPEND by another session: p50 ${lat[10]!.toFixed(1)} ms, max ${lat[19]!.toFixed(1)} ms  [target < 100 ms]`);
  watcher.write('DONE\r\n');
  watcher.close();
  c.close();

  const ours = await mixedLoad(imaps, true, USER, PASSWORD);
  let line = `imap bench: 10 clients doing select/append/fetch/store/expunge: ${ours.toFixed(0)} commands/s (IMAPS)`;
  if (dovecotInstalled()) {
    // Over TLS too, with the certificate Postino made, so both pay the same.
    const tls = { certFile: path.join(dir, 'tls', 'selfsigned.crt'), keyFile: path.join(dir, 'tls', 'selfsigned.key') };
    const dovecot = await startDovecotLmtp({ users: [USER], password: PASSWORD, tls, scratchRoot: makeScratchDir('postino-bench-dovecot-'), keep: true });
    try {
      const theirs = await mixedLoad(dovecot.imapsPort, true, USER, PASSWORD);
      line += `; Dovecot ${theirs.toFixed(0)} commands/s (IMAPS): ratio ${(ours / theirs).toFixed(2)}`;
    } finally {
      await dovecot.stop();
    }
  }
  console.log(line);

}
finally {
  await server.stop();
}

// Idle authenticated connections, on a fresh server over a small data dir
// (so startup work on the big mailboxes does not blur the figure), from
// several loopback addresses (the per-IP cap is 100).
const smallDir = makeScratchDir('postino-bench-imap-idle-');
{
  const storage = openStorage(smallDir, { indexer: indexMessageJson });
  await new AdminService(storage).addDomain('example.test', USER, { password: PASSWORD, allowWeak: false });
  storage.close();
}
// The default cap on open IMAP connections is 1,000; the bench opens that many and a few more.
writeFileSync(path.join(smallDir, 'postino.json'), JSON.stringify({ limits: { maxConnections: { imap: idleConnections + 100 } } }));
const fresh = startServe(process.execPath, [cliPath, 'serve', '--data', smallDir], { ...ports, POSTINO_DEMO: '0' });
try {
  imaps = Number((await fresh.waitFor((e) => e.event === 'listening' && e.service === 'imaps')).port);
  await fresh.waitFor((e) => e.event === 'ready');
  const pid = fresh.child.pid!;
  const warm = await login();
  await warm.cmd('SELECT INBOX');
  // Warm up: each login runs scrypt (16 MB) in the thread pool, and the
  // allocator keeps that memory; log in a few batches first so the figure
  // below is the connections' own cost, not the hashing's.
  for (let round = 0; round < 3; round++) {
    const batch = await Promise.all(Array.from({ length: 20 }, () => login()));
    for (const b of batch) b.close();
  }
  await new Promise((res) => setTimeout(res, 2000));
  const before = rssKb(pid);
  const conns: RawImap[] = [];
  for (let i = 0; i < idleConnections; i += 20) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(20, idleConnections - i) }, (_, k) => login(`127.0.0.${2 + Math.floor((i + k) / 90)}`)),
    );
    for (const b of batch) {
      await b.cmd('SELECT INBOX');
      conns.push(b);
    }
  }
  await new Promise((res) => setTimeout(res, 2000));
  const after = rssKb(pid);
  console.log(
    `imap bench: ${conns.length} idle authenticated connections (TLS, INBOX selected): server RSS ${(after / 1024).toFixed(0)} MB total, ` +
      `+${((after - before) / 1024).toFixed(0)} MB over ${(before / 1024).toFixed(0)} MB, ${((after - before) / conns.length).toFixed(0)} KB per connection  [target < 100 MB]`,
  );
  for (const x of conns) x.close();
  warm.close();
} finally {
  await fresh.stop();
  removeScratch();
}
