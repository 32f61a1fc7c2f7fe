// The shared-mailbox stress load in its full form: 10 sessions over IMAPS on
// one INBOX for 30 s each looping SELECT, FETCH (flags, envelope,
// structure, bodies), STORE of flags and keywords, STORE \Deleted +
// EXPUNGE and APPEND, every response checked (test/support/imap-stress.ts),
// against a real `postino serve` and then a scratch Dovecot with the same
// certificate. Prints commands/s, inconsistencies and logins, and the ratio.
// usage: node dist/bench/imap-stress.js [SECONDS [CLIENTS]]
import path from 'node:path';
import { SERVICES } from '../src/config.js';
import { startServe } from '../test/support/serve.js';
import { postino } from '../test/support/cli.js';
import { cliPath } from '../test/support/paths.js';
import { runImapStress, stressMessage, type StressResult } from '../test/support/imap-stress.js';
import { dovecotInstalled, startDovecotLmtp } from '../test/support/dovecot-lmtp.js';
import { RawImap } from '../test/integration/imap-raw-client.js';
import { makeScratchDir, removeScratch, waitForQuietDisk } from './scratch.js';

const seconds = Number(process.argv[2] ?? 30);
const clients = Number(process.argv[3] ?? 10);
const USER = 'stress@example.test';
const PASSWORD = 'correct horse staple 1234';

/** Starts every run from the same 60-message INBOX. */
async function seed(port: number): Promise<void> {
  const c = await RawImap.connect(port, true);
  await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`, 30_000);
  for (let i = 0; i < 60; i++) {
    const m = stressMessage(`seed-${i}`, 1000 + (i % 5) * 700);
    const tag = c.nextTag();
    c.write(`${tag} APPEND INBOX {${Buffer.byteLength(m)}+}\r\n${m}\r\n`);
    await c.waitFor(new RegExp(`${tag} OK[^\\r\\n]*\\r\\n`), 30_000);
  }
  c.close();
}

function line(name: string, r: StressResult): string {
  return (
    `${name}: ${(r.commands / seconds).toFixed(0)} commands/s, ${r.errors.length} inconsistencies, ` +
    `${r.logins} logins for ${clients} clients, ${r.appended} appended, ${r.expunged} expunged`
  );
}

await waitForQuietDisk();
const dir = makeScratchDir('postino-bench-stress-');
const add = postino(dir, ['domain', 'add', 'example.test', '--postmaster', USER, '--password-stdin'], `${PASSWORD}\n`);
if (add.code !== 0) throw new Error(add.stderr);
const ports = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const server = startServe(process.execPath, [cliPath, 'serve', '--data', dir], { ...ports, POSTINO_DEMO: '0' });
let ours: StressResult;
try {
  const imaps = Number((await server.waitFor((e) => e.event === 'listening' && e.service === 'imaps')).port);
  await server.waitFor((e) => e.event === 'ready');
  await seed(imaps);
  ours = await runImapStress({ port: imaps, secure: true, user: USER, password: PASSWORD, clients, seconds, seed: 11 });
  console.log(line('imap stress, Postino', ours));
  for (const e of ours.errors.slice(0, 10)) console.log(`  ${e}`);
} finally {
  await server.stop();
}
if (dovecotInstalled()) {
  const tls = { certFile: path.join(dir, 'tls', 'selfsigned.crt'), keyFile: path.join(dir, 'tls', 'selfsigned.key') };
  const dovecot = await startDovecotLmtp({ users: [USER], password: PASSWORD, tls, scratchRoot: makeScratchDir('postino-bench-stress-dovecot-'), keep: true });
  try {
    await seed(dovecot.imapsPort);
    const theirs = await runImapStress({ port: dovecot.imapsPort, secure: true, user: USER, password: PASSWORD, clients, seconds, seed: 11 });
    console.log(line('imap stress, Dovecot', theirs));
    for (const e of theirs.errors.slice(0, 10)) console.log(`  ${e}`);
    console.log(`imap stress: ratio Postino/Dovecot ${(ours.commands / theirs.commands).toFixed(2)}`);
  } finally {
    await dovecot.stop();
  }
} else console.log('imap stress: Dovecot is not installed; no comparison');
removeScratch();
