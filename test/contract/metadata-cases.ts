// IMAP METADATA (RFC 5464): entries per mailbox and for the server, a
// SETMETADATA applied whole or not at all (4.3), limits that refuse growth,
// entries that go with their mailbox.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MetadataLimits } from '../../storage/metadata.js';
import { failsWith, type Fixture } from './suite.js';

const limits: MetadataLimits = { maxValueSize: 100, maxEntriesPerMailbox: 3, maxBytesPerMailbox: 200, maxEntriesPerAccount: 5, maxBytesPerAccount: 400 };
const v = (s: string) => Buffer.from(s);

export function metadataCases(fx: Fixture): void {
  test('metadata: server and mailbox entries, read alone or with descendants in order, removed with null, last change wins', async () => {
    const { metadata } = fx.s.mail;
    const inbox = (await fx.s.mail.getMailbox(fx.alice, 'INBOX'))!.id;
    assert.deepEqual(await metadata.set(fx.alice, null, [{ entry: '/private/comment', value: v('server') }], limits), { ok: true });
    assert.deepEqual(
      await metadata.set(fx.alice, inbox, [
        { entry: '/private/b', value: v('1') },
        { entry: '/private/a/y', value: v('2') },
        { entry: '/private/a', value: v('3') },
        { entry: '/private/b', value: v('4') },
      ], limits),
      { ok: true },
    );
    assert.deepEqual(await metadata.read(fx.alice, null, '/private/comment', false), [{ entry: '/private/comment', value: v('server') }]);
    assert.deepEqual(await metadata.read(fx.alice, inbox, '/private/b', false), [{ entry: '/private/b', value: v('4') }]);
    assert.deepEqual(await metadata.read(fx.alice, inbox, '/private', true), [
      { entry: '/private/a', value: v('3') },
      { entry: '/private/a/y', value: v('2') },
      { entry: '/private/b', value: v('4') },
    ]);
    assert.deepEqual((await metadata.read(fx.alice, inbox, '/private/a', true)).map((e) => e.entry), ['/private/a', '/private/a/y']);
    assert.deepEqual(await metadata.read(fx.alice, inbox, '/private/comment', false), [], 'the server and a mailbox are apart');
    assert.deepEqual(await metadata.read(fx.alice, inbox, '/shared/x', true), []);
    await metadata.set(fx.alice, inbox, [{ entry: '/private/a', value: null }, { entry: '/private/nothing', value: null }], limits);
    assert.deepEqual((await metadata.read(fx.alice, inbox, '/private', true)).map((e) => e.entry), ['/private/a/y', '/private/b']);
    assert.deepEqual(await metadata.read(fx.bob, null, '/private/comment', false), [], "another account's entries are its own");
  });

  test('metadata: a value too long or a limit passed changes nothing; shrinking is always allowed', async () => {
    const { metadata } = fx.s.mail;
    const inbox = (await fx.s.mail.getMailbox(fx.alice, 'INBOX'))!.id;
    const sent = (await fx.s.mail.getMailbox(fx.alice, 'Sent'))!.id;
    assert.deepEqual(
      await metadata.set(fx.alice, inbox, [{ entry: '/private/ok', value: v('fine') }, { entry: '/private/big', value: Buffer.alloc(101) }], limits),
      { ok: false, reason: 'maxsize', maxSize: 100 },
    );
    assert.deepEqual(await metadata.read(fx.alice, inbox, '/private', true), []);
    const three = ['/private/e1', '/private/e2', '/private/e3'].map((entry) => ({ entry, value: v('x') }));
    assert.deepEqual(await metadata.set(fx.alice, inbox, three, limits), { ok: true });
    assert.deepEqual(await metadata.set(fx.alice, inbox, [{ entry: '/private/e4', value: v('x') }, { entry: '/private/e1', value: v('changed') }], limits), { ok: false, reason: 'toomany' });
    assert.deepEqual((await metadata.read(fx.alice, inbox, '/private/e1', false))[0]?.value, v('x'), 'nothing of a refused change is kept');
    assert.deepEqual(await metadata.set(fx.alice, sent, three.slice(0, 2), limits), { ok: true });
    assert.deepEqual(await metadata.set(fx.alice, null, [{ entry: '/private/one-more', value: v('x') }], limits), { ok: false, reason: 'toomany' }, 'five entries per account');
    const tighter = { ...limits, maxEntriesPerMailbox: 1, maxEntriesPerAccount: 1 };
    assert.deepEqual(await metadata.set(fx.alice, inbox, [{ entry: '/private/e3', value: null }], tighter), { ok: true }, 'a removal is allowed over the limit');
    assert.deepEqual(await metadata.set(fx.alice, inbox, [{ entry: '/private/e2', value: v('y') }], tighter), { ok: true }, 'so is a value no longer than it was');
    assert.deepEqual(await metadata.set(fx.alice, inbox, [{ entry: '/private/e2', value: v('yy') }], { ...limits, maxBytesPerMailbox: 10 }), { ok: false, reason: 'toomany' });
  });

  test('metadata: bad entry names are BADINPUT, another account\'s mailbox NONEXISTENT; entries go with their mailbox', async () => {
    const { mail } = fx.s;
    const { metadata } = mail;
    for (const entry of ['/vendor/x', '/private/Upper', '/private//x', '/private/a*', 'private/x', '/private/x/']) {
      await failsWith('BADINPUT', () => metadata.set(fx.alice, null, [{ entry, value: v('x') }], limits));
    }
    const bobInbox = (await mail.getMailbox(fx.bob, 'INBOX'))!.id;
    await failsWith('NONEXISTENT', () => metadata.set(fx.alice, bobInbox, [{ entry: '/private/x', value: v('x') }], limits));
    const work = (await mail.createMailbox(fx.alice, 'Work')).id;
    await metadata.set(fx.alice, work, [{ entry: '/shared/comment', value: v('w') }], limits);
    await mail.renameMailbox(fx.alice, 'Work', 'Job');
    assert.deepEqual((await metadata.read(fx.alice, work, '/shared/comment', false)).length, 1, 'a rename keeps them');
    await mail.deleteMailbox(fx.alice, 'Job');
    const again = (await mail.createMailbox(fx.alice, 'Job')).id;
    assert.deepEqual(await metadata.read(fx.alice, again, '/shared', true), []);
    assert.deepEqual(await metadata.read(fx.alice, work, '/shared', true), []);
    await metadata.set(fx.alice, null, [{ entry: '/private/server', value: v('s') }], limits);
    await mail.deleteAccountMail(fx.alice);
    assert.deepEqual(await metadata.read(fx.alice, null, '/private', true), []);
  });
}
