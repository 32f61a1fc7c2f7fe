// Two `postino serve` nodes on one PostgreSQL send one outbound queue
// through a sink smarthost: 200 messages queued, node A killed with SIGKILL
// in the middle of sending and started again. Every message reaches the
// sink exactly once (counted by Message-ID), and the lease rows named both
// nodes while they sent.
//
// The kill lands where no duplicate is allowed: the sink holds its replies
// to the end of DATA ("paused"), so A dies with messages in flight whose
// 250 never came. The one window where a duplicate is possible (after the
// remote's 250, before the record) is closed on purpose here by waiting a
// moment after the pause; it is documented in src/outbound/runner.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { scratchDir } from '../support/tmp.js';
import { startServe, FREE_PORTS as freePorts, type Served } from '../support/serve.js';
import { cliPath } from '../support/paths.js';
import { startPostgres, type PostgresCluster } from '../support/postgres.js';
import { openPostgresStorage } from '../../storage/postgres/index.js';
import { startHoldingSink } from '../support/holding-sink.js';

const COUNT = 200;

let cluster: PostgresCluster;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

function message(i: number): Buffer {
  return Buffer.from(`From: alice@example.test\r\nTo: r${i}@remote.test\r\nSubject: n${i}\r\nMessage-ID: <m${i}@pgqueue.test>\r\n\r\nbody ${i}\r\n`);
}

async function until(what: string, pred: () => boolean | Promise<boolean>, ms = 40_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`not in time: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test(`two serve nodes send one PostgreSQL queue: ${COUNT} messages, one node killed (SIGKILL) mid-send and restarted; each message reaches the sink exactly once`, { timeout: 120_000 }, async (t) => {
  const url = await cluster.createDatabase();
  // Slow enough that both nodes are sending before the first could send everything (the second finds entries it did not make on its safety pass, within leaseSeconds).
  const sink = await startHoldingSink(150);
  const dirs = { 'node-a': scratchDir(), 'node-b': scratchDir() };
  const nodes: Record<string, Served | undefined> = {};
  const start = (name: 'node-a' | 'node-b') => {
    const dir = dirs[name].dir;
    writeFileSync(
      path.join(dir, 'postino.json'),
      JSON.stringify({
        hostname: 'mx.example.test',
        demo: false,
        node: { name, leaseSeconds: 3 },
        storage: { url },
        relay: { smarthost: { host: '127.0.0.1', port: sink.port, tls: 'opportunistic' }, schedule: { retrySeconds: [1] } },
      }),
    );
    nodes[name] = startServe(process.execPath, [cliPath, 'serve', '--data', dir], { ...freePorts, POSTINO_LOG_LEVEL: 'info' });
    return nodes[name]!;
  };
  const db = new pg.Client({ connectionString: url });
  const leaseNodes = new Set<string>();
  let sampling: NodeJS.Timeout | undefined;
  try {
    await start('node-a').waitFor((e) => e.event === 'ready');
    await start('node-b').waitFor((e) => e.event === 'ready');
    await db.connect();
    // Who holds leases, sampled while the queue is sent (a sent entry's row goes with it).
    sampling = setInterval(() => {
      db.query<{ node: string }>("SELECT DISTINCT lease_node AS node FROM queue_entries WHERE queue = 'outbound' AND lease_node IS NOT NULL")
        .then((r) => r.rows.forEach((row) => leaseNodes.add(row.node)))
        .catch(() => {});
    }, 50);

    // Queued as `postino deliver` or the admin API would: through the queue port, from another process.
    const producer = await openPostgresStorage(url, { nodeName: 'producer' });
    try {
      for (let i = 0; i < COUNT; i++) await producer.queue.enqueue('alice@example.test', [`r${i}@remote.test`], message(i), 'submission');
    } finally {
      await producer.end();
    }

    // Both nodes are sending; then the sink stops answering, and node A dies with messages in flight.
    const sentBy = (name: string) => nodes[name]?.events.filter((e) => e.event === 'outbound-attempt' && e.status === 'sent').length ?? 0;
    await until('both nodes sending', () => sentBy('node-a') >= 5 && sentBy('node-b') >= 5 && sink.accepted.length >= 40);
    sink.pause();
    await new Promise((r) => setTimeout(r, 500));
    const inFlightOnA = (await db.query("SELECT count(*)::int AS n FROM queue_entries WHERE queue = 'outbound' AND lease_node = 'node-a' AND lease_until > now()")).rows[0].n as number;
    const acceptedAtKill = sink.accepted.length;
    nodes['node-a']!.child.kill('SIGKILL');
    await new Promise<void>((resolve) => nodes['node-a']!.child.once('exit', () => resolve()));
    t.diagnostic(`killed node-a with ${inFlightOnA} entries leased to it, ${acceptedAtKill} of ${COUNT} at the sink`);
    assert.ok(acceptedAtKill < COUNT && inFlightOnA > 0, 'killed in the middle, with entries in flight');
    // The sink sees node-a's connections close before it answers again.
    await new Promise((r) => setTimeout(r, 300));
    sink.resume();

    // node-b takes node-a's entries once their leases run out; node-a comes back and joins in.
    await new Promise((r) => setTimeout(r, 1000));
    await start('node-a').waitFor((e) => e.event === 'ready');
    await until(`all ${COUNT} at the sink`, () => new Set(sink.accepted).size >= COUNT);
    await until('the queue empty', async () => (await db.query("SELECT count(*)::int AS n FROM queue_entries WHERE queue = 'outbound'")).rows[0].n === 0);
    // Anything sent twice would arrive about now.
    await new Promise((r) => setTimeout(r, 1000));

    const counts = new Map<string, number>();
    for (const id of sink.accepted) counts.set(id, (counts.get(id) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    assert.deepEqual(twice, [], 'no message reached the sink twice');
    assert.deepEqual([...counts.keys()].sort(), Array.from({ length: COUNT }, (_, i) => `m${i}@pgqueue.test`).sort(), 'every message reached it');
    assert.deepEqual([...leaseNodes].sort(), ['node-a', 'node-b'], 'the lease rows named both nodes');
    for (const served of Object.values(nodes)) assert.deepEqual(served!.events.filter((e) => /lease/.test(String(e.event))), [], 'no lease was lost or failed to renew');
    // Every log line says which node wrote it.
    for (const name of ['node-a', 'node-b']) {
      const events = nodes[name]!.events;
      assert.ok(events.length > 0 && events.every((e) => e.node === name), `${name}'s lines carry node=${name}`);
    }
    t.diagnostic(`sent: node-a (after restart) ${sentBy('node-a')}, node-b ${sentBy('node-b')}`);
  } finally {
    if (sampling) clearInterval(sampling);
    for (const served of Object.values(nodes)) await served?.stop().catch(() => null);
    await db.end().catch(() => {});
    await sink.stop();
    for (const d of Object.values(dirs)) d.cleanup();
  }
});
