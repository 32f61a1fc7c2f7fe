// storage/backup.ts with the store changing between the index snapshot and
// the file copies (what a running serve does): a flag change renames a file,
// an expunge removes one, a delivery adds one. The copy follows the snapshot:
// the renamed message is copied under the snapshot's name (the index is the
// truth for flags), the expunged one is counted as vanished and dropped at
// restore, the later one is not there; UIDVALIDITY, UIDs and POP3 UIDLs are kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { openSqliteParts } from '../../../storage/index.js';
import { backupDataDir, readBackupManifest, restoreDataDir } from '../../../storage/backup.js';
import { MailError } from '../../../storage/errors.js';
import { scratchDir } from '../../support/tmp.js';
import { makeMessage } from '../../support/messages.js';

test('a backup follows the index snapshot while messages are renamed, expunged and delivered under it', async () => {
  const s = scratchDir('postino-backup-unit-');
  const data = path.join(s.dir, 'data');
  const dest = path.join(s.dir, 'backup');
  const restored = path.join(s.dir, 'restored');
  try {
    const storage = openSqliteParts(data);
    storage.directory.addDomain('example.test');
    const accountId = storage.directory.addAccount({ address: 'alice@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    storage.mail.provisionAccount(accountId);
    const inbox = (await storage.mail.append(accountId, 'INBOX', makeMessage('m1'))).mailboxId;
    await storage.mail.append(accountId, 'INBOX', makeMessage('m2'));
    await storage.mail.append(accountId, 'INBOX', makeMessage('m3'), { flags: ['\\Flagged'], pop3Uidl: '00000003a1b2c3d4' });
    await storage.mail.drain();
    mkdirSync(path.join(data, 'sieve', 'example.test', 'alice'), { recursive: true });
    writeFileSync(path.join(data, 'sieve', 'example.test', 'alice', 'rules.sieve'), 'keep;\n');
    mkdirSync(path.join(data, 'dkim', 'example.test'), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(data, 'dkim', 'example.test', 's1.key'), 'KEY', { mode: 0o600 });
    const snapshotName = path.basename(storage.mail.messagePath(inbox, 1));
    const uidValidity = storage.mail.getMailboxById(inbox).uidValidity;

    const manifest = await backupDataDir(data, dest, {
      afterSnapshot: async () => {
        await storage.mail.setFlags(inbox, [1], 'add', ['\\Seen']);
        await storage.mail.expunge(inbox, [2]);
        await storage.mail.append(accountId, 'INBOX', makeMessage('m4'));
        await storage.mail.drain();
      },
    });
    assert.notEqual(path.basename(storage.mail.messagePath(inbox, 1)), snapshotName, 'the flag change renamed the file');
    storage.close();

    assert.equal(manifest.format, 1);
    assert.deepEqual({ ...manifest.counts, files: 0, bytes: 0 }, { accounts: 1, mailboxes: 6, messages: 3, vanished: 1, files: 0, bytes: 0 });
    const copiedInbox = path.join(dest, 'mail', 'example.test', 'alice');
    assert.deepEqual(readdirSync(path.join(copiedInbox, 'new')).concat(readdirSync(path.join(copiedInbox, 'cur'))).filter((n) => n.includes('U=1')), [snapshotName]);
    assert.ok(existsSync(path.join(dest, 'sieve', 'example.test', 'alice', 'rules.sieve')));
    assert.equal(statSync(path.join(dest, 'dkim', 'example.test', 's1.key')).mode & 0o777, 0o600);
    assert.equal(readBackupManifest(dest).created, manifest.created);

    restoreDataDir(dest, restored);
    const back = openSqliteParts(restored);
    try {
      back.mail.recoverAccount(accountId);
      const box = back.mail.getMailboxById(inbox);
      assert.equal(box.uidValidity, uidValidity);
      assert.deepEqual(
        back.mail.listMessages(inbox).map((m) => [m.uid, m.flags]),
        [
          [1, []],
          [3, ['\\Flagged']],
        ],
      );
      assert.deepEqual(await back.mail.readMessage(inbox, 1), makeMessage('m1'));
      // A message's own POP3 UIDL comes back, in the index and beside the Maildir (a rebuilt index finds it).
      assert.equal(back.mail.getMessage(inbox, 3)?.pop3Uidl, '00000003a1b2c3d4');
      back.mail.recoverAccount(accountId, { rebuild: true });
      const rebuilt = back.mail.findMailbox(accountId, 'INBOX')!;
      assert.deepEqual(back.mail.listMessages(rebuilt.id).map((m) => [m.uid, m.pop3Uidl ?? null]), [[1, null], [3, '00000003a1b2c3d4']]);
    } finally {
      back.close();
    }
  } finally {
    s.cleanup();
  }
});

test('restore refuses a directory without a manifest and a non-empty data dir; backup refuses a non-empty destination', async () => {
  const s = scratchDir('postino-backup-unit-');
  try {
    const data = path.join(s.dir, 'data');
    openSqliteParts(data).close();
    const full = path.join(s.dir, 'full');
    mkdirSync(full);
    writeFileSync(path.join(full, 'x'), '');
    await assert.rejects(backupDataDir(data, full), (e: unknown) => e instanceof MailError && /is not empty/.test(e.message));
    assert.throws(() => restoreDataDir(full, path.join(s.dir, 'new')), /not a Postino backup/);
    await backupDataDir(data, path.join(s.dir, 'b'));
    assert.throws(() => restoreDataDir(path.join(s.dir, 'b'), full), /is not empty/);
    await assert.rejects(backupDataDir(data, path.join(data, 'inside')), /cannot go inside the data directory/);
  } finally {
    s.cleanup();
  }
});
