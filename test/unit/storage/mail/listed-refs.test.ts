// Reads after a listing use the body names the listing gave (no index lookup
// per message: a POP3 session lists its whole INBOX at login, then reads it
// all). Those names follow the renames of a flag change made here; a name out
// of date (expunged, moved by another process) only sends the read to the
// index, never to another message's body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import path from 'node:path';
import { openSqliteParts } from '../../../../storage/index.js';
import { MaildirBlobStore } from '../../../../storage/maildir/blob-store.js';
import { Messages } from '../../../../storage/mail/messages.js';
import { isMailError } from '../../../../storage/errors.js';
import { scratchDir } from '../../../support/tmp.js';
import { makeMessage } from '../../../support/messages.js';

test('a large listing (2,100 messages: more than the old limit of 2,000): reads by the listed names, which follow \\Seen renames; stale names fall back to the index', async () => {
  const scratch = scratchDir();
  const storage = openSqliteParts(scratch.dir);
  const original = MaildirBlobStore.prototype.read;
  // The index lookup of a body's current name (private: looked at from outside for this test only).
  const proto = Messages.prototype as unknown as { ref(mailboxId: number, uid: number): string | undefined };
  const originalRef = proto.ref;
  try {
    storage.directory.addDomain('example.test');
    const accountId = storage.directory.addAccount({ address: 'refs@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    storage.mail.provisionAccount(accountId);
    const bodies = Array.from({ length: 2100 }, (_, i) => makeMessage(`listed-${i}`, 600 + (i % 7) * 100));
    for (let i = 0; i < bodies.length; i += 300) await storage.mail.appendMany(accountId, 'INBOX', bodies.slice(i, i + 300).map((raw) => ({ raw })));
    const inbox = storage.mail.findMailbox(accountId, 'INBOX')!.id;
    const listed = storage.mail.listMessages(inbox);
    assert.equal(listed.length, bodies.length);

    // Every other message \Seen: renamed after the listing.
    await storage.mail.setFlags(inbox, listed.filter((m) => m.uid % 2 === 0).map((m) => m.uid), 'add', ['\\Seen']);

    let lookups = 0;
    proto.ref = function (this: unknown, mailboxId: number, uid: number) {
      lookups++;
      return originalRef.call(this, mailboxId, uid);
    };
    const missed: string[] = [];
    MaildirBlobStore.prototype.read = async function (this: MaildirBlobStore, location: string, ref: string, maxBytes?: number) {
      const raw = await original.call(this, location, ref, maxBytes);
      if (raw === undefined) missed.push(ref);
      return raw;
    };
    const read = await Promise.all(listed.map((m) => storage.mail.readMessage(inbox, m.uid)));
    read.forEach((raw, i) => assert.deepEqual(raw, bodies[i], `message ${i + 1}`));
    assert.deepEqual(missed, [], 'every read found its file under the listed (or renamed) name');
    assert.equal(lookups, 0, 'no index lookup per read');

    // A file renamed behind the store's back (another process) and one expunged: the listed name misses, the index answers.
    const folder = path.dirname(path.dirname(storage.mail.messagePath(inbox, 1)));
    const moved = storage.mail.messagePath(inbox, 1);
    renameSync(moved, path.join(folder, 'cur', `${path.basename(moved).split(':')[0]}:2,F`));
    assert.deepEqual(await storage.mail.readMessage(inbox, 1), bodies[0]);
    assert.ok(lookups > 0);
    await storage.mail.expunge(inbox, [3]);
    await assert.rejects(storage.mail.readMessage(inbox, 3), (e: unknown) => isMailError(e) && e.code === 'NONEXISTENT');
    assert.deepEqual(await storage.mail.readMessage(inbox, 4), bodies[3]);
  } finally {
    MaildirBlobStore.prototype.read = original;
    proto.ref = originalRef;
    storage.close();
    scratch.cleanup();
  }
});
