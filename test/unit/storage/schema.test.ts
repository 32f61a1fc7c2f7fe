// The schema steps of both backends (storage/schema/) and the rules their
// runners follow, with the SQLite runner (storage/index/database.ts); the
// PostgreSQL runner is driven by test/integration/postgres-schema.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SCHEMA_STEPS, latestVersion, numberingProblems, pendingSteps, schemaStatus, type SchemaStep } from '../../../storage/schema/index.js';
import { openIndex, peekSchemaVersion, schemaVersion } from '../../../storage/index/database.js';
import { openStorage, readSchemaStatus } from '../../../storage/index.js';
import { MailError } from '../../../storage/errors.js';
import { scratchDir } from '../../support/tmp.js';

/** SHA-256 (first 16 hex digits) of each released step's SQL: a released step is never edited; a new one is appended here. */
const RELEASED: Record<'sqlite' | 'postgres', string[]> = {
  sqlite: [
    '38e2a28cba2123c1', 'f6e021b255603804', '4860a1089eda2e0e', 'e21f20e83ecbf98c', '01b24039399850ac', '0fc9dfd3df3767c3',
    'bb0224ad9a8b104f', 'a9e277f7a5b69743', 'fbf8c1e8e8124b45', '68a157f837ee39c9', 'e83a0b8392a19e7f', 'f885336e6120ff2f',
  ],
  postgres: ['3d6ce6fa77d67231', '70599cb8144dbcda', '87d52723a353035f', 'c8fc2f4ac2c05285', 'f4410e5f5da27007'],
};

const digest = (sql: string) => createHash('sha256').update(sql).digest('hex').slice(0, 16);

test('each backend numbers its steps 1..N with no gap, each named and with SQL', () => {
  for (const backend of ['sqlite', 'postgres'] as const) {
    const steps = SCHEMA_STEPS[backend];
    assert.deepEqual(numberingProblems(steps), [], backend);
    assert.deepEqual(steps.map((s) => s.version), Array.from({ length: steps.length }, (_, i) => i + 1), backend);
    assert.equal(latestVersion(backend), steps.length);
  }
  // Today's lists, so a step dropped or added by mistake shows here.
  assert.equal(latestVersion('sqlite'), 12);
  assert.equal(latestVersion('postgres'), 5);
});

test('the numbering check sees a gap, a repeat, a step out of order and an empty one', () => {
  const step = (version: number, sql = 'SELECT 1'): SchemaStep => ({ version, name: `s${version}`, sql });
  assert.deepEqual(numberingProblems([step(1), step(2), step(3)]), []);
  assert.deepEqual(numberingProblems([]), []);
  assert.deepEqual(numberingProblems([step(1), step(3)]), ['step 2 in the list is numbered 3']);
  assert.deepEqual(numberingProblems([step(1), step(1)]), ['step 2 in the list is numbered 1']);
  assert.deepEqual(numberingProblems([step(2), step(1)]), ['step 1 in the list is numbered 2', 'step 2 in the list is numbered 1']);
  assert.deepEqual(numberingProblems([step(1, '  ')]), ['step 1 has no SQL']);
});

test("released steps keep their SQL byte for byte (what existing databases were made with)", () => {
  for (const backend of ['sqlite', 'postgres'] as const) {
    const released = RELEASED[backend];
    const now = SCHEMA_STEPS[backend].map((s) => digest(s.sql));
    assert.deepEqual(now.slice(0, released.length), released, `${backend}: a released step changed; append a new step instead`);
    assert.equal(now.length, released.length, `${backend}: a new step: add its digest to RELEASED once it is released`);
  }
});

test('the rules: pending steps are those above the recorded version, in order; a newer database is refused naming both versions', () => {
  assert.deepEqual(pendingSteps('sqlite', 0).map((s) => s.version), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual(pendingSteps('sqlite', 10).map((s) => s.version), [11, 12]);
  assert.deepEqual(pendingSteps('sqlite', 12), []);
  assert.deepEqual(pendingSteps('postgres', 3).map((s) => s.version), [4, 5]);
  assert.deepEqual(pendingSteps('postgres', 5), []);
  assert.throws(
    () => pendingSteps('sqlite', 13),
    (err: unknown) => err instanceof MailError && err.code === 'REFUSED' && err.message === 'SQLite database schema is at version 13, this Postino knows up to 12; upgrade Postino',
  );
  assert.throws(
    () => pendingSteps('postgres', 9),
    (err: unknown) => err instanceof MailError && err.code === 'REFUSED' && err.message === 'PostgreSQL database schema is at version 9, this Postino knows up to 5; upgrade Postino',
  );
  assert.throws(() => pendingSteps('sqlite', -1), /not a version/);
  assert.deepEqual(schemaStatus('sqlite', 12), { backend: 'sqlite', version: 12, latest: 12, state: 'current', pending: [] });
  assert.deepEqual(schemaStatus('postgres', 3), { backend: 'postgres', version: 3, latest: 5, state: 'behind', pending: [SCHEMA_STEPS.postgres[3]!.name, SCHEMA_STEPS.postgres[4]!.name] });
  assert.deepEqual(schemaStatus('postgres', 6), { backend: 'postgres', version: 6, latest: 5, state: 'ahead', pending: [] });
});

/** The tables, indexes and their SQL as SQLite keeps them: what a step would change. */
function schemaOf(file: string): unknown[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY type, name').all();
  } finally {
    db.close();
  }
}

