// Files rewritten with an index change off the event loop (storage/maildir/staged-file.ts):
// the subscription list and METADATA files, under concurrent writers and in units of work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openSqliteParts } from '../../../storage/index.js';
import { SUBSCRIPTIONS_FILE, readSubscriptions } from '../../../storage/maildir/subscriptions.js';
import { MAILBOX_METADATA_FILE, readMetadataFile } from '../../../storage/maildir/metadata-file.js';
import { isMailError } from '../../../storage/errors.js';
import { scratchDir } from '../../support/tmp.js';

const LIMITS = { maxValueSize: 1000, maxEntriesPerMailbox: 100, maxBytesPerMailbox: 100_000, maxEntriesPerAccount: 200, maxBytesPerAccount: 200_000 };

/** Staged (.new) or kept-for-undo (.old) files left in a Maildir root or its tmp/ (where files are staged). */
const leftovers = (dir: string) => [...readdirSync(dir), ...readdirSync(path.join(dir, 'tmp'))].filter((n) => /\.(new|old|tmp)$/.test(n));

function open() {
  const scratch = scratchDir();
  const storage = openSqliteParts(scratch.dir);
  storage.directory.addDomain('example.test');
  const id = storage.directory.addAccount({ address: 'alice@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
  storage.mail.provisionAccount(id);
  return {
    storage,
    id,
    root: storage.mail.accountDir(id),
    done: () => {
      storage.close();
      scratch.cleanup();
    },
  };
}

test('concurrent SUBSCRIBE and UNSUBSCRIBE: every change lands, and the file says what the table says', async () => {
  const { storage, id, root, done } = open();
  try {
    const names = Array.from({ length: 12 }, (_, i) => `Folder${i}`);
    await Promise.all(names.map((n) => storage.ports.mail.addSubscription(id, n)));
    await Promise.all([storage.ports.mail.removeSubscription(id, 'Folder3'), storage.ports.mail.addSubscription(id, 'Late')]);
    const listed = await storage.ports.mail.listSubscriptions(id);
    for (const n of names.filter((n) => n !== 'Folder3')) assert.ok(listed.includes(n), n);
    assert.ok(listed.includes('Late'));
    assert.ok(!listed.includes('Folder3'));
    assert.deepEqual(readSubscriptions(root), listed);
    assert.deepEqual(leftovers(root), []);
  } finally {
    done();
  }
});

test('SUBSCRIBE and SETMETADATA in a unit of work that fails leave the files as they were; in one that commits, write them', async () => {
  const { storage, id, root, done } = open();
  try {
    const inbox = (await storage.ports.mail.findMailbox(id, 'INBOX'))!.id;
    await storage.ports.mail.metadata.set(id, inbox, [{ entry: '/private/comment', value: Buffer.from('before') }], LIMITS);
    const subscriptionsBefore = readFileSync(path.join(root, SUBSCRIPTIONS_FILE), 'utf8');
    const metadataBefore = readFileSync(path.join(root, MAILBOX_METADATA_FILE), 'utf8');
    await assert.rejects(
      storage.ports.transaction(async (tx) => {
        await tx.mail.addSubscription(id, 'Rolled');
        await tx.mail.metadata.set(id, inbox, [{ entry: '/private/comment', value: Buffer.from('rolled') }], LIMITS);
        assert.ok(readSubscriptions(root)?.includes('Rolled'), 'in place while the unit is open');
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(readFileSync(path.join(root, SUBSCRIPTIONS_FILE), 'utf8'), subscriptionsBefore);
    assert.equal(readFileSync(path.join(root, MAILBOX_METADATA_FILE), 'utf8'), metadataBefore);
    assert.deepEqual(leftovers(root), []);

    await storage.ports.transaction(async (tx) => {
      await tx.mail.addSubscription(id, 'Kept');
      await tx.mail.metadata.set(id, inbox, [{ entry: '/private/comment', value: Buffer.from('kept') }], LIMITS);
    });
    assert.ok(readSubscriptions(root)?.includes('Kept'));
    assert.deepEqual(
      readMetadataFile(path.join(root, MAILBOX_METADATA_FILE)).map((e) => `${e.entry}=${e.value.toString()}`),
      ['/private/comment=kept'],
    );
    assert.deepEqual(leftovers(root), []);
  } finally {
    done();
  }
});

test('a SUBSCRIBE from outside while a unit is open waits for it and is not taken into it', async () => {
  const { storage, id, root, done } = open();
  try {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const unit = storage.ports.transaction(async (tx) => {
      await tx.mail.addSubscription(id, 'Inside');
      entered();
      await held;
      throw new Error('rolled back');
    });
    await inside;
    const outside = storage.ports.mail.addSubscription(id, 'Outside');
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    release();
    await assert.rejects(unit, /rolled back/);
    await outside;
    const listed = await storage.ports.mail.listSubscriptions(id);
    assert.ok(listed.includes('Outside'));
    assert.ok(!listed.includes('Inside'));
    assert.deepEqual(readSubscriptions(root), listed);
  } finally {
    done();
  }
});

test('a staged file that cannot be written is a storage error (a full disk NOSPACE, anything else TEMPFAIL), never a raw one, and changes nothing', async () => {
  const { storage, id, root, done } = open();
  try {
    // The account's tmp/, where CREATE stages the subscription list, made unusable.
    rmSync(path.join(root, 'tmp'), { recursive: true, force: true });
    writeFileSync(path.join(root, 'tmp'), 'not a directory');
    await assert.rejects(storage.ports.mail.createMailbox(id, 'Projects'), (err: unknown) => isMailError(err, 'TEMPFAIL'));
    assert.equal(await storage.ports.mail.findMailbox(id, 'Projects'), undefined);
    assert.ok(!(await storage.ports.mail.listSubscriptions(id)).includes('Projects'));
  } finally {
    done();
  }
});
