// Migration 8: account and mailbox ids are never handed out twice, and a
// database made before it keeps every row (issue 10, item 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openIndex, schemaVersion } from '../../../storage/index/database.js';
import { SCHEMA_STEPS } from '../../../storage/schema/index.js';
// The SQLite + Maildir backend itself, answering synchronously (its ports are driven by test/contract/).
import { openSqliteParts as openStorage } from '../../../storage/index.js';
import { scratchDir } from '../../support/tmp.js';

const migrations = SCHEMA_STEPS.sqlite.map((s) => s.sql);

/** A database as Postino left it at schema v5, with the history that made ids reusable. */
function makeV5(file: string): void {
  const db = new Database(file);
  db.pragma('foreign_keys = ON');
  for (let v = 0; v < 5; v++) db.exec(migrations[v]!);
  db.pragma('user_version = 5');
  db.exec(`
    INSERT INTO domains (name, created) VALUES ('example.test', 1);
    INSERT INTO accounts (id, address, domain, localpart, password_hash, scram_sha256, quota, disabled, used_bytes, used_messages, created)
      VALUES (1, 'ann@example.test', 'example.test', 'ann', 'h1', 's1', 1000, 0, 10, 1, 11),
             (2, 'ben@example.test', 'example.test', 'ben', 'h2', NULL, NULL, 1, 0, 0, 12);
    INSERT INTO mailboxes (id, account_id, name, dir, uidvalidity, uidnext, highestmodseq, special_use, keywords)
      VALUES (1, 1, 'INBOX', '', 100, 2, 3, NULL, '["$Work"]'),
             (2, 1, 'Sent', '.Sent', 101, 1, 1, '\\Sent', '[]'),
             (3, 2, 'INBOX', '', 102, 1, 1, NULL, '[]');
    INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, path, mime)
      VALUES (1, 1, 2, '\\Seen $Work', 5, 10, 'cur/m1:2,Sa', '{}');
    INSERT INTO sieve_scripts (account_id, name, active, updated) VALUES (1, 'main', 1, 7);
    INSERT INTO subscriptions (account_id, name) VALUES (1, 'INBOX');
    -- Left by account 5 and mailbox 9, removed before: their ids must not come back.
    INSERT INTO vacation_log (account_id, sender, handle, expires) VALUES (5, 'x@remote.test', 'h', 99);
    INSERT INTO expunged (mailbox_id, uid, modseq) VALUES (9, 1, 2);
  `);
  db.close();
}

