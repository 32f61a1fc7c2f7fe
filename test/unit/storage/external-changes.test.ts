import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
// The SQLite + Maildir backend itself, answering synchronously (its ports are driven by test/contract/).
import { openSqliteParts as openStorage } from '../../../storage/index.js';
import type { MailboxChange } from '../../../storage/ports.js';
import { scratchDir } from '../../support/tmp.js';
import { makeMessage } from '../../support/messages.js';

test('changes committed by another process reach this process feed once, in MODSEQ order', async () => {
  const s = scratchDir();
  const a = openStorage(s.dir);
  try {
    a.directory.addDomain('example.test');
    const id = a.directory.addAccount({ address: 'u@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    a.mail.provisionAccount(id);
    const seen: MailboxChange[] = [];
    a.mail.feed.subscribe(id, (c) => seen.push(c));
    const stop = a.mail.watchExternalChanges(20);

    const b = openStorage(s.dir); // another connection, as the LDA would have
    const r1 = await b.mail.append(id, 'INBOX', makeMessage('ext1'));
    const r2 = await b.mail.append(id, 'INBOX', makeMessage('ext2'));
    await b.mail.setFlags(r1.mailboxId, [r1.uid], 'add', ['\\Seen']);
    await b.mail.expunge(r2.mailboxId, [r2.uid]);
    await sleep(200);
    // An expunge of a message the feed did announce is published.
    await b.mail.expunge(r1.mailboxId, [r1.uid]);
    b.close();
    await sleep(200);

    const own = await a.mail.append(id, 'INBOX', makeMessage('own'));
    await sleep(100);
    stop();

    // How often the watcher looked decides which intermediate states it saw;
    // these hold whatever the timing.
    const changes = seen.filter((c): c is Exclude<MailboxChange, { kind: 'mailboxes' }> => c.kind !== 'mailboxes');
    const key = (c: (typeof changes)[number]) => `${c.kind}:${c.uid}`;
    assert.equal(new Set(changes.map(key)).size, changes.length, 'no change is published twice');
    const modseqs = changes.map((c) => c.modseq);
    assert.deepEqual(modseqs, [...modseqs].sort((x, y) => x - y), 'in MODSEQ order');
    assert.ok(changes.some((c) => key(c) === `append:${r1.uid}`));
    assert.ok(changes.some((c) => key(c) === `expunge:${r1.uid}`));
    assert.equal(changes.filter((c) => key(c) === `append:${own.uid}`).length, 1, 'own change once');
    // A message never announced is never expunged.
    const sawR2 = changes.some((c) => key(c) === `append:${r2.uid}`);
    assert.equal(changes.some((c) => key(c) === `expunge:${r2.uid}`), sawR2);
  } finally {
    a.close();
    s.cleanup();
  }
});
