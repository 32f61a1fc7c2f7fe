// Message bodies in a directory shared by two Postino "nodes" on one
// PostgreSQL database (storage.blobs, storage/postgres/blobs-directory.ts):
// two storages opened on the same database and the same directory, as two
// processes on two machines mounting one share would. Bodies are one file
// per content, removed with the last message that names them and never
// while a delivery is about to name them again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, renameSync, writeFileSync, existsSync, unlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { openPostgresStorage, type PostgresStorage, type OpenPostgresOptions } from '../../storage/postgres/index.js';
import { blobPath } from '../../storage/postgres/blobs-directory.js';
import { collectUnnamed } from '../../storage/postgres/blobs.js';
import { isMailError } from '../../storage/errors.js';
import { startPostgres, type PostgresCluster } from '../support/postgres.js';
import { scratchDir } from '../support/tmp.js';

let cluster: PostgresCluster;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

function msg(id: string, extra = ''): Buffer {
  return Buffer.from(`From: a@remote.test\r\nTo: list@example.test\r\nSubject: ${id}\r\nMessage-ID: <${id}@remote.test>\r\n\r\nbody ${id}\r\n${extra}`);
}

function hexOf(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex');
}

/** The body files under the directory (temporary files would show as well: there must be none left). */
function filesIn(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as Array<{ name: string; isFile(): boolean }>)
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();
}

