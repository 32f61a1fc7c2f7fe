// Two Postino "nodes" on one PostgreSQL database: two storages opened on
// the same database, as two processes on two machines would. What one
// commits reaches the other's change feed (LISTEN/NOTIFY), and writers
// spread over both allocate UIDs with no gap and no duplicate.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPostgresStorage } from '../../storage/postgres/index.js';
import type { MailboxChange } from '../../storage/ports.js';
import { startPostgres, type PostgresCluster } from '../support/postgres.js';
import { twoStorageNodes, aliceMessage as msg } from '../support/pg-nodes.js';

let cluster: PostgresCluster;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

test('two nodes: an append, a flag change and an expunge on one reach the other\'s feed, each once, well within 200 ms', async (t) => {
  const { a, b, alice, close } = await twoStorageNodes(cluster);
  try {
    const heardOnB: Array<{ change: MailboxChange; at: number }> = [];
    const heardOnA: MailboxChange[] = [];
    const stopB = b.mail.feed.subscribe(alice, (change) => heardOnB.push({ change, at: performance.now() }));
    const stopA = a.mail.feed.subscribe(alice, (change) => heardOnA.push(change));
    const waitFor = async (pred: () => boolean, ms = 5000) => {
      const end = Date.now() + ms;
      while (!pred()) {
        if (Date.now() > end) throw new Error('not heard in time');
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    const latencies: number[] = [];
    for (let i = 1; i <= 10; i++) {
      const start = performance.now();
      const r = await a.mail.append(alice, 'INBOX', msg(`x${i}`));
      await waitFor(() => heardOnB.some((h) => h.change.kind === 'append' && h.change.uid === r.uid));
      const heard = heardOnB.find((h) => h.change.kind === 'append' && h.change.uid === r.uid)!;
      latencies.push(heard.at - start);
      assert.deepEqual(heard.change, { kind: 'append', accountId: alice, mailboxId: r.mailboxId, uid: r.uid, modseq: r.modseq, flags: [] });
    }
    latencies.sort((x, y) => x - y);
    const median = latencies[Math.floor(latencies.length / 2)]!;
    t.diagnostic(`append on A to B's subscriber, ms: ${latencies.map((l) => l.toFixed(1)).join(' ')}`);
    // From the append's call to the other node's subscriber (the append's own commit included).
    assert.ok(median < 200, `median append-to-other-node latency ${median.toFixed(1)} ms (all: ${latencies.map((l) => l.toFixed(0)).join(' ')})`);

    const box = (await b.mail.getMailbox(alice, 'INBOX'))!.id;
    await b.mail.setFlags(box, [1], 'add', ['\\Seen']);
    await b.mail.expunge(box, [2]);
    await waitFor(() => heardOnA.some((c) => c.kind === 'expunge'));
    const fromB = heardOnA.filter((c) => c.kind === 'flags' || c.kind === 'expunge');
    assert.deepEqual(
      fromB.map((c) => [c.kind, (c as { uid: number }).uid]),
      [
        ['flags', 1],
        ['expunge', 2],
      ],
    );
    assert.equal(heardOnB.filter((h) => h.change.kind === 'append').length, 10, "a node hears each change once (its own are not echoed back)");
    assert.equal(heardOnA.filter((c) => c.kind === 'append').length, 10, 'the appending node hears its own appends once');
    stopA();
    stopB();
  } finally {
    await close();
  }
});

test('two nodes: a unit of work that rolls back announces nothing to the other node', async () => {
  const { a, b, alice, close } = await twoStorageNodes(cluster);
  try {
    const heardOnB: MailboxChange[] = [];
    const stop = b.mail.feed.subscribe(alice, (c) => heardOnB.push(c));
    await a.mail.append(alice, 'INBOX', msg('r1'));
    const box = (await a.mail.getMailbox(alice, 'INBOX'))!.id;
    await assert.rejects(
      a.transaction(async (tx) => {
        await tx.mail.setFlags(box, [1], 'add', ['\\Flagged']);
        throw new Error('undo');
      }),
      /undo/,
    );
    // A committed change after it: once it is heard, the rolled-back one would have been too.
    await a.mail.setFlags(box, [1], 'add', ['\\Seen']);
    const end = Date.now() + 5000;
    while (!heardOnB.some((c) => c.kind === 'flags') && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(
      heardOnB.filter((c) => c.kind === 'flags').map((c) => (c as { flags: string[] }).flags),
      [['\\Seen']],
    );
    stop();
  } finally {
    await close();
  }
});

test('two nodes: 8 concurrent writers spread over both append to one mailbox: UIDs 1..n with no gap and no duplicate, MODSEQs rising with them', async () => {
  const { a, b, alice, close } = await twoStorageNodes(cluster);
  try {
    const perWriter = 15;
    const writers = Array.from({ length: 8 }, (_, w) => (async () => {
      const node = w % 2 === 0 ? a : b;
      const got = [];
      for (let i = 0; i < perWriter; i++) got.push(await node.mail.append(alice, 'INBOX', msg(`w${w}-${i}`)));
      return got;
    })());
    const results = (await Promise.all(writers)).flat();
    const n = 8 * perWriter;
    const byUid = [...results].sort((x, y) => x.uid - y.uid);
    assert.deepEqual(byUid.map((r) => r.uid), Array.from({ length: n }, (_, i) => i + 1));
    assert.ok(byUid.every((r, i) => i === 0 || r.modseq > byUid[i - 1]!.modseq), 'MODSEQ rises with the UID');
    for (const node of [a, b]) {
      const box = (await node.mail.getMailbox(alice, 'INBOX'))!;
      assert.deepEqual([box.uidNext, box.messages, box.highestModseq], [n + 1, n, byUid[n - 1]!.modseq]);
    }
    // Each writer's messages are stored under the UIDs it was given.
    for (const r of results.slice(0, 10)) {
      const text = (await b.mail.readMessage(r.mailboxId, r.uid)).toString();
      assert.ok(results.filter((x) => x.uid === r.uid).length === 1 && text.includes('body w'));
    }
  } finally {
    await close();
  }
});

test('bodies are stored once per content: the same message to two recipients and a copy share one row, which goes with its last message', async () => {
  const url = await cluster.createDatabase();
  const s = await openPostgresStorage(url);
  try {
    await s.directory.addDomain('example.test');
    const ids = [];
    for (const who of ['alice', 'bob']) {
      const id = (await s.directory.addAccount({ address: `${who}@example.test`, passwordHash: 'x', scramSha256: null, quota: null })).id;
      await s.mail.provisionAccount(id);
      ids.push(id);
    }
    const raw = msg('shared');
    const [ra, rb] = await Promise.all(ids.map((id) => s.mail.append(id, 'INBOX', raw)));
    await s.mail.copy(ra!.mailboxId, [ra!.uid], (await s.mail.getMailbox(ids[0]!, 'Archive'))!.id);
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const count = async () => Number((await client.query('SELECT count(*) AS n FROM blobs')).rows[0].n);
      assert.equal(await count(), 1, 'three messages, one body');
      await s.mail.expunge(ra!.mailboxId, [ra!.uid]);
      await s.mail.expunge(rb!.mailboxId, [rb!.uid]);
      await s.mail.drain();
      assert.equal(await count(), 1, 'the copy still uses it');
      await s.mail.deleteAccountMail(ids[0]!);
      await s.mail.drain();
      assert.equal(await count(), 0, 'no message uses it: removed');
    } finally {
      await client.end();
    }
  } finally {
    await s.end();
  }
});

test('two nodes: one runs the local-retry queue (its runner sees the entries and flush requests), the other takes over when it closes', async () => {
  const { a, b, close } = await twoStorageNodes(cluster);
  try {
    const e = await b.localRetry.enqueue('alice@example.test', ['x@remote.test'], msg('q'), 'submission');
    await b.localRetry.requestFlush();
    const [onA, onB] = [await a.localRetry.listIds(), await b.localRetry.listIds()];
    assert.equal([onA, onB].filter((ids) => ids.length === 1).length, 1, 'exactly one node runs the queue');
    const runner = onA.length === 1 ? a : b;
    const other = runner === a ? b : a;
    assert.deepEqual(await other.localRetry.takeFlushRequest(), false, 'left for the runner');
    assert.equal(await runner.localRetry.takeFlushRequest(), true);
    assert.deepEqual((await other.localRetry.list()).map((x) => x.id), [e.id], 'list answers on every node (CLI, admin)');
    await runner.end();
    // The other node takes the lease on a look after its retry interval.
    const end = Date.now() + 15_000;
    let ids: Array<{ id: string }> = [];
    while (ids.length === 0 && Date.now() < end) {
      ids = await other.localRetry.listIds();
      if (ids.length === 0) await new Promise((r) => setTimeout(r, 250));
    }
    assert.deepEqual(ids.map((x) => x.id), [e.id]);
  } finally {
    await close();
  }
});

test('two nodes, the local-retry queue: the runner node\'s watcher hears of its own entries; an entry or a hold made on the other node leaves it a rescan request, taken once', async () => {
  const { a, b, close } = await twoStorageNodes(cluster);
  try {
    // a takes the lease first: it runs the queues.
    await a.localRetry.listIds();
    assert.equal(await b.localRetry.takeRescanRequest(), false, 'only the node that runs the queues takes requests');
    const heardOnA: Array<string | null> = [];
    const heardOnB: Array<string | null> = [];
    await a.localRetry.watch((e) => void heardOnA.push(e ? e.id : null));
    await b.localRetry.watch((e) => void heardOnB.push(e ? e.id : null));
    const own = await a.localRetry.enqueue('alice@example.test', ['x@remote.test'], msg('own'), 'submission');
    const end = Date.now() + 10_000;
    while (heardOnA.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(heardOnA, [own.id]);
    assert.equal(await a.localRetry.takeRescanRequest(), false);

    const other = await b.localRetry.enqueue('alice@example.test', ['y@remote.test'], msg('other'), 'submission');
    // b's announcement is made after its commit, on its own: wait for the request to land.
    let taken = false;
    while (!taken && Date.now() < end) {
      taken = await a.localRetry.takeRescanRequest();
      if (!taken) await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(taken, true, 'the runner node is asked to look');
    assert.equal(await a.localRetry.takeRescanRequest(), false, 'taken once');
    assert.deepEqual((await a.localRetry.listIds()).map((h) => h.id).sort(), [own.id, other.id].sort(), 'and the look finds it');
    await b.localRetry.hold(other.id);
    taken = false;
    while (!taken && Date.now() < end) {
      taken = await a.localRetry.takeRescanRequest();
      if (!taken) await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(taken, true, 'a hold on the other node asks for a look too');
    assert.deepEqual(heardOnB, [], 'a node that does not run the queues tells its own watchers nothing (its runner would send twice)');
  } finally {
    await close();
  }
});

/** The lease columns of an outbound entry, read straight from the database. */
async function leaseOf(url: string, id: string): Promise<{ node: string | null; live: boolean } | undefined> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query("SELECT lease_node AS node, lease_until > now() AS live FROM queue_entries WHERE queue = 'outbound' AND id = $1", [id]);
    return rows[0] && { node: rows[0].node, live: rows[0].live === true };
  } finally {
    await client.end();
  }
}

test('two nodes, the outbound queue: both see every entry; one claims it at a time (its name in the lease row), gives it back, and a lease left to run out (a dead node) goes to the other', async () => {
  const url = await cluster.createDatabase();
  const [a, b] = await Promise.all([openPostgresStorage(url, { nodeName: 'node-a' }), openPostgresStorage(url, { nodeName: 'node-b' })]);
  try {
    const e = await b.queue.enqueue('alice@example.test', ['x@remote.test'], msg('lease'), 'submission');
    assert.deepEqual((await a.queue.listIds()).map((h) => h.id), [e.id], 'every node runs the outbound queue');
    assert.deepEqual((await b.queue.listIds()).map((h) => h.id), [e.id]);

    assert.equal((await a.queue.claim(e.id, 60_000))?.id, e.id);
    assert.deepEqual(await leaseOf(url, e.id), { node: 'node-a', live: true });
    assert.equal(await b.queue.claim(e.id, 60_000), undefined, "node-a's lease is live: node-b leaves it");
    assert.equal(await b.queue.renewClaim(e.id, 60_000), false, 'not its lease to renew');
    await b.queue.releaseClaim(e.id);
    assert.deepEqual(await leaseOf(url, e.id), { node: 'node-a', live: true }, 'nor to give back');
    // node-a records an outcome and gives it back: node-b sees that state when it claims.
    await a.queue.update({ ...e, attempts: 1 });
    await a.queue.releaseClaim(e.id);
    assert.deepEqual(await leaseOf(url, e.id), { node: 'node-a', live: false }, 'given back; the row still names who took it last');
    const onB = await b.queue.claim(e.id, 60_000);
    assert.equal(onB?.attempts, 1, "node-b reads node-a's record");
    assert.deepEqual(await leaseOf(url, e.id), { node: 'node-b', live: true });

    // node-b "dies" holding a short lease: node-a may take the entry once it ran out, not before.
    await b.queue.renewClaim(e.id, 1500);
    assert.equal(await a.queue.claim(e.id, 60_000), undefined);
    await new Promise((r) => setTimeout(r, 1700));
    assert.equal((await a.queue.claim(e.id, 60_000))?.id, e.id, 'taken over after the lease ran out');
    assert.deepEqual(await leaseOf(url, e.id), { node: 'node-a', live: true });
    assert.equal(await b.queue.renewClaim(e.id, 60_000), false, 'the old holder learns it lost the lease');

    // A restarted node-a is another holder: it waits for its old lease like everyone else.
    await a.end();
    const again = await openPostgresStorage(url, { nodeName: 'node-a' });
    try {
      assert.equal(await again.queue.claim(e.id, 60_000), undefined, 'the lease of the process before the restart is still live');
    } finally {
      await again.end();
    }
    // A held entry is claimed by nobody.
    const h = await b.queue.enqueue('alice@example.test', ['y@remote.test'], msg('held'), 'submission');
    await b.queue.hold(h.id);
    assert.equal(await b.queue.claim(h.id, 60_000), undefined);
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
});

test('two nodes, the outbound queue: 60 entries claimed by 8 claimers spread over both at once: each entry goes to one node only', async () => {
  const url = await cluster.createDatabase();
  const [a, b] = await Promise.all([openPostgresStorage(url, { nodeName: 'node-a' }), openPostgresStorage(url, { nodeName: 'node-b' })]);
  try {
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) ids.push((await a.queue.enqueue('alice@example.test', [`r${i}@remote.test`], msg(`c${i}`), 'submission')).id);
    const takenBy = new Map<string, number[]>();
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        const node = w % 2 === 0 ? a : b;
        // Each claimer runs through every entry in its own order.
        const order = w % 2 === 0 ? ids : [...ids].reverse();
        for (const id of order) {
          if (await node.queue.claim(id, 60_000)) takenBy.set(id, [...(takenBy.get(id) ?? []), w]);
        }
      }),
    );
    // A holder's own second claim is allowed (a runner never makes one: it holds the entry in flight);
    // what matters is that no entry went to both nodes.
    for (const id of ids) {
      const claimers = takenBy.get(id) ?? [];
      assert.ok(claimers.length >= 1, `${id} taken`);
      assert.equal(new Set(claimers.map((w) => w % 2)).size, 1, `${id} taken by one node only: ${claimers.join(',')}`);
    }
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
});

test('inside a unit of work, port calls made side by side take turns on its connection; a refused one undoes only itself', async () => {
  const s = await openPostgresStorage(await cluster.createDatabase());
  try {
    await s.directory.addDomain('example.test');
    await s.transaction(async (tx) => {
      const results = await Promise.allSettled([
        tx.directory.addDomain('a.test'),
        tx.directory.addDomain('example.test'),
        tx.directory.addDomain('b.test'),
        tx.transaction(async (inner) => inner.directory.addDomain('c.test')),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    });
    assert.deepEqual((await s.directory.listDomains()).map((d) => d.name), ['a.test', 'b.test', 'c.test', 'example.test']);
  } finally {
    await s.end();
  }
});
