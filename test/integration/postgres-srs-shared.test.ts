// Nodes on one PostgreSQL share one SRS secret: a bounce to an address one
// node made is accepted by every other (behind one MX name it may reach any
// of them). The first node to start keeps its own key as the shared one; a
// node whose own key lost still accepts bounces to what it signed with it,
// and never signs with it again; a node with no key of its own takes the
// shared one without writing a file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { loadOrCreateSrsSecret, SrsCodec, srsSecretPath } from '../../src/outbound/srs.js';
import { postino } from '../support/cli.js';
import { startServe, FREE_PORTS as freePorts, type Served } from '../support/serve.js';
import { openDialog } from '../support/smtp-dialog.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';
import { startPostgres, type PostgresCluster } from '../support/postgres.js';
import { cliPath } from '../support/paths.js';
import { scratchDir } from '../support/tmp.js';

let cluster: PostgresCluster;
let dns: DnsFixture;
const dirs = [scratchDir(), scratchDir(), scratchDir()];
const nodes: Served[] = [];

before(async () => {
  cluster = await startPostgres();
  dns = await startDnsFixture({ 'remote.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] } });
});

after(async () => {
  for (const n of nodes) await n.stop();
  await dns?.close();
  await cluster?.stop();
  for (const d of dirs) d.cleanup();
});

async function startNode(dir: string, url: string, name: string): Promise<number> {
  // Bounces wait in the queue: nothing listens at the smarthost's port.
  const relay = { smarthost: { host: '127.0.0.1', port: 1, tls: 'opportunistic' } };
  writeFileSync(path.join(dir, 'postino.json'), JSON.stringify({ hostname: 'mx.example.test', dns: { servers: dns.servers }, relay, node: { name } }));
  const served = startServe(process.execPath, [cliPath, 'serve', '--data', dir], { ...freePorts, POSTINO_DEMO: '0', POSTINO_STORAGE_URL: url });
  nodes.push(served);
  const port = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'smtp')).port);
  await served.waitFor((e) => e.event === 'ready');
  return port;
}

/** The RCPT reply to a bounce (null sender) for `to` on the MX port. */
async function bounceRcpt(port: number, to: string): Promise<string> {
  const d = await openDialog(port);
  try {
    assert.match(await d.send('EHLO bounce.remote.test'), /^250/);
    assert.match(await d.send('MAIL FROM:<>'), /^250/);
    const rcpt = await d.send(`RCPT TO:<${to}>`);
    await d.send('QUIT');
    return rcpt;
  } finally {
    d.close();
  }
}

test('nodes on one PostgreSQL accept bounces to SRS addresses any of them made', { timeout: 120_000 }, async () => {
  const url = await cluster.createDatabase();
  const [a, b, c] = dirs.map((d) => d.dir) as [string, string, string];
  const env = { POSTINO_STORAGE_URL: url };
  const add = postino(a, ['domain', 'add', 'example.test', '--postmaster', 'alice@example.test', '--password-stdin'], 'tangerine-otter-42\n', env);
  assert.equal(add.code, 0, add.stderr);
  // A and B each had a key of their own (single machines before); C has none.
  const keyA = loadOrCreateSrsSecret(a);
  const keyB = loadOrCreateSrsSecret(b);
  assert.ok(!keyA.equals(keyB));

  const portA = await startNode(a, url, 'node-a');
  const portB = await startNode(b, url, 'node-b');
  const portC = await startNode(c, url, 'node-c');

  // The first node's key became the shared one, stored once.
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const { rows } = await db.query<{ name: string; value: Buffer }>('SELECT name, value FROM shared_secrets');
    assert.deepEqual(rows.map((r) => r.name), ['srs']);
    assert.ok(rows[0]!.value.equals(keyA), 'node A started first: its key is shared');
  } finally {
    await db.end();
  }

  const signedA = new SrsCodec(keyA).encode('carol@remote.test', 'example.test')!;
  const signedB = new SrsCodec(keyB).encode('dave@remote.test', 'example.test')!;
  const signedElsewhere = new SrsCodec(Buffer.alloc(32, 7)).encode('eve@remote.test', 'example.test')!;
  for (const port of [portA, portB, portC]) {
    assert.match(await bounceRcpt(port, signedA), /^250/, 'the shared key is accepted on every node');
    assert.match(await bounceRcpt(port, signedElsewhere), /^550 5\.1\.1 /);
  }
  // B's old key: its own earlier addresses still come back to it; the others never knew that key.
  assert.match(await bounceRcpt(portB, signedB), /^250/);
  assert.match(await bounceRcpt(portA, signedB), /^550 5\.1\.1 /);
  assert.match(await bounceRcpt(portC, signedB), /^550 5\.1\.1 /);
  // C took the shared key without writing one of its own.
  assert.equal(existsSync(srsSecretPath(c)), false);
});
