// The PostgreSQL schema runner (storage/postgres/migrations.ts) by the
// rules of storage/schema/: a database at schema_version 4 gets the later steps and then opens unchanged
// (no step re-run, no row of schema_version rewritten), one a newer
// Postino wrote is refused naming both versions, a gap in schema_version
// is refused, and `postino migrate --status` reads where a database stands
// without changing it (for the SQLite default too). A real scratch cluster
// (test/support/postgres.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startPostgres, type PostgresCluster } from '../support/postgres.js';
import { openPostgresStorage } from '../../storage/postgres/index.js';
import { SCHEMA_STEPS } from '../../storage/schema/index.js';
import { MailError } from '../../storage/errors.js';
import { postino } from '../support/cli.js';
import { scratchDir } from '../support/tmp.js';

let cluster: PostgresCluster;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** schema_version as it stands, applied_at included (a step applied again would add or rewrite a row). */
async function recorded(url: string): Promise<Array<{ version: number; applied_at: string }>> {
  return withClient(url, async (c) => (await c.query<{ version: number; applied_at: string }>('SELECT version, applied_at::text AS applied_at FROM schema_version ORDER BY version')).rows);
}

/** Postino's tables and their columns: what a step would change. */
async function tables(url: string): Promise<string[]> {
  return withClient(url, async (c) =>
    (await c.query<{ c: string }>(`SELECT table_name || '.' || column_name || ' ' || data_type AS c FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1`)).rows.map((r) => r.c),
  );
}

async function open(url: string) {
  const storage = await openPostgresStorage(url, { poolSize: 2 });
  await storage.end();
}

test('a database made by the old runner (every step by hand, schema_version 1..4) gets the later steps once, then opens unchanged', async () => {
  const url = await cluster.createDatabase();
  // What the runner before storage/schema/ left: its version table, each step's SQL, one row per step.
  await withClient(url, async (c) => {
    await c.query('BEGIN');
    await c.query('CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    for (const step of SCHEMA_STEPS.postgres.slice(0, 4)) {
      await c.query(step.sql);
      await c.query('INSERT INTO schema_version (version) VALUES ($1)', [step.version]);
    }
    await c.query(`INSERT INTO domains (name) VALUES ('example.test')`);
    await c.query('COMMIT');
  });
  const old = await recorded(url);
  assert.deepEqual(old.map((r) => r.version), [1, 2, 3, 4]);
  await open(url);
  const versions = await recorded(url);
  assert.deepEqual(versions.slice(0, 4), old, 'steps 1..4 not recorded again');
  assert.deepEqual(versions.map((r) => r.version), [1, 2, 3, 4, 5]);
  const columns = await tables(url);
  for (let round = 0; round < 2; round++) {
    await open(url);
    assert.deepEqual(await recorded(url), versions, 'no step recorded again');
    assert.deepEqual(await tables(url), columns, 'no table or column changed');
  }
  assert.deepEqual(await withClient(url, async (c) => (await c.query('SELECT name FROM domains')).rows), [{ name: 'example.test' }]);
});

test('a fresh database gets steps 1..5 once; opening it again applies none', async () => {
  const url = await cluster.createDatabase();
  await open(url);
  const versions = await recorded(url);
  assert.deepEqual(versions.map((r) => r.version), [1, 2, 3, 4, 5]);
  await open(url);
  assert.deepEqual(await recorded(url), versions);
});

test('a database a newer Postino wrote is refused naming both versions, and left as it is; so is one with a gap', async () => {
  const url = await cluster.createDatabase();
  await open(url);
  await withClient(url, (c) => c.query('INSERT INTO schema_version (version) VALUES (6)'));
  const before = { versions: await recorded(url), columns: await tables(url) };
  await assert.rejects(
    openPostgresStorage(url, { poolSize: 2 }),
    (err: unknown) => err instanceof MailError && err.code === 'REFUSED' && err.message === 'PostgreSQL database schema is at version 6, this Postino knows up to 5; upgrade Postino',
  );
  assert.deepEqual({ versions: await recorded(url), columns: await tables(url) }, before);

  const gap = await cluster.createDatabase();
  await open(gap);
  await withClient(gap, (c) => c.query('DELETE FROM schema_version WHERE version = 2'));
  await assert.rejects(openPostgresStorage(gap, { poolSize: 2 }), /schema_version table lacks step\(s\) 2 below 5: it was changed outside Postino/);
  assert.deepEqual((await recorded(gap)).map((r) => r.version), [1, 3, 4, 5], 'step 2 not applied again');
});

test('postino migrate --status: where the configured PostgreSQL database stands, read without changing it', async () => {
  const url = await cluster.createDatabase();
  const data = scratchDir();
  try {
    const env = { POSTINO_STORAGE_URL: url };
    const empty = postino(data.dir, ['migrate', '--status'], undefined, env);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /^schema: postgres v0 \(5 step\(s\) to apply up to v5, at the next start: directory, mail index/);
    const made = await withClient(url, async (c) => (await c.query<{ t: string | null }>(`SELECT to_regclass('schema_version')::text AS t`)).rows[0]?.t);
    assert.equal(made, null, 'reading the status made no table');

    await open(url);
    const current = postino(data.dir, ['migrate', '--status'], undefined, env);
    assert.equal(current.code, 0, current.stderr);
    assert.equal(current.stdout, 'schema: postgres v5 (current)\n');
    const json = postino(data.dir, ['migrate', '--status', '--json'], undefined, env);
    assert.deepEqual(JSON.parse(json.stdout), { backend: 'postgres', version: 5, latest: 5, state: 'current', pending: [], missing: false });

    await withClient(url, (c) => c.query('INSERT INTO schema_version (version) VALUES (6)'));
    const ahead = postino(data.dir, ['migrate', '--status'], undefined, env);
    assert.equal(ahead.code, 1);
    assert.equal(ahead.stdout, 'schema: postgres v6 (newer than this Postino, which knows up to v5; upgrade Postino)\n');
    // Any other command refuses the database, with the same words.
    const list = postino(data.dir, ['domain', 'list'], undefined, env);
    assert.equal(list.code, 1);
    assert.match(list.stderr, /PostgreSQL database schema is at version 6, this Postino knows up to 5; upgrade Postino/);
  } finally {
    data.cleanup();
  }
});

test('postino migrate --status on the SQLite default: no index yet, then current; it takes no URL', () => {
  const data = scratchDir();
  try {
    const none = postino(data.dir, ['migrate', '--status']);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, 'schema: sqlite v0 (no index yet: the first start makes it at v12)\n');
    assert.equal(postino(data.dir, ['domain', 'list']).code, 0);
    const current = postino(data.dir, ['migrate', '--status']);
    assert.equal(current.stdout, 'schema: sqlite v12 (current)\n');
    const mixed = postino(data.dir, ['migrate', '--status', 'postgres://x@127.0.0.1/y']);
    assert.equal(mixed.code, 1);
    assert.match(mixed.stderr, /--status takes no URL and no other option/);
  } finally {
    data.cleanup();
  }
});
