// SELECT's UID list is kept per mailbox between SELECTs and caught up from the
// MODSEQ log: whatever changed in between (here, in this process or through
// another connection, as `postino deliver` would), it must equal the index.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSqliteParts as openStorage } from '../../../storage/index.js';
import { scratchDir } from '../../support/tmp.js';
import { makeMessage } from '../../support/messages.js';
import { UidLists, type UidSource } from '../../../storage/mail/uid-lists.js';

test('the UID list SELECT gets matches the index after appends, expunges, moves and a folder made again under a reused id', async () => {
  const s = scratchDir();
  const a = openStorage(s.dir);
  const b = openStorage(s.dir);
  try {
    a.directory.addDomain('example.test');
    const id = a.directory.addAccount({ address: 'u@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    a.mail.provisionAccount(id);
    const fill = async (name: string, n: number) => {
      for (let i = 0; i < n; i += 100) await a.mail.appendMany(id, name, Array.from({ length: Math.min(100, n - i) }, (_, k) => ({ raw: makeMessage(`m${i + k}`) })));
    };
    const indexed = (mailboxId: number) => a.mail.listMessages(mailboxId).map((m) => m.uid);
    await fill('INBOX', 400);
    const inbox = a.mail.findMailbox(id, 'INBOX')!.id;
    assert.deepEqual(a.mail.selectSummary(inbox).uids, indexed(inbox));

    // Changes through this process and another connection, then SELECT again.
    await a.mail.setFlags(inbox, [3, 4], 'add', ['\\Deleted']);
    await a.mail.expunge(inbox, [3, 4]);
    await b.mail.append(id, 'INBOX', makeMessage('other process'));
    await b.mail.setFlags(inbox, [10], 'add', ['\\Deleted']);
    await b.mail.expunge(inbox, [10]);
    const archive = await a.mail.createMailbox(id, 'Kept');
    await a.mail.move(inbox, [20, 21, 22], archive.id);
    await a.mail.setFlags(inbox, [30], 'add', ['\\Seen']);
    const second = a.mail.selectSummary(inbox);
    assert.deepEqual(second.uids, indexed(inbox));
    assert.equal(second.uids.length, 400 + 1 - 3 - 3);
    // The caller may change its copy.
    second.uids.length = 0;
    assert.deepEqual(a.mail.selectSummary(inbox).uids, indexed(inbox));
    // Expunge everything: the list empties.
    await b.mail.setFlags(inbox, indexed(inbox), 'add', ['\\Deleted']);
    await b.mail.expunge(inbox);
    assert.deepEqual(a.mail.selectSummary(inbox).uids, []);

    // A folder deleted and made again at once (by another connection) gets the same row id back.
    await a.mail.createMailbox(id, 'Work');
    await fill('Work', 300);
    const work = a.mail.findMailbox(id, 'Work')!.id;
    assert.equal(a.mail.selectSummary(work).uids.length, 300);
    b.mail.deleteMailbox(id, 'Work');
    await b.mail.createMailbox(id, 'Work');
    await b.mail.append(id, 'Work', makeMessage('fresh'));
    const again = a.mail.findMailbox(id, 'Work')!.id;
    assert.deepEqual(a.mail.selectSummary(again).uids, [1]);
  } finally {
    b.close();
    a.close();
    s.cleanup();
  }
});

test('a kept list is used only for the same mailbox row: another account or UIDVALIDITY under the id is read whole', () => {
  let fullReads = 0;
  let rows = Array.from({ length: 300 }, (_, i) => i + 1);
  const source: UidSource = {
    all: () => (fullReads++, rows.slice()),
    addedSince: (_id, _modseq, after) => rows.filter((u) => u > after),
    expungedSince: () => [],
    bounds: () => ({ min: rows[0] ?? null, max: rows[rows.length - 1] ?? null }),
  };
  const lists = new UidLists();
  const head = { id: 7, accountId: 1, uidValidity: 1000, highestModseq: 300 };
  assert.equal(lists.uids(head, source).length, 300);
  assert.equal(lists.uids(head, source).length, 300);
  assert.equal(fullReads, 1, 'the second SELECT used the kept list');
  rows = Array.from({ length: 280 }, (_, i) => i + 1);
  assert.equal(lists.uids({ ...head, uidValidity: 1001 }, source).length, 280);
  assert.equal(lists.uids({ ...head, uidValidity: 1001, accountId: 2 }, source).length, 280);
  assert.equal(fullReads, 3);
  // A list that drifted from the index (its bounds differ) is read again.
  rows = [5, 6];
  assert.deepEqual(lists.uids({ ...head, uidValidity: 1001, accountId: 2, highestModseq: 301 }, source), [5, 6]);
  assert.equal(fullReads, 4);
});