test('a v5 database migrates keeping every row, and later ids go above every id ever used', () => {
  const s = scratchDir();
  try {
    const file = path.join(s.dir, 'postino.sqlite');
    makeV5(file);
    const db = openIndex(file);
    try {
      assert.equal(schemaVersion(db), migrations.length);
      assert.deepEqual(db.prepare('SELECT id, address, password_hash, scram_sha256, quota, disabled, used_bytes, used_messages, created FROM accounts ORDER BY id').all(), [
        { id: 1, address: 'ann@example.test', password_hash: 'h1', scram_sha256: 's1', quota: 1000, disabled: 0, used_bytes: 10, used_messages: 1, created: 11 },
        { id: 2, address: 'ben@example.test', password_hash: 'h2', scram_sha256: null, quota: null, disabled: 1, used_bytes: 0, used_messages: 0, created: 12 },
      ]);
      assert.deepEqual(db.prepare('SELECT id, account_id, name, dir, uidvalidity, uidnext, highestmodseq, special_use, keywords FROM mailboxes ORDER BY id').all(), [
        { id: 1, account_id: 1, name: 'INBOX', dir: '', uidvalidity: 100, uidnext: 2, highestmodseq: 3, special_use: null, keywords: '["$Work"]' },
        { id: 2, account_id: 1, name: 'Sent', dir: '.Sent', uidvalidity: 101, uidnext: 1, highestmodseq: 1, special_use: '\\Sent', keywords: '[]' },
        { id: 3, account_id: 2, name: 'INBOX', dir: '', uidvalidity: 102, uidnext: 1, highestmodseq: 1, special_use: null, keywords: '[]' },
      ]);
      assert.equal((db.prepare('SELECT count(*) AS n FROM messages WHERE mailbox_id = 1').get() as { n: number }).n, 1);
      assert.equal((db.prepare('SELECT count(*) AS n FROM sieve_scripts WHERE account_id = 1').get() as { n: number }).n, 1);
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1, 'enforcement is back on after the migration');
      assert.deepEqual(db.pragma('foreign_key_check'), []);
      // Still enforced: a mailbox of no account is refused.
      assert.throws(() => db.prepare("INSERT INTO mailboxes (account_id, name, dir, uidvalidity) VALUES (77, 'X', '.X', 1)").run(), /FOREIGN KEY/);

      const addAccount = (local: string) =>
        Number(
          db
            .prepare("INSERT INTO accounts (address, domain, localpart, password_hash, created) VALUES (?, 'example.test', ?, 'h', 1)")
            .run(`${local}@example.test`, local).lastInsertRowid,
        );
      const first = addAccount('cat');
      assert.ok(first > 5, `a new account (${first}) is not given an id the vacation log still names`);
      db.prepare('DELETE FROM accounts WHERE id = ?').run(first);
      const second = addAccount('dan');
      assert.ok(second > first, 'the newest id, once removed, is not handed out again');
      const mailbox = Number(db.prepare("INSERT INTO mailboxes (account_id, name, dir, uidvalidity) VALUES (2, 'New', '.New', 1)").run().lastInsertRowid);
      assert.ok(mailbox > 9, `a new mailbox (${mailbox}) is not given an id the expunge log still names`);
    } finally {
      db.close();
    }
  } finally {
    s.cleanup();
  }
});

test('ids stay unused after removal across processes and restarts', async () => {
  const s = scratchDir();
  try {
    const a = openStorage(s.dir);
    const b = openStorage(s.dir); // another process: the CLI beside `serve`
    a.directory.addDomain('example.test');
    const add = (storage: typeof a, local: string) => {
      const account = storage.directory.addAccount({ address: `${local}@example.test`, passwordHash: 'x', scramSha256: null, quota: null });
      storage.mail.provisionAccount(account.id);
      return account.id;
    };
    const remove = (storage: typeof a, local: string) =>
      storage.ports.transaction(async (tx) => {
        const account = (await tx.directory.getAccount(`${local}@example.test`))!;
        await tx.mail.deleteAccountMail(account.id);
        await tx.directory.removeAccount(account.address);
      });
    const seenAccounts = new Set<number>();
    const seenMailboxes = new Set<number>();
    const note = (storage: typeof a, id: number) => {
      assert.ok(!seenAccounts.has(id), `account id ${id} handed out twice`);
      seenAccounts.add(id);
      for (const m of storage.mail.listMailboxes(id)) {
        assert.ok(!seenMailboxes.has(m.id), `mailbox id ${m.id} handed out twice`);
        seenMailboxes.add(m.id);
      }
    };
    note(a, add(a, 'old'));
    await remove(b, 'old');
    note(b, add(b, 'new'));
    await remove(a, 'new');
    a.close();
    b.close();
    const c = openStorage(s.dir);
    try {
      note(c, add(c, 'old'));
      // The store of a process that knew the old account answers for the new one only.
      const id = c.directory.getAccount('old@example.test')!.id;
      assert.equal(c.mail.accountDir(id), path.join(s.dir, 'mail', 'example.test', 'old'));
      for (const old of [...seenAccounts].filter((x) => x !== id)) assert.throws(() => c.mail.accountDir(old), /no such account/);
    } finally {
      c.close();
    }
  } finally {
    s.cleanup();
  }
});
