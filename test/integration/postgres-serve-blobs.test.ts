// Two `postino serve` nodes on one PostgreSQL database sharing one blob
// directory (storage.blobs in each node's postino.json), each with a data
// dir of its own: a message delivered over LMTP on node A is read with
// BODY[] over IMAP on node B, byte for byte the file A wrote.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { startServe, portOf, FREE_PORTS as freePorts, type Served } from '../support/serve.js';
import { cliPath } from '../support/paths.js';
import { openDialog } from '../support/smtp-dialog.js';
import { startPostgres, type PostgresCluster } from '../support/postgres.js';
import { RawImap } from './imap-raw-client.js';

let cluster: PostgresCluster;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

/** The literal of the first BODY[] in a FETCH reply, as bytes (the client reads latin1: one char per byte). */
function bodyLiteral(reply: string): Buffer {
  const m = /BODY\[\] \{(\d+)\}\r\n/.exec(reply);
  assert.ok(m, `no BODY[] literal in ${reply.slice(0, 200)}`);
  const start = m.index + m[0].length;
  return Buffer.from(reply.slice(start, start + Number(m[1])), 'latin1');
}

async function fetchBody(port: number, login: string, password: string): Promise<Buffer> {
  const imap = await RawImap.connect(port, true);
  try {
    assert.match(await imap.cmd(`LOGIN ${login} "${password}"`), /OK/);
    assert.match(await imap.cmd('SELECT INBOX'), /\* 1 EXISTS/);
    return bodyLiteral(await imap.cmd('FETCH 1 BODY[]', 10_000));
  } finally {
    imap.close();
  }
}

test('two serve nodes sharing one blob directory: an LMTP delivery on A is read with BODY[] on B byte for byte', { timeout: 120_000 }, async () => {
  const url = await cluster.createDatabase();
  const shared = scratchDir('postino-blobs-');
  const dirA = scratchDir();
  const dirB = scratchDir();
  for (const dir of [dirA.dir, dirB.dir]) {
    writeFileSync(path.join(dir, 'postino.json'), JSON.stringify({ storage: { backend: 'postgres', url, blobs: shared.dir } }));
  }
  let a: Served | undefined;
  let b: Served | undefined;
  try {
    a = startServe(process.execPath, [cliPath, 'serve', '--data', dirA.dir], freePorts);
    const demo = await a.waitFor((e) => e.event === 'demo');
    await a.waitFor((e) => e.event === 'ready');
    b = startServe(process.execPath, [cliPath, 'serve', '--data', dirB.dir], freePorts);
    await b.waitFor((e) => e.event === 'ready');

    const lmtp = await openDialog(await portOf(a, 'lmtp'));
    try {
      assert.match(await lmtp.send('LHLO test'), /^250/m);
      assert.match(await lmtp.send('MAIL FROM:<a@remote.test>'), /^250/);
      assert.match(await lmtp.send(`RCPT TO:<${String(demo.login)}>`), /^250/);
      assert.match(await lmtp.send('DATA'), /^354/);
      const lines = Array.from({ length: 2000 }, (_, i) => `line ${i} of a body long enough to take several reads`);
      const [reply] = await lmtp.data(`From: a@remote.test\nTo: ${String(demo.login)}\nSubject: shared bodies\n\n${lines.join('\n')}\n`);
      assert.match(reply!, /^250/);
    } finally {
      lmtp.close();
    }

    const onB = await fetchBody(await portOf(b, 'imaps'), String(demo.login), String(demo.password));
    const onA = await fetchBody(await portOf(a, 'imaps'), String(demo.login), String(demo.password));
    assert.deepEqual(onB, onA, 'both nodes serve the same bytes');
    assert.match(onB.toString('latin1'), /Subject: shared bodies\r\n/);
    assert.match(onB.toString('latin1'), /line 1999 of a body long enough to take several reads\r\n$/);
    // The body is the one file in the shared directory, named by its SHA-256.
    const hex = createHash('sha256').update(onB).digest('hex');
    const files = (readdirSync(shared.dir, { recursive: true }) as string[]).filter((f) => /[0-9a-f]{64}$/.test(f));
    assert.deepEqual(files, [path.join(hex.slice(0, 2), hex.slice(2, 4), hex)]);
    assert.deepEqual(readFileSync(path.join(shared.dir, files[0]!)), onB);
  } finally {
    if (a) assert.equal(await a.stop(), 0);
    if (b) assert.equal(await b.stop(), 0);
    dirA.cleanup();
    dirB.cleanup();
    shared.cleanup();
  }
});
