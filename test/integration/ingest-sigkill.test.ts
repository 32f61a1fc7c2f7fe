// A real `postino serve` taking mail over 8 concurrent LMTP sessions (the
// group commit's load: deliveries share their fsync rounds) is killed with
// SIGKILL at a random moment, 3 times, and started again. What must hold:
// every message answered 250 is in INBOX once, whole; every message in
// INBOX (acknowledged or caught by the kill before its reply) is whole, in
// the index and on disk alike; tmp/ holds nothing that is visible.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { postino } from '../support/cli.js';
import { startServe, type Served } from '../support/serve.js';
import { openDialog } from '../support/smtp-dialog.js';
import { cliPath } from '../support/paths.js';
import { prng } from '../support/prng.js';
import { openSqliteParts } from '../../storage/index.js';
import { SERVICES } from '../../src/config.js';

const USER = 'kill@example.test';
const TRIALS = 3;
const SESSIONS = 8;
const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));

/** About 4 KB, every line naming the message, so any cut is seen. */
function body(id: string): string {
  return Array.from({ length: 64 }, (_, i) => `${id} line ${i} ${'x'.repeat(40)}`).join('\r\n') + '\r\n';
}

function message(id: string): string {
  return `From: <sender@remote.test>\r\nTo: <${USER}>\r\nSubject: kill ${id}\r\nMessage-ID: <${id}@remote.test>\r\n\r\n${body(id)}`;
}

/** The id a stored copy carries, and whether it is whole (its body exactly as sent, at its end). */
function check(stored: string): { id: string; whole: boolean } | undefined {
  const m = /^Message-ID: <([^>@]+)@remote\.test>\r$/m.exec(stored);
  if (!m) return undefined;
  return { id: m[1]!, whole: stored.endsWith(`\r\n\r\n${body(m[1]!)}`) };
}

const children: Served[] = [];
after(() => {
  for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
});

test(`serve killed with SIGKILL during concurrent LMTP deliveries (${TRIALS} trials): every 250 is stored once and whole, nothing half is visible`, { timeout: 300_000 }, async () => {
  const s = scratchDir('postino-ingest-kill-');
  const random = prng(20261206);
  try {
    writeFileSync(path.join(s.dir, 'postino.json'), JSON.stringify({ hostname: 'mx.example.test', demo: false }));
    const add = postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', USER, '--password-stdin'], 'a long enough passphrase 77\n');
    assert.equal(add.code, 0, add.stderr);
    const acked = new Set<string>();
    let sent = 0;

    const start = async () => {
      const served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], freePorts);
      children.push(served);
      await served.waitFor((e) => e.event === 'ready', 120_000);
      return { served, port: Number(served.events.find((e) => e.event === 'listening' && e.service === 'lmtp')!.port) };
    };

    for (let trial = 0; trial < TRIALS; trial++) {
      const { served, port } = await start();
      let killed = false;
      let firstAck!: () => void;
      const acking = new Promise<void>((r) => (firstAck = r));
      // Each session sends one message after another until the server is gone.
      const session = async () => {
        const d = await openDialog(port);
        try {
          if (!(await d.send('LHLO client.remote.test')).startsWith('250')) return;
          while (!killed) {
            const id = `t${trial}-${++sent}`;
            if (!(await d.send('MAIL FROM:<sender@remote.test>')).startsWith('250')) return;
            if (!(await d.send(`RCPT TO:<${USER}>`)).startsWith('250')) return;
            if (!(await d.send('DATA')).startsWith('354')) return;
            const [reply] = await d.data(message(id));
            if (!reply?.startsWith('250')) return;
            acked.add(id);
            firstAck();
          }
        } catch {
          // the connection died with the server
        } finally {
          d.close();
        }
      };
      const sessions = Array.from({ length: SESSIONS }, () => session());
      await acking;
      await new Promise((r) => setTimeout(r, 100 + Math.floor(random() * 900)));
      killed = true;
      served.child.kill('SIGKILL');
      await new Promise((r) => served.child.once('exit', r));
      await Promise.all(sessions);
    }
    assert.ok(acked.size > 0, 'some messages were acknowledged');

    // Started again: recovery makes the index agree with the files; then stopped, and everything looked at.
    const { served } = await start();
    assert.equal(await served.stop(), 0, served.stderr());
    const storage = openSqliteParts(s.dir);
    try {
      const account = storage.directory.getAccount(USER)!;
      const inbox = storage.mail.getMailbox(account.id, 'INBOX')!;
      const rows = storage.db.prepare('SELECT uid FROM messages WHERE mailbox_id = ?').pluck().all(inbox.id) as number[];
      const seen = new Map<string, number>();
      const indexedFiles = new Set<string>();
      for (const uid of rows) {
        const file = storage.mail.messagePath(inbox.id, uid);
        indexedFiles.add(path.basename(file));
        const c = check(readFileSync(file, 'latin1'));
        assert.ok(c, `uid ${uid}: a stored message without its Message-ID`);
        assert.ok(c.whole, `uid ${uid} (${c.id}): a half message is visible`);
        seen.set(c.id, (seen.get(c.id) ?? 0) + 1);
      }
      for (const id of acked) assert.equal(seen.get(id), 1, `${id} was answered 250 but is stored ${seen.get(id) ?? 0} times`);
      for (const [id, n] of seen) assert.equal(n, 1, `${id} is stored ${n} times`);
      // On disk: every file in new/ and cur/ is one the index knows (recovery adopted the committed-but-unreplied ones).
      const maildir = storage.mail.accountDir(account.id);
      for (const sub of ['new', 'cur']) {
        for (const name of readdirSync(path.join(maildir, sub))) {
          assert.ok(indexedFiles.has(name), `${sub}/${name} is on disk but not in the index`);
        }
      }
    } finally {
      storage.close();
    }
  } finally {
    s.cleanup();
  }
});
