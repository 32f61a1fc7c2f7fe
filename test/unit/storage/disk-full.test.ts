// What the store does when a write fails half-way (a full disk at COMMIT is
// the usual case): the files and the index change as a whole or not at all,
// every message stays readable, and the caller gets a MailError it can turn
// into a reply (NOSPACE for a full disk), never a raw error. Failures are
// made real: a SQLite trigger fails a statement after the files have
// changed, and max_page_count makes SQLite itself answer SQLITE_FULL.
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, renameSync } from 'node:fs';
import path from 'node:path';
// The SQLite + Maildir backend itself, answering synchronously (its ports are driven by test/contract/).
import { openSqliteParts as openStorage, type SqliteStorageParts as Storage } from '../../../storage/index.js';
import { MailError, isNoSpace, storageFailure } from '../../../storage/errors.js';
import { listMessageFiles } from '../../../storage/maildir/files.js';
import { errorResult } from '../../../src/protocol/imap/errors.js';
import { scratchDir } from '../../support/tmp.js';
import { makeMessage } from '../../support/messages.js';

describe('MaildirStore when a write fails', () => {
  let scratch: ReturnType<typeof scratchDir>;
  let storage: Storage;
  let accountId: number;
  let inbox: number;
  let root: string;
  const diskFull: boolean[] = [];

  beforeEach(() => {
    scratch = scratchDir();
    diskFull.length = 0;
    storage = openStorage(scratch.dir, { onDiskFull: (full) => diskFull.push(full) });
    storage.directory.addDomain('example.test');
    accountId = storage.directory.addAccount({ address: 'alice@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    storage.mail.provisionAccount(accountId);
    inbox = storage.mail.findMailbox(accountId, 'INBOX')!.id;
    root = path.join(scratch.dir, 'mail', 'example.test', 'alice');
  });
  afterEach(() => {
    storage.close();
    scratch.cleanup();
  });

  /** Makes every `event` on `table` fail inside the transaction that does it, after its file changes. */
  function failing(event: string, table: string): () => void {
    const name = `fail_${event.replace(/\W/g, '_')}_${table}`;
    storage.db.exec(`CREATE TEMP TRIGGER ${name} BEFORE ${event} ON ${table} BEGIN SELECT RAISE(ABORT, 'simulated failure'); END`);
    return () => storage.db.exec(`DROP TRIGGER ${name}`);
  }

  const tmpFiles = (folder = root) => readdirSync(path.join(folder, 'tmp'));
  /** A message whose index row (ENVELOPE, search fields) is large enough to need new pages. */
  const bulky = (id: string) => Buffer.from(`Message-ID: <${id}@remote.test>\r\nSubject: ${id} ${'y'.repeat(20_000)}\r\n\r\nbody\r\n`);

  test('a flag change whose transaction fails leaves the file where the index says it is', async () => {
    const { uid } = await storage.mail.append(accountId, 'INBOX', makeMessage('f1'));
    const before = storage.mail.messagePath(inbox, uid);
    const restore = failing('UPDATE', 'messages');
    await assert.rejects(() => storage.mail.setFlags(inbox, [uid], 'add', ['\\Flagged', 'kw1']), (err) => err instanceof MailError && err.code === 'TEMPFAIL');
    restore();
    assert.ok(existsSync(before), 'the rename was undone');
    assert.equal(storage.mail.messagePath(inbox, uid), before);
    assert.deepEqual(await storage.mail.readMessage(inbox, uid), makeMessage('f1'));
    // And the next change goes through as usual.
    await storage.mail.setFlags(inbox, [uid], 'add', ['\\Flagged']);
    assert.match(storage.mail.messagePath(inbox, uid), /:2,F$/);
    assert.deepEqual(await storage.mail.readMessage(inbox, uid), makeMessage('f1'));
  });

  test('a message whose file carries another name than the index says is still read, changed and expunged', async () => {
    const { uid } = await storage.mail.append(accountId, 'INBOX', makeMessage('f2'), { flags: ['\\Seen'] });
    const indexed = storage.mail.messagePath(inbox, uid);
    // What a rename whose index change was lost leaves: the same base, other flags.
    const moved = indexed.replace(/:2,S$/, ':2,FS');
    renameSync(indexed, moved);
    assert.deepEqual(await storage.mail.readMessage(inbox, uid), makeMessage('f2'));
    assert.equal(storage.mail.messagePath(inbox, uid), moved);
    await storage.mail.setFlags(inbox, [uid], 'add', ['\\Answered']);
    assert.deepEqual(await storage.mail.readMessage(inbox, uid), makeMessage('f2'));
    renameSync(storage.mail.messagePath(inbox, uid), moved);
    assert.deepEqual(await storage.mail.expunge(inbox, [uid]), [uid]);
    // Left under its other name, recover() would bring the expunged message back.
    assert.deepEqual(listMessageFiles(root), []);
    assert.deepEqual(storage.mail.recoverAccount(accountId), { adopted: 0, dropped: 0 });
    assert.deepEqual(tmpFiles(), []);
  });

  test('an expunge whose transaction fails keeps every file; one that commits leaves none', async () => {
    const uids: number[] = [];
    for (const id of ['e1', 'e2']) uids.push((await storage.mail.append(accountId, 'INBOX', makeMessage(id))).uid);
    const restore = failing('INSERT', 'expunged');
    await assert.rejects(() => storage.mail.expunge(inbox, uids), (err) => err instanceof MailError && err.code === 'TEMPFAIL');
    restore();
    assert.equal(listMessageFiles(root).length, 2);
    assert.deepEqual(tmpFiles(), []);
    assert.deepEqual(await storage.mail.readMessage(inbox, uids[1]!), makeMessage('e2'));
    assert.deepEqual(await storage.mail.expunge(inbox, uids), uids);
    assert.deepEqual(listMessageFiles(root), []);
    assert.deepEqual(tmpFiles(), []);
  });

  test('CREATE, RENAME and DELETE whose transaction fails leave the folders as they were', async () => {
    let restore = failing('INSERT', 'mailboxes');
    await assert.rejects(async () => storage.mail.createMailbox(accountId, 'Projects'), MailError);
    restore();
    assert.ok(!existsSync(path.join(root, '.Projects')), 'no folder without its row');
    assert.equal(storage.mail.findMailbox(accountId, 'Projects'), undefined);

    await storage.mail.createMailbox(accountId, 'Projects');
    const meta = path.join(root, '.Projects', 'postino-folder.json');
    assert.ok(existsSync(meta));
    restore = failing('UPDATE OF name', 'mailboxes');
    assert.throws(() => storage.mail.renameMailbox(accountId, 'Projects', 'Work'), MailError);
    restore();
    assert.ok(existsSync(meta) && !existsSync(path.join(root, '.Work')), 'the folder keeps its name');

    restore = failing('DELETE', 'mailboxes');
    assert.throws(() => storage.mail.deleteMailbox(accountId, 'Projects'), MailError);
    restore();
    assert.ok(existsSync(meta), 'the folder is back');
    assert.deepEqual(readdirSync(root).filter((d) => d.startsWith('..')), []);
    storage.mail.deleteMailbox(accountId, 'Projects');
    assert.ok(!existsSync(path.join(root, '.Projects')));
    assert.deepEqual(readdirSync(root).filter((d) => d.startsWith('..')), []);
  });

  test('renaming INBOX whose transaction fails leaves its messages in INBOX', async () => {
    const { uid } = await storage.mail.append(accountId, 'INBOX', makeMessage('r1'));
    const restore = failing('DELETE', 'messages');
    assert.throws(() => storage.mail.renameMailbox(accountId, 'INBOX', 'Old'), MailError);
    restore();
    assert.deepEqual(await storage.mail.readMessage(inbox, uid), makeMessage('r1'));
    assert.ok(!existsSync(path.join(root, '.Old')));
    assert.deepEqual(storage.mail.recoverAccount(accountId), { adopted: 0, dropped: 0 });
  });

  test('a full index (SQLITE_FULL) fails an append with NOSPACE, leaves no file behind, and stores again once there is room', async () => {
    await storage.mail.append(accountId, 'INBOX', makeMessage('ok1'));
    const pages = storage.db.pragma('page_count', { simple: true }) as number;
    storage.db.pragma(`max_page_count = ${pages}`);
    await assert.rejects(storage.mail.append(accountId, 'INBOX', bulky('full1')), (err) => err instanceof MailError && err.code === 'NOSPACE');
    assert.deepEqual(diskFull, [true]);
    assert.equal(listMessageFiles(root).length, 1, 'only the first message');
    assert.deepEqual(tmpFiles(), []);
    storage.db.pragma('max_page_count = 1073741823');
    assert.deepEqual(storage.mail.recoverAccount(accountId), { adopted: 0, dropped: 0 });
    await storage.mail.append(accountId, 'INBOX', bulky('ok2'));
    assert.deepEqual(diskFull, [true, false]);
    assert.equal(storage.mail.getMailbox(accountId, 'INBOX')!.messages, 2);
  });

  test('a failed MULTIAPPEND group keeps no member and no file', async () => {
    const pages = storage.db.pragma('page_count', { simple: true }) as number;
    storage.db.pragma(`max_page_count = ${pages}`);
    const group = ['g1', 'g2', 'g3'].map((id) => ({ raw: bulky(id) }));
    await assert.rejects(storage.mail.appendMany(accountId, 'INBOX', group), (err) => err instanceof MailError && err.code === 'NOSPACE');
    storage.db.pragma('max_page_count = 1073741823');
    assert.deepEqual(listMessageFiles(root), []);
    assert.deepEqual(tmpFiles(), []);
    assert.equal(storage.mail.getMailbox(accountId, 'INBOX')!.messages, 0);
  });

  test('SELECT on a full index still works: claiming \\Recent is given up, not the command', async () => {
    await storage.mail.append(accountId, 'INBOX', makeMessage('c1'));
    const restore = failing('INSERT', 'mailbox_recent');
    assert.equal(storage.mail.claimRecent(inbox, 2), 1);
    restore();
    assert.equal(storage.mail.claimRecent(inbox, 2), 1);
    assert.equal(storage.mail.claimRecent(inbox, 2), 2);
  });
});

test('errors of a full disk become NOSPACE, other I/O errors TEMPFAIL, and IMAP answers NO [OVERQUOTA] / [UNAVAILABLE]', () => {
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  const full = Object.assign(new Error('database or disk is full'), { name: 'SqliteError', code: 'SQLITE_FULL' });
  const eio = Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', errno: -5, syscall: 'read' });
  for (const e of [enospc, full, Object.assign(new Error('quota'), { code: 'EDQUOT', syscall: 'write' })]) {
    const m = storageFailure(e);
    assert.ok(m instanceof MailError && m.code === 'NOSPACE', String(e));
    assert.deepEqual(errorResult(m), { status: 'NO', code: 'OVERQUOTA', text: 'Not enough disk space' });
  }
  assert.ok(isNoSpace(new MailError('TEMPFAIL', 'cannot write to the queue', { cause: enospc })), 'found in the cause');
  const io = storageFailure(eio);
  assert.ok(io instanceof MailError && io.code === 'TEMPFAIL');
  assert.equal(errorResult(io).code, 'UNAVAILABLE');
  const bug = new TypeError('x is undefined');
  assert.equal(storageFailure(bug), bug, 'a bug stays a bug (SERVERBUG, logged)');
});
