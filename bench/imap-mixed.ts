// The mixed IMAP load (10 clients: SELECT, APPEND, FETCH, STORE, EXPUNGE on
// one INBOX) against Postino and Dovecot in alternating rounds, so a change
// in the machine's load hits both alike; prints each round's ratio and the
// median. Optionally INBOX_FILL messages are stored in INBOX first.
// usage: node dist/bench/imap-mixed.js [ROUNDS [SECONDS [INBOX_FILL]]]
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
import { mixedLoad } from './imap-load.js';

const rounds = Number(process.argv[2] ?? 4);
const seconds = Number(process.argv[3] ?? 10);
const inboxFill = Number(process.argv[4] ?? 0);
const USER = 'bench@example.test';
const PASSWORD = 'correct horse staple 1234';

if (!dovecotInstalled()) throw new Error('imap-mixed bench: Dovecot is not installed');
await waitForQuietDisk();
const dir = makeScratchDir('postino-bench-mixed-');
{
  const storage = openStorage(dir, { indexer: indexMessageJson });
  await new AdminService(storage).addDomain('example.test', USER, { password: PASSWORD, allowWeak: false });
  const account = (await storage.directory.getAccount(USER))!;
  const msg = makeMessage('fill', 2048);
  for (let i = 0; i < inboxFill; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, inboxFill - i) }, () => storage.mail.append(account.id, 'INBOX', msg)));
  }
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
  const dovecot = await startDovecotLmtp({ users: [USER], password: PASSWORD, tls, scratchRoot: makeScratchDir('postino-bench-dovecot-'), keep: true });
  try {
    if (inboxFill > 0) {
      // Dovecot gets the same INBOX, through its own APPEND.
      const c = await RawImap.connect(dovecot.imapsPort, true);
      await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`, 30_000);
      const body = makeMessage('fill', 2048).toString('latin1');
      // Pipelined (LITERAL+), a hundred at a time.
      for (let i = 0; i < inboxFill; i += 100) {
        const batch = Math.min(100, inboxFill - i);
        for (let k = 1; k < batch; k++) c.write(`f${i + k} APPEND INBOX {${body.length}+}\r\n${body}\r\n`);
        await c.cmd(`APPEND INBOX {${body.length}+}\r\n${body}`, 60_000);
      }
      c.close();
    }
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const ours = await mixedLoad(imaps, true, USER, PASSWORD, seconds);
      const theirs = await mixedLoad(dovecot.imapsPort, true, USER, PASSWORD, seconds);
      ratios.push(ours / theirs);
      console.log(`imap mixed round ${r + 1}: Postino ${ours.toFixed(0)} commands/s, Dovecot ${theirs.toFixed(0)} commands/s: ratio ${(ours / theirs).toFixed(2)}`);
    }
    ratios.sort((a, b) => a - b);
    const median = ratios.length % 2 ? ratios[(ratios.length - 1) / 2]! : (ratios[ratios.length / 2 - 1]! + ratios[ratios.length / 2]!) / 2;
    console.log(`imap mixed: median ratio Postino/Dovecot ${median.toFixed(2)} over ${rounds} rounds of ${seconds} s (INBOX filled with ${inboxFill})`);
  } finally {
    await dovecot.stop();
  }
} finally {
  await server.stop();
  removeScratch();
}
