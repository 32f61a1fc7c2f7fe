// METADATA entries in the store (storage/metadata.ts): rows keyed by account
// and mailbox id, a file per mailbox beside its messages; every change or
// none; limits; DELETE, RENAME and account removal; rebuilt from the files.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
// The SQLite + Maildir backend itself, answering synchronously (its ports are driven by test/contract/).
import { openSqliteParts as openStorage, type SqliteStorageParts as Storage } from '../../../storage/index.js';
import { isStorableEntryName, type MetadataLimits } from '../../../storage/metadata.js';
import { MAILBOX_METADATA_FILE, SERVER_METADATA_FILE } from '../../../storage/maildir/metadata-file.js';
import { MailError } from '../../../storage/errors.js';
import { scratchDir } from '../../support/tmp.js';

const LIMITS: MetadataLimits = {
  maxValueSize: 100,
  maxEntriesPerMailbox: 5,
  maxBytesPerMailbox: 400,
  maxEntriesPerAccount: 8,
  maxBytesPerAccount: 600,
};

const b = (s: string) => Buffer.from(s);
const text = (rows: Array<{ entry: string; value: Buffer }>) => rows.map((r) => `${r.entry}=${r.value.toString()}`);

describe('mailbox metadata', () => {
  const scratch = scratchDir();
  let storage: Storage;
  let accountId: number;
  let root: string;
  const md = () => storage.mail.metadata;
  const boxId = (name: string) => storage.mail.findMailbox(accountId, name)!.id;
  const all = (mailboxId: number | null) => [...text(md().read(accountId, mailboxId, '/private', true)), ...text(md().read(accountId, mailboxId, '/shared', true))];
  const clear = async (mailboxId: number | null) => {
    const entries = [...md().read(accountId, mailboxId, '/private', true), ...md().read(accountId, mailboxId, '/shared', true)];
    assert.deepEqual(await md().set(accountId, mailboxId, entries.map((e) => ({ entry: e.entry, value: null })), LIMITS), { ok: true });
  };

  before(() => {
    storage = openStorage(scratch.dir);
    storage.directory.addDomain('example.test');
    accountId = storage.directory.addAccount({ address: 'meta@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    storage.mail.provisionAccount(accountId);
    root = storage.mail.accountDir(accountId);
  });
  after(() => {
    storage.close();
    scratch.cleanup();
  });

  test('set, read one entry, read a subtree in name order; /private and /shared kept apart; server entries apart from INBOX', async () => {
    const inbox = boxId('INBOX');
    assert.deepEqual(
      await md().set(accountId, inbox, [
        { entry: '/private/comment', value: b('mine') },
        { entry: '/shared/comment', value: b('ours') },
        { entry: '/private/a/b', value: b('2') },
        { entry: '/private/a', value: b('1') },
        { entry: '/private/ab', value: b('x') },
      ], LIMITS),
      { ok: true },
    );
    assert.deepEqual(text(md().read(accountId, inbox, '/private/comment', false)), ['/private/comment=mine']);
    assert.deepEqual(text(md().read(accountId, inbox, '/shared/comment', false)), ['/shared/comment=ours']);
    assert.deepEqual(text(md().read(accountId, inbox, '/private/a', true)), ['/private/a=1', '/private/a/b=2']);
    assert.deepEqual(md().read(accountId, inbox, '/private/missing', false), []);
    // The server's entries (mailbox null) are not INBOX's.
    assert.deepEqual(md().read(accountId, null, '/private/comment', false), []);
    assert.deepEqual(await md().set(accountId, null, [{ entry: '/private/comment', value: b('server') }], LIMITS), { ok: true });
    assert.deepEqual(text(md().read(accountId, null, '/private', true)), ['/private/comment=server']);
    assert.deepEqual(text(md().read(accountId, inbox, '/private/comment', false)), ['/private/comment=mine']);
    // Files: INBOX's in the account root (its folder), the server's beside it under another name.
    const inboxFile = JSON.parse(readFileSync(path.join(root, MAILBOX_METADATA_FILE), 'utf8')) as { entries: Record<string, string> };
    assert.equal(Buffer.from(inboxFile.entries['/private/comment']!, 'base64').toString(), 'mine');
    const serverFile = JSON.parse(readFileSync(path.join(root, SERVER_METADATA_FILE), 'utf8')) as { entries: Record<string, string> };
    assert.deepEqual(Object.keys(serverFile.entries), ['/private/comment']);
    await clear(inbox);
    await clear(null);
  });

  test('NIL removes; an empty value is a value; octets are kept as they are; the last change of an entry wins', async () => {
    const inbox = boxId('INBOX');
    const octets = Buffer.from([0xc3, 0xa9, 0xff, 0x01, 0x7f]);
    await md().set(accountId, inbox, [
      { entry: '/private/e', value: b('') },
      { entry: '/private/o', value: octets },
      { entry: '/private/x', value: b('first') },
      { entry: '/private/x', value: b('second') },
    ], LIMITS);
    assert.deepEqual(md().read(accountId, inbox, '/private/e', false).map((r) => r.value.length), [0]);
    assert.ok(md().read(accountId, inbox, '/private/o', false)[0]!.value.equals(octets));
    assert.deepEqual(text(md().read(accountId, inbox, '/private/x', false)), ['/private/x=second']);
    await md().set(accountId, inbox, [{ entry: '/private/x', value: null }, { entry: '/private/nothing', value: null }], LIMITS);
    assert.deepEqual(md().read(accountId, inbox, '/private/x', false), []);
    await clear(inbox);
  });

  test('limits: a long value is MAXSIZE, too many entries or octets is TOOMANY, and nothing of the command is kept', async () => {
    const inbox = boxId('INBOX');
    await md().set(accountId, inbox, [{ entry: '/private/keep', value: b('k') }], LIMITS);
    const before = all(inbox);
    assert.deepEqual(
      await md().set(accountId, inbox, [{ entry: '/private/new', value: b('n') }, { entry: '/private/big', value: Buffer.alloc(101, 0x61) }], LIMITS),
      { ok: false, reason: 'maxsize', maxSize: 100 },
    );
    // Five entries at most in a mailbox: a sixth refuses the whole command.
    const six = Array.from({ length: 5 }, (_, i) => ({ entry: `/private/n${i}`, value: b('v') }));
    assert.deepEqual(await md().set(accountId, inbox, six, LIMITS), { ok: false, reason: 'toomany' });
    assert.deepEqual(all(inbox), before);
    // 400 octets of names and values at most in a mailbox.
    const heavy = Array.from({ length: 4 }, (_, i) => ({ entry: `/private/h${i}`, value: Buffer.alloc(95, 0x62) }));
    assert.deepEqual(await md().set(accountId, inbox, heavy, LIMITS), { ok: false, reason: 'toomany' });
    assert.deepEqual(all(inbox), before);
    // What the file says did not change either.
    const file = JSON.parse(readFileSync(path.join(root, MAILBOX_METADATA_FILE), 'utf8')) as { entries: Record<string, string> };
    assert.deepEqual(Object.keys(file.entries), ['/private/keep']);
    // Up to the limit is fine; replacing a value at the limit is fine; removing is always fine.
    assert.deepEqual(await md().set(accountId, inbox, six.slice(0, 4), LIMITS), { ok: true });
    assert.deepEqual(await md().set(accountId, inbox, [{ entry: '/private/n0', value: b('w') }], LIMITS), { ok: true });
    assert.deepEqual(await md().set(accountId, inbox, [{ entry: '/private/n9', value: b('w') }], LIMITS), { ok: false, reason: 'toomany' });
    await clear(inbox);
  });

  test('account limits count every mailbox and the server together', async () => {
    const sent = boxId('Sent');
    const drafts = boxId('Drafts');
    const five = (p: string) => Array.from({ length: 5 }, (_, i) => ({ entry: `/private/${p}${i}`, value: b('v') }));
    assert.deepEqual(await md().set(accountId, sent, five('s'), LIMITS), { ok: true });
    assert.deepEqual(await md().set(accountId, drafts, five('d').slice(0, 3), LIMITS), { ok: true });
    // Eight in the account: the ninth, anywhere, is one too many.
    assert.deepEqual(await md().set(accountId, null, [{ entry: '/private/one', value: b('v') }], LIMITS), { ok: false, reason: 'toomany' });
    assert.deepEqual(md().read(accountId, null, '/private/one', false), []);
    await clear(sent);
    assert.deepEqual(await md().set(accountId, null, [{ entry: '/private/one', value: b('v') }], LIMITS), { ok: true });
    await clear(drafts);
    await clear(null);
  });

  test('the store refuses what no IMAP name could be; a missing or foreign mailbox is NONEXISTENT', async () => {
    for (const bad of ['/other/x', '/private/', '/private//x', '/Private/x', '/private/*', 'private/x']) {
      assert.equal(isStorableEntryName(bad), false, bad);
      await assert.rejects(async () => md().set(accountId, boxId('INBOX'), [{ entry: bad, value: b('v') }], LIMITS), (e: unknown) => e instanceof MailError && e.code === 'BADINPUT');
    }
    await assert.rejects(async () => md().set(accountId, 999_999, [{ entry: '/private/x', value: b('v') }], LIMITS), (e: unknown) => e instanceof MailError && e.code === 'NONEXISTENT');
    const other = storage.directory.addAccount({ address: 'other@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    storage.mail.provisionAccount(other);
    const theirs = storage.mail.findMailbox(other, 'INBOX')!.id;
    await assert.rejects(async () => md().set(accountId, theirs, [{ entry: '/private/x', value: b('v') }], LIMITS), (e: unknown) => e instanceof MailError && e.code === 'NONEXISTENT');
  });

  test('RENAME keeps the entries (they are keyed by id; the file moves with the folder), children included', async () => {
    await storage.mail.createMailbox(accountId, 'Proj');
    await storage.mail.createMailbox(accountId, 'Proj/Sub');
    await md().set(accountId, boxId('Proj'), [{ entry: '/private/comment', value: b('parent') }], LIMITS);
    await md().set(accountId, boxId('Proj/Sub'), [{ entry: '/shared/comment', value: b('child') }], LIMITS);
    storage.mail.renameMailbox(accountId, 'Proj', 'Work');
    assert.deepEqual(all(boxId('Work')), ['/private/comment=parent']);
    assert.deepEqual(all(boxId('Work/Sub')), ['/shared/comment=child']);
    assert.ok(existsSync(path.join(root, '.Work.Sub', MAILBOX_METADATA_FILE)));
    // RENAME INBOX moves its messages to a new mailbox; INBOX keeps its entries.
    await md().set(accountId, boxId('INBOX'), [{ entry: '/private/comment', value: b('inbox') }], LIMITS);
    storage.mail.renameMailbox(accountId, 'INBOX', 'Old Inbox');
    assert.deepEqual(all(boxId('INBOX')), ['/private/comment=inbox']);
    assert.deepEqual(all(boxId('Old Inbox')), []);
    await clear(boxId('INBOX'));
  });

  test('DELETE takes the entries with it: a new mailbox of the same name (and maybe the same id) starts empty', async () => {
    await storage.mail.createMailbox(accountId, 'Gone');
    const id = boxId('Gone');
    await md().set(accountId, id, [{ entry: '/private/comment', value: b('bye') }], LIMITS);
    storage.mail.deleteMailbox(accountId, 'Gone');
    assert.equal(storage.db.prepare('SELECT count(*) FROM mailbox_metadata WHERE mailbox_id = ?').pluck().get(id), 0);
    await storage.mail.createMailbox(accountId, 'Gone');
    assert.deepEqual(all(boxId('Gone')), []);
  });

  test('reindex (rebuild) and start-up recovery take the entries from the files, whatever the rows said', async () => {
    await md().set(accountId, boxId('Work'), [{ entry: '/private/k', value: Buffer.from([0, 1, 2, 0xfe]) }], LIMITS);
    await md().set(accountId, null, [{ entry: '/private/s', value: b('server') }], LIMITS);
    const before = { work: all(boxId('Work')), sub: all(boxId('Work/Sub')), server: all(null) };
    // The index loses everything; mailbox ids change in the rebuild.
    storage.db.exec('DELETE FROM mailbox_metadata');
    storage.mail.recoverAccount(accountId, { rebuild: true });
    assert.deepEqual({ work: all(boxId('Work')), sub: all(boxId('Work/Sub')), server: all(null) }, before);
    // Rows without a file behind them (a file is the truth) go; an edited file's impossible names are skipped.
    storage.db.prepare('INSERT INTO mailbox_metadata (account_id, mailbox_id, entry, value) VALUES (?, ?, ?, ?)').run(accountId, boxId('Sent'), '/private/stray', b('x'));
    writeFileSync(
      path.join(root, '.Sent', MAILBOX_METADATA_FILE),
      JSON.stringify({ version: 1, entries: { '/private/fine': b('ok').toString('base64'), '/bogus/x': 'eA==', '/private/UPPER': 'eA==', '/private/n': 5 } }),
    );
    storage.mail.recoverAccount(accountId);
    assert.deepEqual(all(boxId('Sent')), ['/private/fine=ok']);
    // An unreadable file is no entries, never an error.
    writeFileSync(path.join(root, '.Sent', MAILBOX_METADATA_FILE), '{not json');
    storage.mail.recoverAccount(accountId);
    assert.deepEqual(all(boxId('Sent')), []);
    assert.deepEqual(all(null), before.server);
  });

  test('removing the account removes its entries', async () => {
    const before = storage.db.prepare('SELECT count(*) FROM mailbox_metadata WHERE account_id = ?').pluck().get(accountId) as number;
    assert.ok(before > 0);
    storage.mail.deleteAccountMail(accountId);
    assert.equal(storage.db.prepare('SELECT count(*) FROM mailbox_metadata WHERE account_id = ?').pluck().get(accountId), 0);
  });
});