interface Nodes {
  a: PostgresStorage;
  b: PostgresStorage;
  url: string;
  dir: string;
  /** Account ids of r1..rN, each with its default folders. */
  accounts: number[];
  sql(text: string, values?: unknown[]): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

/** Two nodes on a fresh database and one fresh blob directory (none with `inTable`: bodies in the blobs table); `n` accounts r1..rN. */
async function twoNodes(n = 2, options: OpenPostgresOptions = {}, inTable = false): Promise<Nodes> {
  const url = await cluster.createDatabase();
  const blobs = scratchDir('postino-blobs-');
  const opts = inTable ? options : { ...options, blobs: blobs.dir };
  const [a, b] = await Promise.all([openPostgresStorage(url, opts), openPostgresStorage(url, opts)]);
  await a.directory.addDomain('example.test');
  const accounts: number[] = [];
  for (let i = 1; i <= n; i++) {
    const id = (await a.directory.addAccount({ address: `r${i}@example.test`, passwordHash: 'x', scramSha256: null, quota: null })).id;
    await (i % 2 ? a : b).mail.provisionAccount(id);
    accounts.push(id);
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    a,
    b,
    url,
    dir: blobs.dir,
    accounts,
    sql: async (text, values) => (await client.query(text, values)).rows,
    async close() {
      await client.end();
      await Promise.all([a.end(), b.end()]);
      blobs.cleanup();
    },
  };
}

async function inbox(s: PostgresStorage, account: number): Promise<number> {
  return (await s.mail.getMailbox(account, 'INBOX'))!.id;
}

/** Waits until some session of the database waits for a row lock (the statement the test wants blocked). */
async function someoneWaitsForALock(sql: Nodes['sql'], what: RegExp): Promise<void> {
  const end = Date.now() + 20_000;
  for (;;) {
    const rows = await sql("SELECT query FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
    if (rows.some((r) => what.test(String(r.query)))) return;
    if (Date.now() > end) throw new Error(`nobody waits for a lock in ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('two nodes sharing one blob directory: a delivery on A is read byte for byte on B, from one file DIR/ab/cd/<sha256>', async () => {
  const nodes = await twoNodes(1);
  try {
    const [r1] = nodes.accounts;
    const raw = Buffer.concat([msg('across'), Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0d, 0x0a]), Buffer.alloc(200_000, 'x')]);
    const r = await nodes.a.mail.append(r1!, 'INBOX', raw);
    assert.deepEqual(await nodes.b.mail.readMessage(r.mailboxId, r.uid), raw, 'B reads what A stored');
    assert.deepEqual(await nodes.b.mail.readMessage(r.mailboxId, r.uid, 10), raw.subarray(0, 10), 'a partial read');
    const hex = hexOf(raw);
    assert.deepEqual(readFileSync(path.join(nodes.dir, hex.slice(0, 2), hex.slice(2, 4), hex)), raw);
    assert.deepEqual(filesIn(nodes.dir), [hex], 'one file, no temporary left');
    const [row] = await nodes.sql('SELECT octet_length(body) AS n FROM blobs');
    assert.equal(Number(row!.n), 0, 'the row holds no body: the file does');
  } finally {
    await nodes.close();
  }
});

test('the same content to 5 recipients (over both nodes) is one file; it goes with the last of the 5 expunges, not before', async () => {
  const nodes = await twoNodes(5);
  try {
    const raw = msg('to-five');
    const hex = hexOf(raw);
    const results = await Promise.all(nodes.accounts.map((id, i) => (i % 2 ? nodes.b : nodes.a).mail.append(id, 'INBOX', raw)));
    assert.deepEqual(filesIn(nodes.dir), [hex]);
    assert.deepEqual(await nodes.sql('SELECT count(*)::int AS n FROM blobs'), [{ n: 1 }]);
    for (const [i, r] of results.entries()) {
      const node = i % 2 ? nodes.a : nodes.b;
      await node.mail.expunge(r.mailboxId, [r.uid]);
      await Promise.all([nodes.a.mail.drain(), nodes.b.mail.drain()]);
      if (i < 4) {
        assert.deepEqual(filesIn(nodes.dir), [hex], `still named by ${4 - i} messages`);
        const next = results[i + 1]!;
        assert.deepEqual(await (i % 2 ? nodes.b : nodes.a).mail.readMessage(next.mailboxId, next.uid), raw);
      }
    }
    assert.deepEqual(filesIn(nodes.dir), [], 'the last expunge removed the file');
    assert.deepEqual(await nodes.sql('SELECT count(*)::int AS n FROM blobs'), [{ n: 0 }], 'and its row');
  } finally {
    await nodes.close();
  }
});

test('a removal waits for a delivery that holds the body\'s row: it then finds the new message and keeps the file', async () => {
  const nodes = await twoNodes(2);
  const [r1, r2] = nodes.accounts;
  const locker = new pg.Client({ connectionString: nodes.url });
  await locker.connect();
  try {
    const raw = msg('kept');
    const hash = createHash('sha256').update(raw).digest();
    const first = await nodes.a.mail.append(r1!, 'INBOX', raw);
    // A delivery of the same content in progress on some node: it holds the row as attach does.
    await locker.query('BEGIN');
    await locker.query('SELECT hash FROM blobs WHERE hash = $1 FOR KEY SHARE', [hash]);
    await nodes.a.mail.expunge(first.mailboxId, [first.uid]);
    const collected = nodes.a.mail.drain();
    await someoneWaitsForALock(nodes.sql, /FOR UPDATE/);
    // Meanwhile another delivery of that content commits on B (the same lock, shared).
    const second = await nodes.b.mail.append(r2!, 'INBOX', raw);
    await locker.query('COMMIT');
    await collected;
    assert.deepEqual(filesIn(nodes.dir), [hexOf(raw)], 'the file stays: a message names it');
    assert.deepEqual(await nodes.a.mail.readMessage(second.mailboxId, second.uid), raw);
  } finally {
    await locker.end();
    await nodes.close();
  }
});

test('a delivery of content being removed waits for the removal, then stores the body again: never a message without its file', async () => {
  const nodes = await twoNodes(2);
  const [r1, r2] = nodes.accounts;
  const pool = new pg.Pool({ connectionString: nodes.url });
  try {
    const raw = msg('again');
    const hex = hexOf(raw);
    const file = blobPath(nodes.dir, hex);
    const first = await nodes.a.mail.append(r1!, 'INBOX', raw);
    // The last message naming it goes (without this node's collection: the test runs its own below).
    await nodes.sql('DELETE FROM messages WHERE mailbox_id = $1 AND uid = $2', [first.mailboxId, first.uid]);
    let delivery: Promise<{ mailboxId: number; uid: number }> | undefined;
    let removed = 0;
    // The real collection, with its removal of the file slowed down: the delivery on B comes in while the row is locked.
    await collectUnnamed(pool, [Buffer.from(hex, 'hex')], async (hashes) => {
      delivery = nodes.b.mail.append(r2!, 'INBOX', raw);
      await someoneWaitsForALock(nodes.sql, /blobs/);
      assert.ok(existsSync(file), 'the delivery found the file there before it waited');
      unlinkSync(file);
      removed++;
      return [...hashes];
    });
    assert.equal(removed, 1, 'the collection removed the file once, with the delivery waiting');
    const second = await delivery!;
    assert.deepEqual(filesIn(nodes.dir), [hex], 'the delivery wrote the file again under the new row');
    assert.deepEqual(await nodes.a.mail.readMessage(second.mailboxId, second.uid), raw);
    assert.deepEqual(await nodes.sql('SELECT count(*)::int AS n FROM blobs'), [{ n: 1 }]);
  } finally {
    await pool.end();
    await nodes.close();
  }
});

test('expunges on A racing deliveries of the same content on B, 25 rounds: every message B stored reads right; afterwards no file is left', async () => {
  const nodes = await twoNodes(2);
  const [r1, r2] = nodes.accounts;
  try {
    const box1 = await inbox(nodes.a, r1!);
    const stored: Array<{ raw: Buffer; mailboxId: number; uid: number }> = [];
    for (let round = 0; round < 25; round++) {
      const raw = msg(`race-${round}`);
      const first = await nodes.a.mail.append(r1!, 'INBOX', raw);
      const [, second] = await Promise.all([nodes.a.mail.expunge(box1, [first.uid]), nodes.b.mail.append(r2!, 'INBOX', raw)]);
      stored.push({ raw, ...second });
    }
    await Promise.all([nodes.a.mail.drain(), nodes.b.mail.drain()]);
    for (const s of stored) assert.deepEqual(await nodes.a.mail.readMessage(s.mailboxId, s.uid), s.raw);
    assert.equal(filesIn(nodes.dir).length, 25);
    const box2 = await inbox(nodes.b, r2!);
    await nodes.b.mail.setFlags(box2, stored.map((s) => s.uid), 'add', ['\\Deleted']);
    await nodes.b.mail.expunge(box2);
    await nodes.b.mail.drain();
    assert.deepEqual(filesIn(nodes.dir), []);
    assert.deepEqual(await nodes.sql('SELECT count(*)::int AS n FROM blobs'), [{ n: 0 }]);
  } finally {
    await nodes.close();
  }
});

test('a hostile hash in the database is refused: the path must be 64 hex digits, nothing outside the directory is read', async () => {
  for (const bad of ['../../../../etc/passwd', '..', '', 'A'.repeat(64), 'a'.repeat(63), 'a'.repeat(65), `${'a'.repeat(62)}/x`, `${'0'.repeat(63)}\0`]) {
    assert.throws(() => blobPath('/srv/blobs', bad), /not 64 hex digits/, JSON.stringify(bad));
  }
  assert.equal(blobPath('/srv/blobs', 'ab'.repeat(32)), `/srv/blobs/ab/ab/${'ab'.repeat(32)}`);
  const nodes = await twoNodes(1);
  try {
    const [r1] = nodes.accounts;
    const r = await nodes.a.mail.append(r1!, 'INBOX', msg('hostile'));
    const hostile = Buffer.from('../../../../../../../etc/passwd');
    await nodes.sql("INSERT INTO blobs (hash, body) VALUES ($1, '\\x')", [hostile]);
    await nodes.sql('UPDATE messages SET blob_hash = $1', [hostile]);
    await assert.rejects(nodes.b.mail.readMessage(r.mailboxId, r.uid), (err) => isMailError(err, 'INTERNAL') && /64 hex digits/.test(err.message));
    // An expunge does not remove anything by that name either (its row stays).
    await nodes.b.mail.expunge(r.mailboxId, [r.uid]);
    await nodes.b.mail.drain();
    assert.deepEqual(await nodes.sql('SELECT count(*)::int AS n FROM blobs WHERE hash = $1', [hostile]), [{ n: 1 }]);
  } finally {
    await nodes.close();
  }
});

test('a reader that finds the row but not the file tries again for a while, then fails with a temporary error; a file of the wrong size is never served', async () => {
  const nodes = await twoNodes(1, { blobOptions: { readRetryMs: [50, 50, 50, 50, 50, 50, 50, 50, 50, 50] } });
  try {
    const [r1] = nodes.accounts;
    const raw = msg('later');
    const r = await nodes.a.mail.append(r1!, 'INBOX', raw);
    const file = blobPath(nodes.dir, hexOf(raw));
    // Not visible on this node yet: it shows up while the reader waits.
    renameSync(file, `${file}.aside`);
    const reading = nodes.b.mail.readMessage(r.mailboxId, r.uid);
    await new Promise((resolve) => setTimeout(resolve, 120));
    renameSync(`${file}.aside`, file);
    assert.deepEqual(await reading, raw);

    // Not there at all: a temporary error (4xx for the client), after the retries.
    renameSync(file, `${file}.aside`);
    await assert.rejects(nodes.b.mail.readMessage(r.mailboxId, r.uid), (err) => isMailError(err, 'TEMPFAIL'));
    // Cut short (or any other size): refused the same way, never a wrong body.
    writeFileSync(file, raw.subarray(0, raw.length - 1));
    await assert.rejects(nodes.b.mail.readMessage(r.mailboxId, r.uid), (err) => isMailError(err, 'TEMPFAIL'));
    renameSync(`${file}.aside`, file);
    assert.deepEqual(await nodes.b.mail.readMessage(r.mailboxId, r.uid), raw);
  } finally {
    await nodes.close();
  }
});

test('a delivery whose body file vanished before it was named writes it again; a missing blob directory stops the open', async () => {
  const nodes = await twoNodes(1);
  try {
    const [r1] = nodes.accounts;
    const raw = msg('rewrite');
    const r = await nodes.a.mail.append(r1!, 'INBOX', raw);
    // The file lost (an operator, a restore): the next delivery of that content puts it back.
    unlinkSync(blobPath(nodes.dir, hexOf(raw)));
    const again = await nodes.b.mail.append(r1!, 'INBOX', raw);
    assert.deepEqual(await nodes.a.mail.readMessage(r.mailboxId, r.uid), raw);
    assert.deepEqual(await nodes.a.mail.readMessage(again.mailboxId, again.uid), raw);
    await assert.rejects(openPostgresStorage(nodes.url, { blobs: path.join(nodes.dir, 'not-mounted') }), /storage\.blobs: .* is not a directory/);
    await assert.rejects(openPostgresStorage(nodes.url, { blobs: 'relative/dir' }), /storage\.blobs: expected an absolute path/);
  } finally {
    await nodes.close();
  }
});

test('switching stores: bodies stored in PostgreSQL are still read by a node with a blob directory; a node without one refuses a body it cannot find', async () => {
  const nodes = await twoNodes(1);
  const [r1] = nodes.accounts;
  const inTable = await openPostgresStorage(nodes.url);
  try {
    const before = msg('in-the-table');
    const old = await inTable.mail.append(r1!, 'INBOX', before);
    assert.deepEqual(await nodes.a.mail.readMessage(old.mailboxId, old.uid), before, 'read from the row');
    assert.deepEqual(await nodes.a.mail.readMessage(old.mailboxId, old.uid, 7), before.subarray(0, 7));
    assert.deepEqual(filesIn(nodes.dir), []);
    const after = msg('in-the-directory');
    const r = await nodes.a.mail.append(r1!, 'INBOX', after);
    await assert.rejects(inTable.mail.readMessage(r.mailboxId, r.uid), (err) => isMailError(err, 'TEMPFAIL') && /storage\.blobs/.test(err.message), 'never an empty body');
    // An old body's row goes with its last message on a directory node too (there is no file to remove).
    await nodes.a.mail.expunge(old.mailboxId, [old.uid]);
    await nodes.a.mail.drain();
    assert.deepEqual(await nodes.sql('SELECT count(*)::int AS n FROM blobs'), [{ n: 1 }]);
  } finally {
    await inTable.end();
    await nodes.close();
  }
});

test('a delivery refused (over quota, no such mailbox) leaves no file behind; one of the same content that succeeds meanwhile keeps it', async () => {
  const nodes = await twoNodes(2);
  try {
    const [r1, r2] = nodes.accounts;
    await nodes.a.directory.setQuota('r1@example.test', 10);
    const raw = msg('refused');
    await assert.rejects(nodes.a.mail.append(r1!, 'INBOX', raw), (err) => isMailError(err, 'OVERQUOTA'));
    await assert.rejects(nodes.b.mail.append(r2!, 'No such folder', msg('nowhere')), (err) => isMailError(err, 'NONEXISTENT'));
    await Promise.all([nodes.a.mail.drain(), nodes.b.mail.drain()]);
    assert.deepEqual(filesIn(nodes.dir), []);
    assert.deepEqual(await nodes.sql('SELECT count(*)::int AS n FROM blobs'), [{ n: 0 }]);
    // The same content refused for one and taken for another at once: the taken one keeps its file.
    const [refused, taken] = await Promise.allSettled([nodes.a.mail.append(r1!, 'INBOX', raw), nodes.b.mail.append(r2!, 'INBOX', raw)]);
    assert.equal(refused.status, 'rejected');
    assert.equal(taken.status, 'fulfilled');
    await Promise.all([nodes.a.mail.drain(), nodes.b.mail.drain()]);
    const r = (taken as PromiseFulfilledResult<{ mailboxId: number; uid: number }>).value;
    assert.deepEqual(await nodes.a.mail.readMessage(r.mailboxId, r.uid), raw);
    assert.deepEqual(filesIn(nodes.dir), [hexOf(raw)]);
  } finally {
    await nodes.close();
  }
});

test('bodies in the table, the same races: expunges on A and deliveries of the same content on B never leave a message without its body', async () => {
  const nodes = await twoNodes(2, {}, true);
  const [r1, r2] = nodes.accounts;
  try {
    const box1 = await inbox(nodes.a, r1!);
    const stored: Array<{ raw: Buffer; mailboxId: number; uid: number }> = [];
    for (let round = 0; round < 25; round++) {
      const raw = msg(`table-race-${round}`);
      const first = await nodes.a.mail.append(r1!, 'INBOX', raw);
      const [, second] = await Promise.all([nodes.a.mail.expunge(box1, [first.uid]), nodes.b.mail.append(r2!, 'INBOX', raw)]);
      stored.push({ raw, ...second });
    }
    await Promise.all([nodes.a.mail.drain(), nodes.b.mail.drain()]);
    for (const s of stored) assert.deepEqual(await nodes.a.mail.readMessage(s.mailboxId, s.uid), s.raw);
    assert.deepEqual(await nodes.sql('SELECT count(*)::int AS n FROM blobs'), [{ n: 25 }]);
    assert.deepEqual(filesIn(nodes.dir), [], 'no files: the bodies are rows');
    const box2 = await inbox(nodes.b, r2!);
    await nodes.b.mail.setFlags(box2, stored.map((s) => s.uid), 'add', ['\\Deleted']);
    await nodes.b.mail.expunge(box2);
    await nodes.b.mail.drain();
    assert.deepEqual(await nodes.sql('SELECT count(*)::int AS n FROM blobs'), [{ n: 0 }]);
  } finally {
    await nodes.close();
  }
});
