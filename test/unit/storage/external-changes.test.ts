import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStorage } from '../../../storage/index.js';
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
    await sleep(150); // the watcher sees r1 arrive before its flags change
    const r2 = await b.mail.append(id, 'INBOX', makeMessage('ext2'));
    b.mail.setFlags(r1.mailboxId, [r1.uid], 'add', ['\\Seen']);
    b.mail.expunge(r2.mailboxId, [r2.uid]);
    await sleep(200);
    // An expunge of a message the feed did announce is published.
    b.mail.expunge(r1.mailboxId, [r1.uid]);
    b.close();
    await sleep(200);

    const own = await a.mail.append(id, 'INBOX', makeMessage('own'));
    await sleep(100);
    stop();

    assert.deepEqual(
      seen.filter((c) => c.kind !== 'mailboxes').map((c) => [c.kind, 'uid' in c ? c.uid : 0]),
      // r2 came and went between two looks: never announced, so neither EXISTS nor EXPUNGE.
      [
        ['append', r1.uid],
        ['flags', r1.uid],
        ['expunge', r1.uid],
        ['append', own.uid],
      ],
    );
  } finally {
    a.close();
    s.cleanup();
  }
});
