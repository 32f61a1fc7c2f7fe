// Two `postino serve` nodes on one PostgreSQL database (storage.url through
// POSTINO_STORAGE_URL), each with a data dir of its own: a message
// delivered over LMTP on node A shows up in an IMAP IDLE on node B.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { scratchDir } from '../support/tmp.js';
import { startServe, portOf, FREE_PORTS as freePorts, type Served } from '../support/serve.js';
import { cliPath } from '../support/paths.js';
import { startPostgres, type PostgresCluster } from '../support/postgres.js';
import { RawImap } from './imap-raw-client.js';

let cluster: PostgresCluster;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

/** One LMTP transaction; resolves with the reply to the message (one recipient). */
async function lmtp(port: number, rcpt: string, message: string): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port });
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString()));
  const reply = async (code: RegExp) => {
    const end = Date.now() + 10_000;
    for (;;) {
      const lines = data.split('\r\n');
      const last = lines.findIndex((l) => /^\d{3} /.test(l));
      if (last >= 0) {
        const text = lines.slice(0, last + 1).join('\r\n');
        data = lines.slice(last + 1).join('\r\n');
        assert.match(text, code);
        return text;
      }
      if (Date.now() > end) throw new Error(`no LMTP reply; got ${data}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  try {
    await reply(/^220/);
    socket.write('LHLO test\r\n');
    await reply(/250/);
    socket.write('MAIL FROM:<a@remote.test>\r\n');
    await reply(/^250/);
    socket.write(`RCPT TO:<${rcpt}>\r\n`);
    await reply(/^250/);
    socket.write('DATA\r\n');
    await reply(/^354/);
    socket.write(message.replace(/\r?\n/g, '\r\n') + '\r\n.\r\n');
    return await reply(/^250/);
  } finally {
    socket.destroy();
  }
}

test('two serve nodes on one PostgreSQL: an LMTP delivery on A reaches an IMAP IDLE on B', { timeout: 120_000 }, async (t) => {
  const url = await cluster.createDatabase();
  const dirA = scratchDir();
  const dirB = scratchDir();
  let a: Served | undefined;
  let b: Served | undefined;
  try {
    a = startServe(process.execPath, [cliPath, 'serve', '--data', dirA.dir], { ...freePorts, POSTINO_STORAGE_URL: url });
    const demo = await a.waitFor((e) => e.event === 'demo');
    await a.waitFor((e) => e.event === 'ready');
    b = startServe(process.execPath, [cliPath, 'serve', '--data', dirB.dir], { ...freePorts, POSTINO_STORAGE_URL: url });
    await b.waitFor((e) => e.event === 'ready');
    assert.ok(!b.events.some((e) => e.event === 'demo'), 'B finds the accounts A made: no second demo');

    const imap = await RawImap.connect(await portOf(b, 'imaps'), true);
    try {
      assert.match(await imap.cmd(`LOGIN ${demo.login} "${demo.password}"`), /t1 OK/);
      assert.match(await imap.cmd('SELECT INBOX'), /\* 0 EXISTS/);
      imap.write('t9 IDLE\r\n');
      await imap.waitFor(/^\+ [^\r\n]*\r\n/m);
      const started = performance.now();
      const reply = await lmtp(await portOf(a, 'lmtp'), String(demo.login), 'From: a@remote.test\nTo: demo@example.test\nSubject: across nodes\n\nhello from A');
      assert.match(reply, /^250/);
      await imap.waitFor(/\* 1 EXISTS\r\n/, 10_000);
      const ms = performance.now() - started;
      imap.write('DONE\r\n');
      await imap.waitFor(/t9 OK[^\r\n]*\r\n/);
      assert.match(await imap.cmd('FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]'), /Subject: across nodes/);
      // From the LMTP connection to the EXISTS on the other node: generous for a loaded machine.
      t.diagnostic(`LMTP on A to EXISTS on B: ${ms.toFixed(0)} ms`);
      assert.ok(ms < 5000, `delivery on A seen in IDLE on B after ${ms.toFixed(0)} ms`);
    } finally {
      imap.close();
    }
  } finally {
    if (a) assert.equal(await a.stop(), 0);
    if (b) assert.equal(await b.stop(), 0);
    dirA.cleanup();
    dirB.cleanup();
  }
});
