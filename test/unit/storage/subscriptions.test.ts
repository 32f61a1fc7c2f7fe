// Subscriptions are names kept apart from mailboxes (RFC 3501 6.3.6, RFC 9051
// 6.3.7): a table in the index and a file at the account's Maildir root.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
// The SQLite + Maildir backend itself, answering synchronously (its ports are driven by test/contract/).
import { openSqliteParts as openStorage, type SqliteStorageParts as Storage } from '../../../storage/index.js';
import { MAX_SUBSCRIPTIONS } from '../../../storage/store.js';
import { SCHEMA_STEPS } from '../../../storage/schema/index.js';
import { SUBSCRIPTIONS_FILE } from '../../../storage/maildir/subscriptions.js';
import { META_FILE } from '../../../storage/maildir/meta.js';
import { MailError } from '../../../storage/errors.js';
import { scratchDir } from '../../support/tmp.js';

const migrations = SCHEMA_STEPS.sqlite.map((s) => s.sql);

const code = (c: string) => (err: unknown) => err instanceof MailError && err.code === c;

describe('subscriptions', () => {
  const scratch = scratchDir();
  let storage: Storage;
  let accountId: number;
  let root: string;
  const fileNames = () => (JSON.parse(readFileSync(path.join(root, SUBSCRIPTIONS_FILE), 'utf8')) as { subscriptions: string[] }).subscriptions;

  before(() => {
    storage = openStorage(scratch.dir);
    storage.directory.addDomain('example.test');
    accountId = storage.directory.addAccount({ address: 'sub@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    storage.mail.provisionAccount(accountId);
    root = storage.mail.accountDir(accountId);
  });
  after(() => {
    storage.close();
    scratch.cleanup();
  });

  test('default folders and created mailboxes start subscribed; the file at the Maildir root agrees', async () => {
    await storage.mail.createMailbox(accountId, 'Work/Reports');
    const names = storage.mail.listSubscriptions(accountId);
    assert.deepEqual(names, ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash', 'Work/Reports']);
    assert.deepEqual(fileNames(), names);
    // folder meta files no longer carry a subscribed flag
    assert.ok(!('subscribed' in JSON.parse(readFileSync(path.join(root, '.Sent', META_FILE), 'utf8'))));
  });

  test('a name with no mailbox can be subscribed; INBOX is case-insensitive; invalid names are refused', async () => {
    await storage.mail.addSubscription(accountId, 'Ghost/Kid');
    await storage.mail.addSubscription(accountId, 'inbox');
    await storage.mail.addSubscription(accountId, 'Ghost/Kid'); // twice is once
    assert.ok(!storage.mail.hasMailbox(accountId, 'Ghost/Kid'));
    assert.equal(storage.mail.listSubscriptions(accountId).filter((n) => n === 'Ghost/Kid' || n === 'INBOX').length, 2);
    for (const bad of ['', 'a//b', '/x', 'x/', 'a\nb', 'x'.repeat(300), Array(20).fill('d').join('/')]) {
      await assert.rejects(async () => storage.mail.addSubscription(accountId, bad), code('BADINPUT'), JSON.stringify(bad));
    }
    // '..' is a name like any other here: subscriptions never become paths
    await storage.mail.addSubscription(accountId, '../etc');
    assert.ok(storage.mail.listSubscriptions(accountId).includes('../etc'));
    assert.ok(!existsSync(path.join(root, '..', 'etc')));
    await storage.mail.removeSubscription(accountId, '../etc');
  });

  test('DELETE keeps the subscription; RENAME leaves subscriptions where they were (as Dovecot)', async () => {
    await storage.mail.createMailbox(accountId, 'Old');
    await storage.mail.createMailbox(accountId, 'Old/Child');
    await storage.mail.createMailbox(accountId, 'Gone');
    storage.mail.deleteMailbox(accountId, 'Gone');
    storage.mail.renameMailbox(accountId, 'Old', 'New');
    const names = storage.mail.listSubscriptions(accountId);
    assert.ok(names.includes('Gone'));
    assert.ok(names.includes('Old') && names.includes('Old/Child'));
    assert.ok(!names.includes('New') && !names.includes('New/Child'));
    assert.deepEqual(fileNames(), names);
  });

  test('UNSUBSCRIBE of a name not on the list is no error', async () => {
    await storage.mail.removeSubscription(accountId, 'Gone');
    await storage.mail.removeSubscription(accountId, 'Gone');
    await storage.mail.removeSubscription(accountId, 'Never/There');
    assert.ok(!storage.mail.listSubscriptions(accountId).includes('Gone'));
    assert.ok(!fileNames().includes('Gone'));
  });

  test(`at most ${MAX_SUBSCRIPTIONS} subscriptions per account: LIMIT, nothing changed; CREATE still works`, async () => {
    const have = storage.mail.listSubscriptions(accountId).length;
    const insert = storage.db.prepare('INSERT INTO subscriptions (account_id, name) VALUES (?, ?)');
    storage.db.transaction(() => {
      for (let i = have; i < MAX_SUBSCRIPTIONS; i++) insert.run(accountId, `bulk/${i}`);
    })();
    await assert.rejects(async () => storage.mail.addSubscription(accountId, 'One/Too/Many'), code('LIMIT'));
    await storage.mail.addSubscription(accountId, 'bulk/' + have); // already there: no error
    await storage.mail.createMailbox(accountId, 'Past/The/Cap');
    assert.ok(storage.mail.hasMailbox(accountId, 'Past/The/Cap'));
    assert.ok(!storage.mail.listSubscriptions(accountId).includes('Past/The/Cap'));
    storage.mail.deleteMailbox(accountId, 'Past/The/Cap');
    storage.db.prepare("DELETE FROM subscriptions WHERE account_id = ? AND name LIKE 'bulk/%'").run(accountId);
    await storage.mail.removeSubscription(accountId, 'Old'); // rewrites the file without the bulk rows
    assert.ok(!fileNames().some((n) => n.startsWith('bulk/')));
  });

  test('a rebuild takes the list from the file, also when the index lost every row', async () => {
    const before = storage.mail.listSubscriptions(accountId);
    storage.db.exec('DELETE FROM subscriptions; DELETE FROM messages; DELETE FROM expunged; DELETE FROM mailboxes;');
    storage.mail.recoverAccount(accountId, { rebuild: true });
    assert.deepEqual(storage.mail.listSubscriptions(accountId), before);
    // the file wins over the table (it is written last)
    storage.db.prepare('INSERT INTO subscriptions (account_id, name) VALUES (?, ?)').run(accountId, 'Stale');
    storage.mail.recoverAccount(accountId);
    assert.deepEqual(storage.mail.listSubscriptions(accountId), before);
    // names in an edited file that could never be subscribed are skipped
    writeFileSync(path.join(root, SUBSCRIPTIONS_FILE), JSON.stringify({ version: 1, subscriptions: ['Fine', 'a//b', 7, 'inbox'] }));
    storage.mail.recoverAccount(accountId, { rebuild: true });
    assert.deepEqual(storage.mail.listSubscriptions(accountId), ['Fine', 'INBOX']);
  });

  test('without a file, the table and the flags older versions left in folder meta files make the list', async () => {
    rmSync(path.join(root, SUBSCRIPTIONS_FILE));
    const metaPath = path.join(root, '.Archive', META_FILE);
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(metaPath, JSON.stringify({ ...meta, subscribed: true }));
    const junk = path.join(root, '.Junk', META_FILE);
    writeFileSync(junk, JSON.stringify({ ...(JSON.parse(readFileSync(junk, 'utf8')) as object), subscribed: false }));
    storage.mail.recoverAccount(accountId, { rebuild: true });
    assert.deepEqual(storage.mail.listSubscriptions(accountId), ['Archive', 'Fine', 'INBOX']);
    assert.deepEqual(fileNames(), ['Archive', 'Fine', 'INBOX']);
  });
});

test('migration 5 moves the subscribed column into the subscriptions table and drops it', () => {
  const db = new Database(':memory:');
  for (const m of migrations.slice(0, 4)) db.exec(m);
  db.exec(`INSERT INTO domains VALUES ('example.test', 0);
    INSERT INTO accounts (id, address, domain, localpart, password_hash, created) VALUES (1, 'a@example.test', 'example.test', 'a', 'x', 0);
    INSERT INTO mailboxes (account_id, name, dir, uidvalidity, subscribed) VALUES (1, 'INBOX', '', 1, 1), (1, 'Spam', '.Spam', 2, 0), (1, 'Work', '.Work', 3, 1);`);
  db.exec(migrations[4]!);
  assert.deepEqual(db.prepare('SELECT account_id, name FROM subscriptions ORDER BY name').all(), [
    { account_id: 1, name: 'INBOX' },
    { account_id: 1, name: 'Work' },
  ]);
  const columns = (db.prepare('PRAGMA table_info(mailboxes)').all() as Array<{ name: string }>).map((c) => c.name);
  assert.ok(!columns.includes('subscribed'));
  db.close();
});