test('an index made by the old runner (every step by hand, user_version 12) opens unchanged: no step runs again, the rows stay', () => {
  const s = scratchDir();
  try {
    const file = path.join(s.dir, 'postino.sqlite');
    // What the runner before storage/schema/ did: each step's SQL, then user_version = step number.
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.pragma('foreign_keys = OFF');
    old.transaction(() => {
      for (const [i, step] of SCHEMA_STEPS.sqlite.entries()) {
        old.exec(step.sql);
        old.pragma(`user_version = ${i + 1}`);
      }
    }).immediate();
    old.exec(`INSERT INTO domains (name, created) VALUES ('example.test', 1);
      INSERT INTO accounts (address, domain, localpart, password_hash, created) VALUES ('ann@example.test', 'example.test', 'ann', 'h', 2);`);
    old.close();
    const before = schemaOf(file);
    assert.equal(peekSchemaVersion(file), 12);

    for (let round = 0; round < 2; round++) {
      const db = openIndex(file);
      try {
        assert.equal(schemaVersion(db), 12);
        assert.deepEqual(db.prepare('SELECT address FROM accounts').all(), [{ address: 'ann@example.test' }]);
      } finally {
        db.close();
      }
      assert.deepEqual(schemaOf(file), before, 'no table or index made, dropped or changed');
    }
  } finally {
    s.cleanup();
  }
});

test('a fresh index gets every step once; opening it again runs none', () => {
  const s = scratchDir();
  try {
    const file = path.join(s.dir, 'postino.sqlite');
    assert.equal(peekSchemaVersion(file), undefined);
    openIndex(file).close();
    assert.equal(peekSchemaVersion(file), 12);
    const made = schemaOf(file);
    // Step 1 creates tables without IF NOT EXISTS: a second run of it would throw.
    openIndex(file).close();
    assert.equal(peekSchemaVersion(file), 12);
    assert.deepEqual(schemaOf(file), made);
  } finally {
    s.cleanup();
  }
});

test('an index a newer Postino wrote is refused, naming both versions, and left as it is', () => {
  const s = scratchDir();
  try {
    const file = path.join(s.dir, 'postino.sqlite');
    openIndex(file).close();
    const db = new Database(file);
    db.pragma('user_version = 13');
    db.exec('CREATE TABLE from_the_future (x INTEGER)');
    db.close();
    const before = schemaOf(file);
    const refused = (err: unknown) =>
      err instanceof MailError && err.code === 'REFUSED' && err.message === 'SQLite database schema is at version 13, this Postino knows up to 12; upgrade Postino';
    assert.throws(() => openIndex(file), refused);
    assert.throws(() => openStorage(s.dir), refused);
    assert.equal(peekSchemaVersion(file), 13);
    assert.deepEqual(schemaOf(file), before);
  } finally {
    s.cleanup();
  }
});

test('steps run in one transaction: a step that fails leaves the index at its version, with nothing of the steps before it', () => {
  const s = scratchDir();
  try {
    const file = path.join(s.dir, 'postino.sqlite');
    const db = new Database(file);
    for (const step of SCHEMA_STEPS.sqlite.slice(0, 10)) db.exec(step.sql);
    db.pragma('user_version = 10');
    // Step 12 adds messages.pop3_uidl: here it exists already, so step 12 fails after step 11 ran.
    db.exec('ALTER TABLE messages ADD COLUMN pop3_uidl TEXT');
    db.close();
    assert.throws(() => openIndex(file), /duplicate column name: pop3_uidl/);
    assert.equal(peekSchemaVersion(file), 10);
    const tables = (schemaOf(file) as Array<{ name: string }>).map((t) => t.name);
    assert.ok(!tables.includes('admin_accounts'), 'step 11 rolled back with step 12');
  } finally {
    s.cleanup();
  }
});

test('readSchemaStatus reads where a data dir stands without making or migrating anything', async () => {
  const s = scratchDir();
  try {
    assert.deepEqual(await readSchemaStatus(s.dir, { backend: 'sqlite' }), { backend: 'sqlite', version: 0, latest: 12, state: 'behind', pending: SCHEMA_STEPS.sqlite.map((x) => x.name), missing: true });
    assert.equal(peekSchemaVersion(path.join(s.dir, 'postino.sqlite')), undefined, 'no index made');
    openStorage(s.dir).close();
    assert.deepEqual(await readSchemaStatus(s.dir, { backend: 'sqlite' }), { backend: 'sqlite', version: 12, latest: 12, state: 'current', pending: [], missing: false });
  } finally {
    s.cleanup();
  }
});
