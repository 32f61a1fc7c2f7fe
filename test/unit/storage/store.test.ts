import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
// The SQLite + Maildir backend itself, answering synchronously (its ports are driven by test/contract/).
import { openSqliteParts as openStorage, type SqliteStorageParts as Storage } from '../../../storage/index.js';
import { indexMessage, parseMessage } from '../../../mime/index.js';
import { MaildirBlobStore } from '../../../storage/maildir/blob-store.js';
import { folderDir, folderNameFromDir, parseFileName } from '../../../storage/maildir/names.js';
import type { MailboxChange } from '../../../storage/ports.js';
import { scratchDir } from '../../support/tmp.js';
import { makeMessage } from '../../support/messages.js';

describe('MaildirStore', () => {
  const scratch = scratchDir();
  let storage: Storage;
  let accountId: number;

  before(() => {
    storage = openStorage(scratch.dir);
    storage.directory.addDomain('example.test');
    accountId = storage.directory.addAccount({ address: 'alice@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    storage.mail.provisionAccount(accountId);
  });
  after(() => {
    storage.close();
    scratch.cleanup();
  });

  test('provisions the default folders with SPECIAL-USE', async () => {
    const boxes = storage.mail.listMailboxes(accountId);
    assert.deepEqual(
      boxes.map((b) => [b.name, b.specialUse]).sort(),
      [
        ['Archive', '\\Archive'],
        ['Drafts', '\\Drafts'],
        ['INBOX', null],
        ['Junk', '\\Junk'],
        ['Sent', '\\Sent'],
        ['Trash', '\\Trash'],
      ],
    );
    const root = path.join(scratch.dir, 'mail', 'example.test', 'alice');
    for (const d of ['cur', 'new', 'tmp', '.Sent/cur', '.Junk/new']) assert.ok(existsSync(path.join(root, d)), d);
  });

  test('append is durable in new/ with the UID in the name and in the index', async () => {
    const raw = makeMessage('a1');
    const r = await storage.mail.append(accountId, 'INBOX', raw);
    assert.equal(r.uid, 1);
    const files = readdirSync(path.join(scratch.dir, 'mail', 'example.test', 'alice', 'new'));
    assert.equal(files.length, 1);
    const parsed = parseFileName(files[0]!);
    assert.equal(parsed.uid, 1);
    assert.equal(parsed.size, raw.length);
    assert.deepEqual(await storage.mail.readMessage(r.mailboxId, 1), raw);
    const box = storage.mail.getMailbox(accountId, 'inbox')!;
    assert.equal(box.uidNext, 2);
    assert.equal(box.messages, 1);
    assert.equal(box.unseen, 1);
  });

  test('UIDs ascend and MODSEQ grows with concurrent appends', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => storage.mail.append(accountId, 'Sent', makeMessage(`s${i}`, 1000))));
    const uids = results.map((r) => r.uid).sort((a, b) => a - b);
    assert.deepEqual(uids, Array.from({ length: 50 }, (_, i) => i + 1));
    assert.equal(new Set(results.map((r) => r.modseq)).size, 50);
  });

  test('flags live in the :2, suffix, keywords as letters', async () => {
    const r = await storage.mail.append(accountId, 'INBOX', makeMessage('f1'), { flags: ['\\seen', '$Important'] });
    const rec = storage.mail.getMessage(r.mailboxId, r.uid)!;
    assert.deepEqual(rec.flags, ['\\Seen', '$Important']);
    const changed = await storage.mail.setFlags(r.mailboxId, [r.uid], 'add', ['\\Flagged', '\\Deleted']);
    assert.equal(changed.length, 1);
    assert.ok(changed[0]!.modseq > rec.modseq);
    const cur = readdirSync(path.join(scratch.dir, 'mail', 'example.test', 'alice', 'cur'));
    const file = cur.find((f) => parseFileName(f).uid === r.uid)!;
    assert.match(file, /:2,FSTa$/);
    // unchanged flags do not bump MODSEQ
    assert.equal((await storage.mail.setFlags(r.mailboxId, [r.uid], 'add', ['\\Seen'])).length, 0);
    // UNCHANGEDSINCE below the current modseq skips the message
    assert.equal((await storage.mail.setFlags(r.mailboxId, [r.uid], 'remove', ['\\Seen'], 1)).length, 0);
  });

  test('expunge removes \\Deleted messages from disk and index, and updates quota', async () => {
    const inbox = storage.mail.getMailbox(accountId, 'INBOX')!;
    const before = storage.mail.quota(accountId);
    const gone = await storage.mail.expunge(inbox.id);
    assert.equal(gone.length, 1);
    const after = storage.mail.quota(accountId);
    assert.equal(after.usedMessages, before.usedMessages - 1);
    assert.equal(storage.mail.getMessage(inbox.id, gone[0]!), undefined);
  });

  test('change feed publishes append, flags and expunge in commit order', async () => {
    const seen: MailboxChange[] = [];
    const off = storage.mail.feed.subscribe(accountId, (c) => seen.push(c));
    const r = await storage.mail.append(accountId, 'INBOX', makeMessage('feed'));
    await storage.mail.setFlags(r.mailboxId, [r.uid], 'add', ['\\Deleted']);
    await storage.mail.expunge(r.mailboxId, [r.uid]);
    off();
    assert.deepEqual(
      seen.map((c) => c.kind),
      ['append', 'flags', 'expunge'],
    );
    const modseqs = seen.map((c) => ('modseq' in c ? c.modseq : 0));
    assert.ok(modseqs[0]! < modseqs[1]! && modseqs[1]! < modseqs[2]!);
  });

  test('append indexes from the parsed model it is given (IMAP APPEND), and from the bytes when the model is of other bytes', async () => {
    const raw = makeMessage('model');
    const parsed = parseMessage(raw);
    let asked = 0;
    const message = { raw, index: () => (asked++, parsed.index()) };
    const r = await storage.mail.append(accountId, 'INBOX', raw, { message });
    assert.equal(asked, 1);
    assert.equal(storage.mail.getMessage(r.mailboxId, r.uid)!.mime, JSON.stringify(indexMessage(raw)));
    const other = { raw: makeMessage('other'), index: () => assert.fail('a model of other bytes is not used') };
    const r2 = await storage.mail.append(accountId, 'INBOX', raw, { message: other });
    assert.equal(storage.mail.getMessage(r2.mailboxId, r2.uid)!.mime, JSON.stringify(indexMessage(raw)));
  });

  test('STORE and EXPUNGE resolve only once the renamed directories are fsynced (in the writer threads, after the commit)', async () => {
    const synced: string[][] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const r = await storage.mail.append(accountId, 'INBOX', makeMessage('durable'));
    const original = MaildirBlobStore.prototype.sync;
    MaildirBlobStore.prototype.sync = function (this: MaildirBlobStore, dirs: Iterable<string>, also?: string[]) {
      synced.push([...dirs]);
      return held.then(() => original.call(this, dirs, also));
    };
    try {
      const inbox = path.join(scratch.dir, 'mail', 'example.test', 'alice');
      let done = false;
      const store = storage.mail.setFlags(r.mailboxId, [r.uid], 'add', ['\\Flagged']).then(() => (done = true));
      // Committed and renamed at once; not reported until the fsync of cur/ is done.
      assert.match(storage.mail.messagePath(r.mailboxId, r.uid), /:2,F$/);
      // A timer keeps the loop alive meanwhile (the writer threads do not).
      await new Promise((res) => setTimeout(res, 20));
      assert.equal(done, false);
      assert.deepEqual(synced.at(-1), [path.join(inbox, 'cur')]);
      release();
      await store;
      const gone = await storage.mail.expunge(r.mailboxId, [r.uid]);
      assert.deepEqual(gone, [r.uid]);
      assert.deepEqual(synced.at(-1), [path.join(inbox, 'cur')]);
    } finally {
      MaildirBlobStore.prototype.sync = original;
    }
  });

  test('deliveries never write into a mailbox renamed or deleted, here or by another process', async () => {
    await storage.mail.createMailbox(accountId, 'Lists');
    assert.equal(storage.mail.hasMailbox(accountId, 'Lists'), true);
    await storage.mail.append(accountId, 'Lists', makeMessage('l1', 100));
    storage.mail.renameMailbox(accountId, 'Lists', 'Lists-old');
    assert.equal(storage.mail.hasMailbox(accountId, 'Lists'), false);
    await assert.rejects(storage.mail.append(accountId, 'Lists', makeMessage('l2', 100)), { code: 'NONEXISTENT' });
    assert.equal(storage.mail.getMailbox(accountId, 'Lists-old')!.messages, 1);

    // Another process (an IMAP client's DELETE there, the CLI) is seen from the next event-loop turn.
    assert.equal(storage.mail.hasMailbox(accountId, 'Lists-old'), true);
    const other = openStorage(scratch.dir);
    try {
      other.mail.deleteMailbox(accountId, 'Lists-old');
    } finally {
      other.close();
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(storage.mail.hasMailbox(accountId, 'Lists-old'), false);
    await assert.rejects(storage.mail.append(accountId, 'Lists-old', makeMessage('l3', 100)), { code: 'NONEXISTENT' });
  });

  test('folders: create nested, rename with children, delete; names cannot escape', async () => {
    await storage.mail.createMailbox(accountId, 'Work/Projects');
    await storage.mail.createMailbox(accountId, 'Work/Projects/2026');
    await assert.rejects(async () => storage.mail.createMailbox(accountId, 'Work/Projects'), { code: 'ALREADYEXISTS' });
    await storage.mail.append(accountId, 'Work/Projects/2026', makeMessage('w1'));
    storage.mail.renameMailbox(accountId, 'Work/Projects', 'Done');
    assert.ok(storage.mail.getMailbox(accountId, 'Done/2026'));
    assert.equal(storage.mail.getMailbox(accountId, 'Work/Projects'), undefined);
    assert.equal(storage.mail.getMailbox(accountId, 'Done/2026')!.messages, 1);
    storage.mail.deleteMailbox(accountId, 'Done/2026');
    assert.equal(storage.mail.getMailbox(accountId, 'Done/2026'), undefined);
    for (const evil of ['../../etc', 'a/../../b', '..', '.', 'x/./y']) {
      const dir = folderDir(evil.replace(/\/\.\.?(?=\/|$)/g, '/x'));
      assert.ok(!dir.includes('/'), `${evil} -> ${dir}`);
    }
    const made = await storage.mail.createMailbox(accountId, '../evil');
    assert.equal(made.name, '../evil');
    assert.equal(folderDir('../evil'), '.%2E%2E%2Fevil'.replace('%2F', '.'));
    assert.equal(folderNameFromDir(folderDir('a.b/c')), 'a.b/c');
    await assert.rejects(async () => storage.mail.createMailbox(accountId, 'a//b'), { code: 'BADINPUT' });
    await assert.rejects(async () => storage.mail.createMailbox(accountId, ''), { code: 'BADINPUT' });
    assert.throws(() => storage.mail.deleteMailbox(accountId, 'INBOX'), { code: 'REFUSED' });
  });

  test('copy keeps flags and internal date', async () => {
    const src = await storage.mail.append(accountId, 'INBOX', makeMessage('c1'), { flags: ['\\Answered'], internalDate: Date.UTC(2020, 0, 2) });
    const trash = storage.mail.getMailbox(accountId, 'Trash')!;
    const pairs = await storage.mail.copy(src.mailboxId, [src.uid], trash.id);
    assert.equal(pairs.length, 1);
    const copied = storage.mail.getMessage(trash.id, pairs[0]![1])!;
    assert.deepEqual(copied.flags, ['\\Answered']);
    assert.equal(copied.internalDate, Date.UTC(2020, 0, 2));
  });

  test('quota: an append beyond the limit is refused and nothing is stored', async () => {
    storage.directory.addAccount({ address: 'small@example.test', passwordHash: 'x', scramSha256: null, quota: 6000 });
    const small = storage.directory.getAccount('small@example.test')!;
    storage.mail.provisionAccount(small.id);
    await storage.mail.append(small.id, 'INBOX', makeMessage('q1', 4000));
    await assert.rejects(storage.mail.append(small.id, 'INBOX', makeMessage('q2', 4000)), { code: 'OVERQUOTA' });
    const inbox = storage.mail.getMailbox(small.id, 'INBOX')!;
    assert.equal(inbox.messages, 1);
    const root = path.join(scratch.dir, 'mail', 'example.test', 'small');
    assert.equal(readdirSync(path.join(root, 'new')).length, 1);
    assert.equal(readdirSync(path.join(root, 'tmp')).length, 0);
  });

  test('appendMany: all messages in order with ascending UIDs, or none, even when the group fails at commit', async () => {
    storage.directory.addAccount({ address: 'group@example.test', passwordHash: 'x', scramSha256: null, quota: null });
    const acct = storage.directory.getAccount('group@example.test')!;
    storage.mail.provisionAccount(acct.id);
    const root = path.join(scratch.dir, 'mail', 'example.test', 'group');
    const files = () => ['new', 'cur', 'tmp'].map((d) => readdirSync(path.join(root, d)).length);

    const ok = await storage.mail.appendMany(acct.id, 'INBOX', [
      { raw: makeMessage('g1', 1000) },
      { raw: makeMessage('g2', 1000), options: { flags: ['\\Seen'] } },
      { raw: makeMessage('g3', 1000) },
    ]);
    assert.deepEqual(ok.map((r) => r.uid), [1, 2, 3]);

    // Over quota up front: nothing is written, no UID is used.
    storage.directory.setQuota('group@example.test', storage.mail.quota(acct.id).usedBytes + 1500);
    await assert.rejects(storage.mail.appendMany(acct.id, 'INBOX', [{ raw: makeMessage('g4', 1000) }, { raw: makeMessage('g5', 1000) }]), {
      code: 'OVERQUOTA',
    });
    assert.deepEqual(files(), [2, 1, 0]);

    // A single append and a group race for the last 1,500 bytes: both pass the
    // check before writing, and at commit whichever comes second fails whole.
    const single = storage.mail.append(acct.id, 'INBOX', makeMessage('s', 1000)).then(
      () => 'ok',
      (e: { code?: string }) => e.code,
    );
    const group = storage.mail.appendMany(acct.id, 'INBOX', [{ raw: makeMessage('g6', 500) }, { raw: makeMessage('g7', 500) }]).then(
      () => 'ok',
      (e: { code?: string }) => e.code,
    );
    const outcome = [await single, await group];
    assert.ok(
      (outcome[0] === 'ok' && outcome[1] === 'OVERQUOTA') || (outcome[0] === 'OVERQUOTA' && outcome[1] === 'ok'),
      `one of them fails whole: ${outcome.join(', ')}`,
    );
    const stored = outcome[0] === 'ok' ? 4 : 5;
    const inbox = storage.mail.getMailbox(acct.id, 'INBOX')!;
    assert.equal(inbox.messages, stored);
    assert.equal(files().reduce((a, b) => a + b), stored, 'no file is left behind by the failed half');
    assert.equal(files()[2], 0);
    const sizes = storage.mail.listMessages(inbox.id).reduce((n, m) => n + m.size, 0);
    assert.equal(storage.mail.quota(acct.id).usedBytes, sizes, 'quota usage counts only what is stored');
    // UIDs stay ascending with no message ever seen twice.
    storage.directory.setQuota('group@example.test', null);
    const next = await storage.mail.append(acct.id, 'INBOX', makeMessage('after', 100));
    assert.ok(next.uid > Math.max(...storage.mail.listMessages(inbox.id).filter((m) => m.uid !== next.uid).map((m) => m.uid)));
  });
});

