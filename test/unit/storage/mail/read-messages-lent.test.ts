// MailStore.readMessagesLent, the read a POP3 download's read-ahead makes:
// several messages in one request, each with its own bytes or its own error,
// in the order asked. The refs listed at login are read together; a message
// renamed since (a flag change in IMAP), one never listed, and one expunged
// each take their own way, and none spoils the others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSqliteParts } from '../../../../storage/index.js';
import { indexMessageJson } from '../../../../mime/index.js';
import { isMailError } from '../../../../storage/errors.js';
import type { LentBytes } from '../../../../storage/ports.js';
import { scratchDir } from '../../../support/tmp.js';
import { makeMessage } from '../../../support/messages.js';

test('readMessagesLent: listed, renamed since, unlisted and expunged messages, each on its own', async () => {
  const scratch = scratchDir();
  const storage = openSqliteParts(scratch.dir, { indexer: indexMessageJson });
  try {
    storage.directory.addDomain('example.test');
    const accountId = storage.directory.addAccount({ address: 'lent@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    storage.mail.provisionAccount(accountId);
    const bodies = Array.from({ length: 6 }, (_, i) => makeMessage(`lent ${i}`, 500 + i * 300));
    for (const raw of bodies.slice(0, 5)) await storage.mail.append(accountId, 'INBOX', raw);
    const inbox = storage.mail.findMailbox(accountId, 'INBOX')!.id;
    // The login's listing: its refs are the ones read together.
    const listed = await storage.mail.listMaildrop(inbox);
    assert.equal(listed.length, 5);
    // Since the login: one renamed by a flag change, one expunged, one delivered (never listed).
    await storage.mail.setFlags(inbox, [2], 'add', ['\\Flagged']);
    await storage.mail.expunge(inbox, [4]);
    await storage.mail.append(accountId, 'INBOX', bodies[5]!);
    const results = await storage.mail.readMessagesLent!(inbox, [5, 2, 4, 1, 6, 3]);
    assert.equal(results.length, 6);
    const expected: Array<number | 'gone'> = [4, 1, 'gone', 0, 5, 2];
    results.forEach((r, i) => {
      const want = expected[i]!;
      if (want === 'gone') {
        assert.ok(r instanceof Error && isMailError(r) && r.code === 'NONEXISTENT', `uid 4: ${String(r)}`);
        return;
      }
      assert.ok(!(r instanceof Error), `result ${i}: ${String(r)}`);
      assert.ok((r as LentBytes).bytes.equals(bodies[want]!), `result ${i} is body ${want}`);
    });
    for (const r of results) if (!(r instanceof Error)) r.release();
    // Asked again (the renamed one's new name is known now): the same bytes.
    const again = await storage.mail.readMessagesLent!(inbox, [2, 3]);
    assert.ok(!(again[0] instanceof Error) && again[0]!.bytes.equals(bodies[1]!));
    assert.ok(!(again[1] instanceof Error) && again[1]!.bytes.equals(bodies[2]!));
    for (const r of again) if (!(r instanceof Error)) r.release();
    assert.deepEqual(await storage.mail.readMessagesLent!(inbox, []), []);
  } finally {
    storage.close();
    scratch.cleanup();
  }
});
