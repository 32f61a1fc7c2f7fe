// The cross-node change feed after a lost connection: node B's LISTEN
// connection is killed from the server side, node A appends, flags and
// expunges while B does not listen, and once B listens again its
// subscribers are told they may have missed changes and read them back
// from their MODSEQ; an IMAP IDLE on a real `serve` node B shows them
// without any client command. The first connect tells nobody anything.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { PgChangeFeed } from '../../storage/postgres/change-feed.js';
import type { MailboxChange } from '../../storage/ports.js';
import { startPostgres, type PostgresCluster } from '../support/postgres.js';
import { twoStorageNodes, aliceMessage as msg } from '../support/pg-nodes.js';
import { scratchDir } from '../support/tmp.js';
import { startServe, portOf, FREE_PORTS as freePorts, type Served } from '../support/serve.js';
import { cliPath } from '../support/paths.js';
import { RawImap } from './imap-raw-client.js';

let cluster: PostgresCluster;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

async function until(pred: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`${what}: not in time`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A superuser connection to the cluster, to see and end other sessions. */
async function admin(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/** Ends the sessions whose application_name matches `pattern` (LIKE); returns how many. */
async function terminate(client: pg.Client, pattern: string): Promise<number> {
  const { rows } = await client.query('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name LIKE $1 AND pid <> pg_backend_pid()', [pattern]);
  return rows.filter((r: { ok: boolean }) => r.ok).length;
}

async function sessions(client: pg.Client, pattern: string): Promise<number> {
  const { rows } = await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE $1', [pattern]);
  return rows[0].n as number;
}

test('the first connect tells no subscriber it missed anything; a reconnect tells each once, and not one that left', { timeout: 60_000 }, async () => {
  const { url, b, alice, close } = await twoStorageNodes(cluster);
  const db = await admin(url);
  try {
    const feed = b.mail.feed as PgChangeFeed;
    let missedKept = 0;
    let missedLeft = 0;
    const heard: MailboxChange[] = [];
    const stopKept = feed.subscribe(alice, (c) => heard.push(c), () => missedKept++);
    const stopLeft = feed.subscribe(alice, () => {}, () => missedLeft++);
    // Connected and listening (twoNodes waited for it); watch() again is the same connection.
    await feed.watch();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(missedKept + missedLeft, 0, 'the first LISTEN is no reconnect');
    assert.equal(await sessions(db, feed.applicationName), 1, 'the listening connection carries its name');

    stopLeft();
    assert.equal(await terminate(db, feed.applicationName), 1);
    await until(() => missedKept > 0, 'missed after the reconnect');
    await until(async () => (await sessions(db, feed.applicationName)) === 1, 'listening again');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(missedKept, 1, 'told once per reconnect');
    assert.equal(missedLeft, 0, 'a subscriber that left is not told');
    stopKept();
  } finally {
    await db.end();
    await close();
  }
});

test("two nodes: B's LISTEN connection is killed, A appends, flags and expunges meanwhile; B's subscriber is told after the reconnect and reads every change back from its MODSEQ", { timeout: 60_000 }, async (t) => {
  const { url, a, b, alice, close } = await twoStorageNodes(cluster);
  const db = await admin(url);
  try {
    const feedB = b.mail.feed as PgChangeFeed;
    for (let i = 1; i <= 3; i++) await a.mail.append(alice, 'INBOX', msg(`before${i}`));
    const box = (await b.mail.getMailbox(alice, 'INBOX'))!;
    const known = box.highestModseq;

    const heard: MailboxChange[] = [];
    let missed = 0;
    const stop = feedB.subscribe(alice, (c) => heard.push(c), () => missed++);

    assert.equal(await terminate(db, feedB.applicationName), 1, "B's listening connection ended by the server");
    await until(async () => (await sessions(db, feedB.applicationName)) === 0, 'B not listening');
    const appended = await a.mail.append(alice, 'INBOX', msg('while-down'));
    await a.mail.setFlags(box.id, [1], 'add', ['\\Flagged']);
    await a.mail.expunge(box.id, [2]);
    const stillDown = (await sessions(db, feedB.applicationName)) === 0;
    // The reconnect comes a second after the loss: on a machine that slow, the changes may be heard after all.
    t.diagnostic(`changes made while B did not listen: ${stillDown}; heard on B's feed: ${heard.length}`);
    if (stillDown) assert.equal(heard.length, 0, 'nothing reaches B while it does not listen');

    await until(() => missed > 0, "B's subscriber told it may have missed changes");
    // What a session does then: changesSince from the MODSEQ it knows.
    const delta = (await b.mail.changesSince(box.id, known, alice))!;
    assert.ok(delta, 'the mailbox is there');
    const expunged = await b.mail.expungedSince(box.id, known);
    assert.deepEqual(expunged, [2]);
    const seen = JSON.stringify(delta);
    assert.match(seen, /\\\\Flagged/, `the flag change is in the delta: ${seen}`);
    assert.ok(seen.includes(`"uid":${appended.uid}`), `the new message is in the delta: ${seen}`);
    assert.equal(missed, 1);
    stop();

    // Listening again: the next change on A is heard on B through the feed.
    const heardAfter: MailboxChange[] = [];
    const stop2 = feedB.subscribe(alice, (c) => heardAfter.push(c));
    const later = await a.mail.append(alice, 'INBOX', msg('after'));
    await until(() => heardAfter.some((c) => c.kind === 'append' && c.uid === later.uid), 'heard after the reconnect');
    stop2();
  } finally {
    await db.end();
    await close();
  }
});

test("a node's own changes while its LISTEN connection is down reach its own subscribers at once", { timeout: 60_000 }, async () => {
  const { url, b, alice, close } = await twoStorageNodes(cluster);
  const db = await admin(url);
  try {
    const feedB = b.mail.feed as PgChangeFeed;
    const heard: MailboxChange[] = [];
    const stop = feedB.subscribe(alice, (c) => heard.push(c));
    await terminate(db, feedB.applicationName);
    await until(async () => (await sessions(db, feedB.applicationName)) === 0, 'B not listening');
    const r = await b.mail.append(alice, 'INBOX', msg('own'));
    await until(() => heard.some((c) => c.kind === 'append' && c.uid === r.uid), 'own change heard', 2000);
    stop();
  } finally {
    await db.end();
    await close();
  }
});

// ---- two real `serve` nodes -------------------------------------------------

test("two serve nodes: the feed connections are killed while A appends, flags and expunges; B's IMAP IDLE shows it all after the reconnect, with no client command", { timeout: 120_000 }, async (t) => {
  const url = await cluster.createDatabase();
  const dirA = scratchDir();
  const dirB = scratchDir();
  let a: Served | undefined;
  let b: Served | undefined;
  const db = await admin(url);
  try {
    a = startServe(process.execPath, [cliPath, 'serve', '--data', dirA.dir], { ...freePorts, POSTINO_STORAGE_URL: url });
    const demo = await a.waitFor((e) => e.event === 'demo');
    await a.waitFor((e) => e.event === 'ready');
    b = startServe(process.execPath, [cliPath, 'serve', '--data', dirB.dir], { ...freePorts, POSTINO_STORAGE_URL: url });
    await b.waitFor((e) => e.event === 'ready');
    const login = `LOGIN ${demo.login} "${demo.password}"`;

    const onA = await RawImap.connect(await portOf(a, 'imaps'), true);
    const onB = await RawImap.connect(await portOf(b, 'imaps'), true);
    try {
      assert.match(await onA.cmd(login), /OK/);
      assert.match(await onA.cmd('SELECT INBOX'), /OK/);
      for (const s of ['one', 'two']) {
        assert.match(await onA.cmd(`APPEND INBOX {${msg(s).length}+}\r\n${msg(s).toString()}`), /OK/);
      }
      assert.match(await onB.cmd(login), /OK/);
      assert.match(await onB.cmd('SELECT INBOX'), /\* 2 EXISTS/);
      onB.write('i1 IDLE\r\n');
      await onB.waitFor(/^\+ [^\r\n]*\r\n/m);

      // Every node's feed connection is ended, and ended again should it come back, while A makes its changes.
      assert.ok((await terminate(db, 'postino-feed-%')) >= 2, 'both nodes listened');
      let killing = true;
      const killer = (async () => {
        while (killing) {
          await terminate(db, 'postino-feed-%');
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      try {
        assert.match(await onA.cmd(`APPEND INBOX {${msg('three').length}+}\r\n${msg('three').toString()}`), /OK/);
        assert.match(await onA.cmd('STORE 1 +FLAGS (\\Flagged)'), /OK/);
        assert.match(await onA.cmd('STORE 2 +FLAGS (\\Deleted)'), /OK/);
        assert.match(await onA.cmd('EXPUNGE'), /\* 2 EXPUNGE/);
      } finally {
        killing = false;
        await killer;
      }
      const quiet = onB.pending();
      t.diagnostic(`B's IDLE before the reconnect: ${JSON.stringify(quiet)}`);
      const started = performance.now();
      // Reconnect a second after the last loss, then the catch-up: generous for a loaded machine.
      // Message 2 went (2 EXPUNGE), "three" came in its place at number 2 (2 EXISTS), message 1 was flagged.
      await until(() => /\* 2 EXISTS\r\n/.test(onB.pending()) && /\* 1 FETCH \(FLAGS \([^)]*\\Flagged/.test(onB.pending()) && /\* 2 EXPUNGE\r\n/.test(onB.pending()), `B's IDLE catches up (got ${JSON.stringify(onB.pending())})`, 15_000);
      t.diagnostic(`caught up ${(performance.now() - started).toFixed(0)} ms after the killing stopped: ${JSON.stringify(onB.pending())}`);
      onB.write('DONE\r\n');
      await onB.waitFor(/i1 OK[^\r\n]*\r\n/);
      assert.match(await onB.cmd('FETCH 2 BODY.PEEK[HEADER.FIELDS (SUBJECT)]'), /Subject: three/);
    } finally {
      onA.close();
      onB.close();
    }
  } finally {
    await db.end();
    if (a) assert.equal(await a.stop(), 0);
    if (b) assert.equal(await b.stop(), 0);
    dirA.cleanup();
    dirB.cleanup();
  }
});