test('a read after a list tries the listed file name, and finds a message another process renamed or expunged since', async () => {
  const s = scratchDir();
  const a = openStorage(s.dir);
  const b = openStorage(s.dir); // another process, as the LDA or a second serve would be
  try {
    a.directory.addDomain('example.test');
    const id = a.directory.addAccount({ address: 'u@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    a.mail.provisionAccount(id);
    const raws = [0, 1, 2].map((i) => makeMessage(`listed-${i}`));
    const stored = [];
    for (const raw of raws) stored.push(await a.mail.append(id, 'INBOX', raw));
    const inbox = stored[0]!.mailboxId;
    assert.equal(a.mail.listMessages(inbox).length, 3);
    // Renamed (a flag change) and expunged behind this process's back, after its list.
    await b.mail.setFlags(inbox, [stored[0]!.uid], 'add', ['\\Seen']);
    await b.mail.expunge(inbox, [stored[1]!.uid]);
    assert.deepEqual(await a.mail.readMessage(inbox, stored[0]!.uid), raws[0]);
    await assert.rejects(a.mail.readMessage(inbox, stored[1]!.uid), (err: Error & { code?: string }) => err.code === 'NONEXISTENT');
    assert.deepEqual(await a.mail.readMessage(inbox, stored[2]!.uid), raws[2]);
    assert.deepEqual(await a.mail.readMessage(inbox, stored[2]!.uid, 10), raws[2]!.subarray(0, 10));
    // And renamed here: the list is forgotten, the row asked.
    await a.mail.setFlags(inbox, [stored[2]!.uid], 'add', ['\\Flagged']);
    assert.deepEqual(await a.mail.readMessage(inbox, stored[2]!.uid), raws[2]);
  } finally {
    b.close();
    a.close();
    s.cleanup();
  }
});

test('a list reuses only the records of rows whose MODSEQ did not change, also after another process changed the mailbox', async () => {
  const s = scratchDir();
  const a = openStorage(s.dir);
  const b = openStorage(s.dir); // another process
  try {
    a.directory.addDomain('example.test');
    const id = a.directory.addAccount({ address: 'u@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    a.mail.provisionAccount(id);
    const stored = [];
    // Enough rows that three changed ones are read one by one (many would be read all at once).
    for (let i = 0; i < 16; i++) stored.push(await a.mail.append(id, 'INBOX', makeMessage(`kept-${i}`)));
    const inbox = stored[0]!.mailboxId;
    const first = a.mail.listMessages(inbox);
    assert.equal(first.length, 16);
    await b.mail.setFlags(inbox, [stored[0]!.uid], 'add', ['\\Seen', '$Done']);
    await b.mail.expunge(inbox, [stored[1]!.uid]);
    const added = await b.mail.append(id, 'INBOX', makeMessage('kept-new'));
    await a.mail.setFlags(inbox, [stored[2]!.uid], 'add', ['\\Flagged']);
    const second = a.mail.listMessages(inbox);
    assert.deepEqual(
      second.map((r) => r.uid),
      [stored[0]!.uid, ...stored.slice(2).map((x) => x.uid), added.uid],
    );
    const byUid = new Map(second.map((r) => [r.uid, r]));
    assert.deepEqual(byUid.get(stored[0]!.uid)!.flags, ['\\Seen', '$Done']);
    assert.deepEqual(byUid.get(stored[2]!.uid)!.flags, ['\\Flagged']);
    assert.deepEqual(second.map((r) => r.modseq), b.mail.listMessages(inbox).map((r) => r.modseq));
    // The rows nobody changed: the very records of the first list.
    for (const x of stored.slice(3)) assert.equal(byUid.get(x.uid), first.find((r) => r.uid === x.uid));
    // A part of the range, then the whole again: the same answers as a fresh process gives.
    assert.deepEqual(a.mail.listMessages(inbox, stored[3]!.uid, stored[5]!.uid), b.mail.listMessages(inbox, stored[3]!.uid, stored[5]!.uid));
    assert.deepEqual(a.mail.listMessages(inbox), b.mail.listMessages(inbox));
    for (const x of stored.slice(2)) assert.deepEqual(await a.mail.readMessage(inbox, x.uid), await b.mail.readMessage(inbox, x.uid));
  } finally {
    b.close();
    a.close();
    s.cleanup();
  }
});

test('a list never hands out a kept record for another message under the same UID and MODSEQ (an import that replaces a folder)', async () => {
  const s = scratchDir();
  const a = openStorage(s.dir);
  try {
    a.directory.addDomain('example.test');
    const id = a.directory.addAccount({ address: 'u@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    a.mail.provisionAccount(id);
    const raw = (t: string) => Buffer.from(`Subject: ${t}\r\n\r\n${t}\r\n`);
    await a.mail.imports.importFolder(id, { name: 'INBOX', uidValidity: 7, uidNext: 3, add: [{ uid: 2, raw: raw('old'), flags: [], internalDate: 0, modseq: 5 }], flags: [], expunge: [] });
    const inbox = a.mail.getMailbox(id, 'INBOX')!;
    const before = a.mail.listMessages(inbox.id);
    assert.deepEqual(before.map((r) => [r.uid, r.modseq, r.size]), [[2, 5, raw('old').length]]);
    await a.mail.imports.importFolder(id, { name: 'INBOX', uidValidity: 9, uidNext: 3, add: [{ uid: 2, raw: raw('a new one'), flags: ['\\Seen'], internalDate: 0, modseq: 5 }], flags: [], expunge: [] });
    const after = a.mail.listMessages(inbox.id);
    assert.deepEqual(after.map((r) => [r.uid, r.modseq, r.size, r.flags]), [[2, 5, raw('a new one').length, ['\\Seen']]]);
    assert.deepEqual(await a.mail.readMessage(inbox.id, 2), raw('a new one'));
  } finally {
    a.close();
    s.cleanup();
  }
});
