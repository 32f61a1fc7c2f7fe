// Mailboxes: provisioning, names, UIDVALIDITY and UIDNEXT across create,
// rename and delete, INBOX's rename (RFC 3501 6.3.5), subscriptions kept
// apart from the mailboxes (RFC 9051 6.3.7), \Recent claimed once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failsWith, msg, type Fixture } from './suite.js';

export function mailboxCases(fx: Fixture): void {
  test('provisioning makes the default folders with SPECIAL-USE, subscribed, and is safe to repeat', async () => {
    const { mail } = fx.s;
    const before = await mail.listMailboxes(fx.alice);
    assert.deepEqual(
      before.map((b) => [b.name, b.specialUse]),
      [
        ['Archive', '\\Archive'],
        ['Drafts', '\\Drafts'],
        ['INBOX', null],
        ['Junk', '\\Junk'],
        ['Sent', '\\Sent'],
        ['Trash', '\\Trash'],
      ],
    );
    assert.deepEqual(await mail.listSubscriptions(fx.alice), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
    for (const b of before) {
      assert.equal(b.accountId, fx.alice);
      assert.equal(b.uidNext, 1);
      assert.equal(b.highestModseq, 1, 'a new mailbox starts at HIGHESTMODSEQ 1');
      assert.deepEqual([b.messages, b.unseen, b.size], [0, 0, 0]);
    }
    assert.equal(new Set(before.map((b) => b.uidValidity)).size, before.length, 'each mailbox has its own UIDVALIDITY');
    await mail.provisionAccount(fx.alice);
    assert.deepEqual(await mail.listMailboxes(fx.alice), before);
    await failsWith('NONEXISTENT', () => mail.provisionAccount(fx.bob + 1000));
  });

  test('lookups: INBOX in any case, hasMailbox, findMailbox, mailboxOwner, getMailbox of another account', async () => {
    const { mail } = fx.s;
    const inbox = (await mail.getMailbox(fx.alice, 'inbox'))!;
    assert.equal(inbox.name, 'INBOX');
    assert.equal(await mail.hasMailbox(fx.alice, 'InBox'), true);
    assert.equal(await mail.hasMailbox(fx.alice, 'sent'), false, 'names other than INBOX are case-sensitive');
    const found = (await mail.findMailbox(fx.alice, 'Sent'))!;
    assert.deepEqual(Object.keys(found).sort(), ['accountId', 'highestModseq', 'id', 'name', 'specialUse', 'uidNext', 'uidValidity']);
    assert.equal(await mail.mailboxOwner(found.id), fx.alice);
    assert.equal(await mail.mailboxOwner(found.id + 10_000), undefined);
    const bobInbox = (await mail.getMailbox(fx.bob, 'INBOX'))!;
    assert.notEqual(bobInbox.id, inbox.id);
    assert.equal(await mail.getMailbox(fx.alice, 'Nope'), undefined);
    assert.equal(await mail.findMailbox(fx.alice, 'Nope'), undefined);
  });

  test('create: names checked, INBOX spelt in capitals, no duplicates, parents not required', async () => {
    const { mail } = fx.s;
    const sub = await mail.createMailbox(fx.alice, 'inbox/Sub');
    assert.equal(sub.name, 'INBOX/Sub');
    assert.equal(sub.specialUse, null);
    assert.deepEqual([sub.uidNext, sub.highestModseq, sub.messages], [1, 1, 0]);
    const deep = await mail.createMailbox(fx.alice, 'a/b/c', '\\Flagged');
    assert.equal(deep.specialUse, '\\Flagged');
    assert.equal(await mail.hasMailbox(fx.alice, 'a'), false);
    await failsWith('ALREADYEXISTS', () => mail.createMailbox(fx.alice, 'INBOX/Sub'));
    await failsWith('ALREADYEXISTS', () => mail.createMailbox(fx.alice, 'Inbox'));
    for (const bad of ['', 'a//b', '/a', 'a/', 'x\ty', 'x\u007fy', 'x'.repeat(256), Array(17).fill('d').join('/')]) {
      await failsWith('BADINPUT', () => mail.createMailbox(fx.alice, bad));
    }
    assert.ok((await mail.listSubscriptions(fx.alice)).includes('a/b/c'), 'a new mailbox is subscribed');
  });

  test('mailboxes, subscriptions and scripts are listed in the order of their UTF-8 bytes', async () => {
    const { mail, scripts } = fx.s;
    const names = ['Zeta', 'alpha', 'Äpfel', '\u{1F600} smile', '\uFF21 wide'];
    for (const n of names) await mail.createMailbox(fx.bob, n);
    for (const n of names) await scripts.put(fx.bob, n, 'keep;');
    const utf8 = (list: string[]) => [...list].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const boxes = (await mail.listMailboxes(fx.bob)).map((b) => b.name);
    assert.deepEqual(boxes, utf8(boxes));
    assert.ok(boxes.indexOf('\uFF21 wide') < boxes.indexOf('\u{1F600} smile'), 'U+FF21 sorts before U+1F600 in UTF-8 (not in UTF-16)');
    const subs = await mail.listSubscriptions(fx.bob);
    assert.deepEqual(subs, utf8(subs));
    assert.deepEqual((await scripts.list(fx.bob)).map((s) => s.name), utf8(names));
  });

  test('delete: INBOX refused, children and subscriptions stay, delete + create gives a larger UIDVALIDITY and UIDs from 1', async () => {
    const { mail } = fx.s;
    await failsWith('REFUSED', () => mail.deleteMailbox(fx.alice, 'INBOX'));
    await failsWith('NONEXISTENT', () => mail.deleteMailbox(fx.alice, 'Nope'));
    const first = await mail.createMailbox(fx.alice, 'Work');
    await mail.createMailbox(fx.alice, 'Work/2026');
    await mail.append(fx.alice, 'Work', msg('w1'));
    await mail.append(fx.alice, 'Work', msg('w2'));
    await mail.deleteMailbox(fx.alice, 'Work');
    assert.equal(await mail.hasMailbox(fx.alice, 'Work'), false);
    assert.equal(await mail.hasMailbox(fx.alice, 'Work/2026'), true);
    assert.ok((await mail.listSubscriptions(fx.alice)).includes('Work'));
    assert.deepEqual(await mail.quota(fx.alice), { limit: null, usedBytes: 0, usedMessages: 0 }, 'its messages no longer count');
    assert.equal(await mail.changesSince(first.id, 0), undefined);
    const second = await mail.createMailbox(fx.alice, 'Work');
    assert.ok(second.uidValidity > first.uidValidity, 'RFC 3501 2.3.1.1: a new mailbox of the same name has a larger UIDVALIDITY');
    assert.notEqual(second.id, first.id);
    const r = await mail.append(fx.alice, 'Work', msg('w3'));
    assert.equal(r.uid, 1);
    assert.equal(r.uidValidity, second.uidValidity);
  });

  test('rename: UIDVALIDITY, UIDs and messages kept, children move along, subscriptions stay', async () => {
    const { mail } = fx.s;
    const box = await mail.createMailbox(fx.alice, 'Projects');
    const child = await mail.createMailbox(fx.alice, 'Projects/Old');
    await mail.createMailbox(fx.alice, 'ProjectsX');
    await mail.append(fx.alice, 'Projects', msg('p1'));
    await mail.append(fx.alice, 'Projects/Old', msg('p2'));
    await mail.renameMailbox(fx.alice, 'Projects', 'Work/Projects');
    const moved = (await mail.getMailbox(fx.alice, 'Work/Projects'))!;
    assert.deepEqual([moved.id, moved.uidValidity, moved.uidNext, moved.messages], [box.id, box.uidValidity, 2, 1]);
    const movedChild = (await mail.getMailbox(fx.alice, 'Work/Projects/Old'))!;
    assert.deepEqual([movedChild.id, movedChild.uidValidity, movedChild.messages], [child.id, child.uidValidity, 1]);
    assert.equal(await mail.hasMailbox(fx.alice, 'Projects'), false);
    assert.equal(await mail.hasMailbox(fx.alice, 'Projects/Old'), false);
    assert.equal(await mail.hasMailbox(fx.alice, 'ProjectsX'), true, 'a sibling with the same prefix is not a child');
    assert.deepEqual(await mail.readMessage(moved.id, 1), msg('p1'));
    const subs = await mail.listSubscriptions(fx.alice);
    assert.ok(subs.includes('Projects') && subs.includes('Projects/Old') && !subs.includes('Work/Projects'));
    await failsWith('NONEXISTENT', () => mail.renameMailbox(fx.alice, 'Projects', 'Elsewhere'));
    await failsWith('ALREADYEXISTS', () => mail.renameMailbox(fx.alice, 'Work/Projects', 'Sent'));
    await failsWith('BADINPUT', () => mail.renameMailbox(fx.alice, 'Work/Projects', 'a//b'));
  });

  test('rename: a child whose new name is taken refuses the whole rename', async () => {
    const { mail } = fx.s;
    await mail.createMailbox(fx.alice, 'A');
    await mail.createMailbox(fx.alice, 'A/x');
    await mail.createMailbox(fx.alice, 'B/x');
    await failsWith('ALREADYEXISTS', () => mail.renameMailbox(fx.alice, 'A', 'B'));
    assert.equal(await mail.hasMailbox(fx.alice, 'A'), true);
    assert.equal(await mail.hasMailbox(fx.alice, 'A/x'), true);
    assert.equal(await mail.hasMailbox(fx.alice, 'B'), false);
  });

  test('rename: not under itself, and not when a child would be nested too deeply; nothing changes', async () => {
    const { mail } = fx.s;
    await mail.createMailbox(fx.alice, 'Self');
    await mail.createMailbox(fx.alice, 'Self/kid');
    await failsWith('REFUSED', () => mail.renameMailbox(fx.alice, 'Self', 'Self/inner'));
    await failsWith('REFUSED', () => mail.renameMailbox(fx.alice, 'Self', 'Self/kid/deeper'));
    // A child 12 levels down, moved 5 levels deeper: 17, over the 16 a new name may have.
    const deep = 'Self/' + Array.from({ length: 11 }, (_, i) => `l${i}`).join('/');
    await mail.createMailbox(fx.alice, deep);
    await failsWith('BADINPUT', () => mail.renameMailbox(fx.alice, 'Self', 'a/b/c/d/e/Self'));
    for (const name of ['Self', 'Self/kid', deep]) assert.equal(await mail.hasMailbox(fx.alice, name), true, name);
    assert.equal(await mail.hasMailbox(fx.alice, 'Self/inner'), false);
    assert.equal(await mail.hasMailbox(fx.alice, 'a/b/c/d/e/Self'), false);
    // A name that merely starts the same is not under it.
    await mail.renameMailbox(fx.alice, 'Self', 'Selfish');
    assert.equal(await mail.hasMailbox(fx.alice, 'Selfish/kid'), true);
  });

  test('rename INBOX: its messages move to a new mailbox with new UIDs, INBOX stays, empty, with its UIDVALIDITY', async () => {
    const { mail } = fx.s;
    await mail.createMailbox(fx.alice, 'INBOX/Child');
    for (const id of ['i1', 'i2', 'i3']) await mail.append(fx.alice, 'INBOX', msg(id), { flags: id === 'i2' ? ['\\Seen'] : [] });
    const inbox = (await mail.getMailbox(fx.alice, 'INBOX'))!;
    await mail.expunge(inbox.id, [1]);
    await mail.renameMailbox(fx.alice, 'INBOX', 'Old Inbox');
    const after = (await mail.getMailbox(fx.alice, 'INBOX'))!;
    assert.deepEqual([after.id, after.uidValidity, after.messages], [inbox.id, inbox.uidValidity, 0]);
    assert.ok(after.highestModseq > inbox.highestModseq, 'the move out of INBOX is a change to it');
    const old = (await mail.getMailbox(fx.alice, 'Old Inbox'))!;
    assert.notEqual(old.uidValidity, inbox.uidValidity);
    assert.deepEqual((await mail.listMessages(old.id)).map((m) => [m.uid, m.flags]), [
      [1, ['\\Seen']],
      [2, []],
    ]);
    assert.deepEqual(await mail.readMessage(old.id, 1), msg('i2'));
    assert.equal(await mail.hasMailbox(fx.alice, 'INBOX/Child'), true, "INBOX's children stay");
    assert.equal((await mail.quota(fx.alice)).usedMessages, 2);
    const r = await mail.append(fx.alice, 'INBOX', msg('i4'));
    assert.equal(r.uid, 4, 'INBOX never reuses a UID');
  });

  test('rename INBOX: the messages that left are expunges of INBOX, for changesSince and the feed', { todo: fx.gap('inbox-rename-expunges') }, async () => {
    const { mail } = fx.s;
    for (const id of ['x1', 'x2']) await mail.append(fx.alice, 'INBOX', msg(id));
    const inbox = (await mail.getMailbox(fx.alice, 'INBOX'))!;
    const seen: number[] = [];
    const stop = mail.feed.subscribe(fx.alice, (c) => {
      if (c.kind === 'expunge' && c.mailboxId === inbox.id) seen.push(c.uid);
    });
    try {
      await mail.renameMailbox(fx.alice, 'INBOX', 'Before');
    } finally {
      stop();
    }
    const delta = (await mail.changesSince(inbox.id, inbox.highestModseq))!;
    assert.deepEqual(delta.expunged, [1, 2], 'a QRESYNC client must hear that UIDs 1 and 2 vanished');
    assert.deepEqual(await mail.expungedSince(inbox.id, 0), [1, 2]);
    assert.deepEqual(seen, [1, 2]);
  });

  test('subscriptions: independent of mailboxes, sorted, idempotent; bad names refused', async () => {
    const { mail } = fx.s;
    await mail.addSubscription(fx.bob, 'Nowhere/Yet');
    await mail.addSubscription(fx.bob, 'Nowhere/Yet');
    await mail.addSubscription(fx.bob, 'inbox/x');
    await mail.removeSubscription(fx.bob, 'Drafts');
    await mail.removeSubscription(fx.bob, 'Never subscribed');
    assert.deepEqual(await mail.listSubscriptions(fx.bob), ['Archive', 'INBOX', 'INBOX/x', 'Junk', 'Nowhere/Yet', 'Sent', 'Trash']);
    assert.equal(await mail.hasMailbox(fx.bob, 'Nowhere/Yet'), false);
    assert.equal(await mail.hasMailbox(fx.bob, 'Drafts'), true);
    await failsWith('BADINPUT', () => mail.addSubscription(fx.bob, 'a//b'));
    await failsWith('BADINPUT', () => mail.removeSubscription(fx.bob, ''));
    assert.deepEqual(await mail.listSubscriptions(fx.alice), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash'], "another account's list is its own");
  });

  test('\\Recent: one session claims each message; later claims get only what came since', async () => {
    const { mail } = fx.s;
    const inbox = (await mail.getMailbox(fx.alice, 'INBOX'))!;
    assert.equal(await mail.firstRecentUid(inbox.id), 1);
    await mail.append(fx.alice, 'INBOX', msg('r1'));
    await mail.append(fx.alice, 'INBOX', msg('r2'));
    assert.equal(await mail.countFromUid(inbox.id, await mail.firstRecentUid(inbox.id)), 2);
    const [a, b] = await Promise.all([mail.claimRecent(inbox.id, 3), mail.claimRecent(inbox.id, 3)]);
    assert.deepEqual([a, b].sort(), [1, 3], 'one claimer gets from UID 1, the other nothing (uidNext)');
    assert.equal(await mail.firstRecentUid(inbox.id), 3);
    assert.equal(await mail.claimRecent(inbox.id, 3), 3);
    await mail.append(fx.alice, 'INBOX', msg('r3'));
    assert.equal(await mail.countFromUid(inbox.id, 3), 1);
    assert.equal(await mail.claimRecent(inbox.id, 4), 3);
    assert.equal(await mail.claimRecent(inbox.id, 4), 4);
  });

  test('deleteAccountMail: mailboxes, messages, subscriptions and usage of that account only', async () => {
    const { mail } = fx.s;
    await mail.append(fx.alice, 'INBOX', msg('a1'));
    await mail.append(fx.bob, 'INBOX', msg('b1'));
    await mail.deleteAccountMail(fx.alice);
    assert.deepEqual(await mail.listMailboxes(fx.alice), []);
    assert.deepEqual(await mail.listSubscriptions(fx.alice), []);
    assert.deepEqual(await mail.quota(fx.alice), { limit: null, usedBytes: 0, usedMessages: 0 });
    assert.equal((await mail.getMailbox(fx.bob, 'INBOX'))!.messages, 1);
    await mail.provisionAccount(fx.alice);
    assert.equal((await mail.append(fx.alice, 'INBOX', msg('a2'))).uid, 1);
  });
}
