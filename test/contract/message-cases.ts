// Messages: UID and MODSEQ allocation (no gap, no duplicate, under
// concurrency), quota (RFC 9208), flags with UNCHANGEDSINCE and the expunge
// log (RFC 7162), COPY and MOVE (RFC 4315, RFC 6851), and the change feed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MailboxChange } from '../../storage/ports.js';
import { failsWith, msg, type Fixture } from './suite.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

function strictlyIncreasing(values: number[]): boolean {
  return values.every((v, i) => i === 0 || v > values[i - 1]!);
}

export function messageCases(fx: Fixture): void {
  test('concurrent appends: UIDs exactly 1..n, MODSEQs strictly increasing with the UID, counters agree', async () => {
    const { mail } = fx.s;
    const n = 60;
    const results = await Promise.all(range(n).map((i) => mail.append(fx.alice, 'INBOX', msg(`c${i}`))));
    const byUid = [...results].sort((a, b) => a.uid - b.uid);
    assert.deepEqual(byUid.map((r) => r.uid), range(n));
    assert.ok(strictlyIncreasing(byUid.map((r) => r.modseq)), 'MODSEQ grows with the UID');
    const inbox = (await mail.getMailbox(fx.alice, 'INBOX'))!;
    assert.ok(results.every((r) => r.mailboxId === inbox.id && r.uidValidity === inbox.uidValidity));
    assert.equal(inbox.uidNext, n + 1);
    assert.equal(inbox.messages, n);
    assert.equal(inbox.highestModseq, byUid[n - 1]!.modseq);
    const summary = await mail.selectSummary(inbox.id);
    assert.deepEqual(summary.uids, range(n));
    assert.equal(summary.highestModseq, inbox.highestModseq);
    // Each caller got the UID its own message is stored under.
    for (const [i, r] of results.entries()) assert.deepEqual(await mail.readMessage(r.mailboxId, r.uid), msg(`c${i + 1}`));
  });

  test('concurrent appends to several mailboxes and accounts: each mailbox counts on its own', async () => {
    const { mail } = fx.s;
    const targets: Array<[number, string]> = [
      [fx.alice, 'INBOX'],
      [fx.alice, 'Sent'],
      [fx.bob, 'INBOX'],
    ];
    const results = await Promise.all(range(45).map((i) => mail.append(...targets[i % 3]!, msg(`m${i}`))));
    for (const mailboxId of new Set(results.map((r) => r.mailboxId))) {
      const mine = results.filter((r) => r.mailboxId === mailboxId).sort((a, b) => a.uid - b.uid);
      assert.deepEqual(mine.map((r) => r.uid), range(15));
      assert.ok(strictlyIncreasing(mine.map((r) => r.modseq)));
    }
  });

  test('appendMany: consecutive ascending UIDs as one unit, even among concurrent single appends', async () => {
    const { mail } = fx.s;
    const [many, ...singles] = await Promise.all([
      mail.appendMany(fx.alice, 'INBOX', range(5).map((i) => ({ raw: msg(`g${i}`), options: { flags: ['\\Seen'] } }))),
      ...range(5).map((i) => mail.append(fx.alice, 'INBOX', msg(`s${i}`))),
    ]);
    const uids = many.map((r) => r.uid);
    assert.deepEqual(uids, range(5).map((i) => uids[0]! + i - 1), 'a group is never split');
    assert.deepEqual([...uids, ...singles.map((r) => r.uid)].sort((a, b) => a - b), range(10));
    assert.deepEqual(await mail.appendMany(fx.alice, 'INBOX', []), []);
    await failsWith('NONEXISTENT', () => mail.appendMany(fx.alice, 'Nope', [{ raw: msg('x') }]));
  });

  test('keywords: 26 per mailbox; one past the list is not kept on the message (FETCH never shows a keyword FLAGS lacks)', async () => {
    const { mail } = fx.s;
    const box = await mail.createMailbox(fx.alice, 'Tagged');
    const words = range(30).map((i) => `$Word${i}`);
    const r = await mail.append(fx.alice, 'Tagged', msg('k1'), { flags: ['\\Seen', ...words.slice(0, 20)] });
    await mail.setFlags(box.id, [r.uid], 'add', [...words.slice(20, 30), '\\Flagged']);
    const listed = (await mail.selectSummary(box.id)).keywords;
    assert.equal(listed.length, 26);
    const kept = (await mail.getMessage(box.id, r.uid))!.flags;
    assert.ok(kept.includes('\\Seen') && kept.includes('\\Flagged'), 'system flags are kept');
    for (const f of kept) assert.ok(f.startsWith('\\') || listed.includes(f), `${f} is listed`);
    assert.equal(kept.filter((f) => !f.startsWith('\\')).length, 26);
    // A new message with a keyword past the list: stored without it.
    const r2 = await mail.append(fx.alice, 'Tagged', msg('k2'), { flags: ['$Late', words[0]!] });
    assert.deepEqual((await mail.getMessage(box.id, r2.uid))!.flags, [words[0]]);
    // Moved into a full mailbox: what it has no place for stays behind.
    const r3 = await mail.append(fx.alice, 'INBOX', msg('k3'), { flags: ['$Elsewhere', words[1]!] });
    const [[, moved]] = (await mail.move(r3.mailboxId, [r3.uid], box.id)) as [[number, number]];
    assert.deepEqual((await mail.getMessage(box.id, moved))!.flags, [words[1]]);
    assert.equal((await mail.selectSummary(box.id)).keywords.length, 26);
  });

  test('append: stored as given, flags spelt canonically, \\Recent dropped, internal date kept', async () => {
    const { mail } = fx.s;
    const raw = msg('one', 500);
    const r = await mail.append(fx.alice, 'inbox', raw, { flags: ['\\seen', '$Important', '\\Recent', '\\SEEN'], internalDate: 1_700_000_000_000 });
    const rec = (await mail.getMessage(r.mailboxId, r.uid))!;
    assert.deepEqual(
      { ...rec, mime: undefined, bodyId: undefined },
      { mailboxId: r.mailboxId, uid: 1, modseq: r.modseq, flags: ['\\Seen', '$Important'], internalDate: 1_700_000_000_000, size: raw.length, mime: undefined, bodyId: undefined },
    );
    assert.deepEqual(await mail.readMessage(r.mailboxId, r.uid), raw);
    assert.deepEqual((await mail.selectSummary(r.mailboxId)).keywords, ['$Important']);
    await mail.append(fx.alice, 'INBOX', msg('two'));
    await mail.append(fx.alice, 'INBOX', msg('three'));
    assert.deepEqual((await mail.listMessages(r.mailboxId, 2, 3)).map((m) => m.uid), [2, 3]);
    assert.deepEqual((await mail.listMessages(r.mailboxId)).map((m) => m.uid), [1, 2, 3]);
    assert.equal(await mail.getMessage(r.mailboxId, 99), undefined);
    await failsWith('NONEXISTENT', () => mail.readMessage(r.mailboxId, 99));
    await failsWith('NONEXISTENT', () => mail.append(fx.alice, 'Nope', raw));
    const info = (await mail.getMailbox(fx.alice, 'INBOX'))!;
    assert.deepEqual([info.messages, info.unseen, info.size], [3, 2, raw.length + msg('two').length + msg('three').length]);
    assert.equal((await mail.selectSummary(r.mailboxId)).firstUnseenUid, 2);
  });

  test('an append racing the deletion of its mailbox fails, and never lands in a mailbox made again under the name', async () => {
    const { mail } = fx.s;
    const work = await mail.createMailbox(fx.alice, 'Work');
    const pending = mail.append(fx.alice, 'Work', msg('late'));
    await mail.deleteMailbox(fx.alice, 'Work');
    await assert.rejects(pending, (err: unknown) => ['NONEXISTENT', 'TEMPFAIL'].includes((err as { code?: string }).code ?? ''));
    const again = await mail.createMailbox(fx.alice, 'Work');
    assert.notEqual(again.id, work.id);
    assert.equal((await mail.getMailbox(fx.alice, 'Work'))!.messages, 0);
    assert.deepEqual(await mail.quota(fx.alice), { limit: null, usedBytes: 0, usedMessages: 0 });
  });

  test('UIDNEXT and HIGHESTMODSEQ never go back: expunging the last message keeps them', async () => {
    const { mail } = fx.s;
    const r = await mail.append(fx.alice, 'INBOX', msg('only'));
    await mail.expunge(r.mailboxId, [r.uid]);
    const box = (await mail.getMailbox(fx.alice, 'INBOX'))!;
    assert.equal(box.uidNext, 2);
    assert.equal(box.highestModseq, r.modseq + 1);
    assert.deepEqual(await mail.selectSummary(r.mailboxId), { uids: [], firstUnseenUid: undefined, keywords: [], highestModseq: r.modseq + 1 });
  });

  test('keywords: \\Recent is never stored; the mailbox lists at most 26 keywords, messages keep those', async () => {
    const { mail } = fx.s;
    const many = Array.from({ length: 27 }, (_, i) => `$k${i}`);
    const r = await mail.append(fx.alice, 'INBOX', msg('kw'), { flags: many });
    assert.deepEqual(await mail.setFlags(r.mailboxId, [r.uid], 'add', ['\\Recent']), []);
    assert.deepEqual((await mail.getMessage(r.mailboxId, r.uid))!.flags, many.slice(0, 26));
    assert.deepEqual((await mail.selectSummary(r.mailboxId)).keywords, many.slice(0, 26));
  });

  test('quota: usage counted per account; an append past the limit is OVERQUOTA and stores nothing', async () => {
    const { mail, directory } = fx.s;
    const a = msg('q1', 1000);
    await mail.append(fx.alice, 'INBOX', a);
    await mail.append(fx.alice, 'Sent', msg('q2', 1000));
    await mail.append(fx.bob, 'INBOX', msg('other', 700));
    assert.deepEqual(await mail.quota(fx.alice), { limit: null, usedBytes: 2000, usedMessages: 2 });
    await directory.setQuota('alice@example.test', 3000);
    assert.deepEqual(await mail.quota(fx.alice), { limit: 3000, usedBytes: 2000, usedMessages: 2 });
    const before = (await mail.getMailbox(fx.alice, 'INBOX'))!;
    await failsWith('OVERQUOTA', () => mail.append(fx.alice, 'INBOX', msg('big', 1001)));
    await failsWith('OVERQUOTA', () => mail.appendMany(fx.alice, 'INBOX', [{ raw: msg('g1', 600) }, { raw: msg('g2', 600) }]));
    const after = (await mail.getMailbox(fx.alice, 'INBOX'))!;
    assert.deepEqual([after.uidNext, after.messages, after.highestModseq], [before.uidNext, before.messages, before.highestModseq]);
    await mail.append(fx.alice, 'INBOX', msg('fits', 1000));
    assert.deepEqual(await mail.quota(fx.alice), { limit: 3000, usedBytes: 3000, usedMessages: 3 }, 'up to the limit is allowed');
    await mail.append(fx.alice, 'Junk', msg('ignored', 300), { ignoreQuota: true });
    assert.equal((await mail.quota(fx.alice)).usedBytes, 3300, 'ignoreQuota stores and counts');
    await failsWith('OVERQUOTA', () => mail.copy(before.id, [1], (before.id)));
    const inbox = (await mail.getMailbox(fx.alice, 'INBOX'))!;
    await mail.setFlags(inbox.id, [1], 'add', ['\\Deleted']);
    await mail.expunge(inbox.id);
    assert.deepEqual(await mail.quota(fx.alice), { limit: 3000, usedBytes: 2300, usedMessages: 3 });
    const junk = (await mail.getMailbox(fx.alice, 'Junk'))!;
    assert.equal((await mail.move(inbox.id, [2], junk.id)).length, 1);
    assert.deepEqual(await mail.quota(fx.alice), { limit: 3000, usedBytes: 2300, usedMessages: 3 }, 'a move changes no usage');
    assert.deepEqual(await mail.quota(fx.bob), { limit: null, usedBytes: 700, usedMessages: 1 });
    await failsWith('NONEXISTENT', () => mail.quota(fx.bob + 1000));
  });

  test('concurrent appends near the limit: exactly the ones that fit are stored', async () => {
    const { mail, directory } = fx.s;
    await directory.setQuota('alice@example.test', 5000);
    const settled = await Promise.allSettled(range(8).map((i) => mail.append(fx.alice, 'INBOX', msg(`n${i}`, 1000))));
    const stored = settled.filter((s) => s.status === 'fulfilled').length;
    assert.equal(stored, 5);
    for (const s of settled) if (s.status === 'rejected') assert.equal((s.reason as { code?: string }).code, 'OVERQUOTA');
    assert.deepEqual(await mail.quota(fx.alice), { limit: 5000, usedBytes: 5000, usedMessages: 5 });
    assert.deepEqual((await mail.listMessages((await mail.getMailbox(fx.alice, 'INBOX'))!.id)).map((m) => m.uid), range(5), 'no gap left by the refused ones');
  });

  test('flags: add, remove, replace; only real changes get a new MODSEQ; UNCHANGEDSINCE skips newer messages', async () => {
    const { mail } = fx.s;
    for (const id of ['f1', 'f2', 'f3']) await mail.append(fx.alice, 'INBOX', msg(id));
    const box = (await mail.getMailbox(fx.alice, 'INBOX'))!.id;
    const m0 = (await mail.selectSummary(box)).highestModseq;
    const added = await mail.setFlags(box, [1, 2, 99], 'add', ['\\Seen', '$Work']);
    assert.deepEqual(added.map((r) => [r.uid, r.flags, r.modseq]), [
      [1, ['\\Seen', '$Work'], m0 + 1],
      [2, ['\\Seen', '$Work'], m0 + 2],
    ]);
    assert.deepEqual(await mail.setFlags(box, [1], 'add', ['\\seen']), [], 'no change, no new MODSEQ');
    assert.equal((await mail.selectSummary(box)).highestModseq, m0 + 2);
    const removed = await mail.setFlags(box, [1, 2, 3], 'remove', ['$Work']);
    assert.deepEqual(removed.map((r) => [r.uid, r.flags]), [
      [1, ['\\Seen']],
      [2, ['\\Seen']],
    ]);
    const replaced = await mail.setFlags(box, [3], 'replace', ['\\Flagged', '\\Answered']);
    assert.deepEqual(replaced.map((r) => r.flags), [['\\Flagged', '\\Answered']]);
    const m3 = (await mail.getMessage(box, 3))!.modseq;
    assert.deepEqual(await mail.setFlags(box, [3], 'add', ['\\Draft'], m3 - 1), [], 'RFC 7162 3.2: modified since UNCHANGEDSINCE: left alone');
    assert.deepEqual((await mail.setFlags(box, [3], 'add', ['\\Draft'], m3)).map((r) => r.uid), [3]);
    const kw = (await mail.selectSummary(box)).keywords;
    assert.deepEqual(kw, ['$Work'], 'a keyword once used stays in the list');
    await failsWith('NONEXISTENT', () => mail.setFlags(box + 10_000, [1], 'add', ['\\Seen']));
  });

  test('expunge: \\Deleted ones or the UIDs given; the log reports them to changesSince and expungedSince; UIDs never reused', async () => {
    const { mail } = fx.s;
    for (const id of range(5)) await mail.append(fx.alice, 'INBOX', msg(`e${id}`));
    const box = (await mail.getMailbox(fx.alice, 'INBOX'))!.id;
    await mail.setFlags(box, [2, 4], 'add', ['\\Deleted']);
    assert.equal(await mail.deletedCount(box), 2);
    const mark = (await mail.selectSummary(box)).highestModseq;
    assert.deepEqual(await mail.expunge(box), [2, 4]);
    assert.deepEqual(await mail.expunge(box), []);
    assert.deepEqual(await mail.expunge(box, [5, 77]), [5], 'UIDs given: expunged whether \\Deleted or not');
    assert.deepEqual((await mail.selectSummary(box)).uids, [1, 3]);
    assert.deepEqual(await mail.expungedSince(box, 0), [2, 4, 5]);
    assert.deepEqual(await mail.expungedSince(box, mark + 2), [5]);
    const delta = (await mail.changesSince(box, mark))!;
    assert.deepEqual(delta.expunged, [2, 4, 5]);
    assert.deepEqual(delta.changed, []);
    assert.equal(delta.highestModseq, mark + 3, 'each expunge is a MODSEQ of its own');
    assert.equal((await mail.append(fx.alice, 'INBOX', msg('e6'))).uid, 6);
    assert.equal((await mail.quota(fx.alice)).usedMessages, 3);
  });

  test('changesSince: new messages and flag changes after a MODSEQ, in one snapshot; undefined for a gone or foreign mailbox', async () => {
    const { mail } = fx.s;
    for (const id of range(3)) await mail.append(fx.alice, 'INBOX', msg(`d${id}`));
    const box = (await mail.getMailbox(fx.alice, 'INBOX'))!.id;
    const mark = (await mail.selectSummary(box)).highestModseq;
    assert.deepEqual(await mail.changesSince(box, mark), { highestModseq: mark, changed: [], expunged: [] });
    await mail.setFlags(box, [2], 'add', ['$Later']);
    const r = await mail.append(fx.alice, 'INBOX', msg('d4'), { flags: ['\\Seen'] });
    await mail.expunge(box, [1]);
    const delta = (await mail.changesSince(box, mark))!;
    assert.deepEqual(delta.changed, [
      { uid: 2, modseq: mark + 1, flags: ['$Later'] },
      { uid: 4, modseq: r.modseq, flags: ['\\Seen'] },
    ]);
    assert.deepEqual(delta.expunged, [1]);
    assert.equal(delta.highestModseq, mark + 3);
    assert.deepEqual(delta.keywords, ['$Later']);
    assert.deepEqual((await mail.changesSince(box, mark, fx.alice))?.expunged, [1]);
    assert.equal(await mail.changesSince(box, mark, fx.bob), undefined);
    assert.equal(await mail.changesSince(box + 10_000, 0), undefined);
  });

  test('copy: new UIDs ascending in source UID order, flags and date kept, source untouched; not across accounts', async () => {
    const { mail } = fx.s;
    for (const id of range(4)) await mail.append(fx.alice, 'INBOX', msg(`k${id}`), { flags: id === 3 ? ['\\Flagged', '$X'] : [], internalDate: 1_600_000_000_000 + id });
    const inbox = (await mail.getMailbox(fx.alice, 'INBOX'))!.id;
    const archive = (await mail.getMailbox(fx.alice, 'Archive'))!.id;
    await mail.append(fx.alice, 'Archive', msg('already'));
    const pairs = await mail.copy(inbox, [3, 1, 99, 3, 4], archive);
    assert.deepEqual(pairs, [
      [1, 2],
      [3, 3],
      [4, 4],
    ]);
    const copied = (await mail.getMessage(archive, 3))!;
    assert.deepEqual([copied.flags, copied.internalDate], [['\\Flagged', '$X'], 1_600_000_000_003]);
    assert.deepEqual(await mail.readMessage(archive, 3), msg('k3'));
    assert.deepEqual((await mail.selectSummary(inbox)).uids, [1, 2, 3, 4]);
    assert.deepEqual((await mail.selectSummary(archive)).keywords, ['$X']);
    assert.equal((await mail.quota(fx.alice)).usedMessages, 8);
    const bobInbox = (await mail.getMailbox(fx.bob, 'INBOX'))!.id;
    await failsWith('REFUSED', () => mail.copy(inbox, [1], bobInbox));
    await failsWith('NONEXISTENT', () => mail.copy(inbox, [1], inbox + 10_000));
    assert.deepEqual(await mail.copy(inbox, [], archive), []);
  });

  test('move: new UIDs ascending, the source expunges them in the same step; not across accounts or into itself', async () => {
    const { mail } = fx.s;
    for (const id of range(4)) await mail.append(fx.alice, 'INBOX', msg(`v${id}`), { flags: id === 2 ? ['\\Seen'] : [] });
    const inbox = (await mail.getMailbox(fx.alice, 'INBOX'))!.id;
    const trash = (await mail.getMailbox(fx.alice, 'Trash'))!.id;
    const mark = (await mail.selectSummary(inbox)).highestModseq;
    const pairs = await mail.move(inbox, [4, 2, 2, 42], trash);
    assert.deepEqual(pairs, [
      [2, 1],
      [4, 2],
    ]);
    assert.deepEqual((await mail.selectSummary(inbox)).uids, [1, 3]);
    assert.deepEqual((await mail.changesSince(inbox, mark))!.expunged, [2, 4]);
    assert.deepEqual((await mail.listMessages(trash)).map((m) => [m.uid, m.flags]), [
      [1, ['\\Seen']],
      [2, []],
    ]);
    const trashModseqs = (await mail.listMessages(trash)).map((m) => m.modseq);
    assert.ok(strictlyIncreasing(trashModseqs));
    assert.deepEqual(await mail.readMessage(trash, 2), msg('v4'));
    assert.equal((await mail.getMailbox(fx.alice, 'Trash'))!.uidNext, 3);
    assert.equal((await mail.quota(fx.alice)).usedMessages, 4);
    await failsWith('BADINPUT', () => mail.move(inbox, [1], inbox));
    const bobInbox = (await mail.getMailbox(fx.bob, 'INBOX'))!.id;
    await failsWith('REFUSED', () => mail.move(inbox, [1], bobInbox));
    assert.deepEqual(await mail.move(inbox, [99], trash), []);
  });

  test('bodyId (where a backend keeps one): unique, the same after flag changes and MOVE out and back; a copy gets its own', async () => {
    const { mail } = fx.s;
    const a = await mail.append(fx.alice, 'INBOX', msg('body-a'));
    const b = await mail.append(fx.alice, 'INBOX', msg('body-b'));
    const idOf = async (mailboxId: number, uid: number) => (await mail.getMessage(mailboxId, uid))!.bodyId;
    const first = await idOf(a.mailboxId, a.uid);
    if (first === undefined) return; // this backend keeps none (POP3 UIDLs then fall back to UIDVALIDITY.UID)
    assert.notEqual(first, await idOf(b.mailboxId, b.uid));
    await mail.setFlags(a.mailboxId, [a.uid], 'add', ['\\Seen', '$Label']);
    assert.equal(await idOf(a.mailboxId, a.uid), first);
    const trash = (await mail.getMailbox(fx.alice, 'Trash'))!.id;
    const [[, inTrash]] = (await mail.move(a.mailboxId, [a.uid], trash)) as [[number, number]];
    assert.equal(await idOf(trash, inTrash), first);
    const [[, back]] = (await mail.move(trash, [inTrash], a.mailboxId)) as [[number, number]];
    assert.equal(await idOf(a.mailboxId, back), first);
    const [[, copy]] = (await mail.copy(a.mailboxId, [back], trash)) as [[number, number]];
    assert.notEqual(await idOf(trash, copy), first);
  });

  test('pop3Uidl: stored as given, none when none given; kept by flag changes, MOVE out of INBOX and back, COPY and INBOX rename; a bad one is refused', async () => {
    const { mail } = fx.s;
    const own = '00000001a1b2c3d4';
    const quoted = '"odd!uidl"';
    const [a, plain, b] = await mail.appendMany(fx.alice, 'INBOX', [
      { raw: msg('uidl-a'), options: { pop3Uidl: own } },
      { raw: msg('uidl-plain') },
      { raw: msg('uidl-b'), options: { pop3Uidl: quoted, flags: ['\\Seen'] } },
    ]);
    const uidlOf = async (mailboxId: number, uid: number) => (await mail.getMessage(mailboxId, uid))!.pop3Uidl;
    assert.equal(await uidlOf(a!.mailboxId, a!.uid), own);
    assert.equal(await uidlOf(b!.mailboxId, b!.uid), quoted);
    assert.equal(await uidlOf(plain!.mailboxId, plain!.uid), undefined);
    assert.ok(!('pop3Uidl' in (await mail.getMessage(plain!.mailboxId, plain!.uid))!), 'no property at all when there is none');
    const listed = await mail.listMessages(a!.mailboxId, a!.uid, b!.uid);
    assert.deepEqual(listed.map((m) => m.pop3Uidl), [own, undefined, quoted]);

    await mail.setFlags(a!.mailboxId, [a!.uid], 'add', ['\\Seen', '$Kept']);
    assert.equal(await uidlOf(a!.mailboxId, a!.uid), own);
    const archive = await mail.createMailbox(fx.alice, 'UidlArchive');
    const [[, out]] = (await mail.move(a!.mailboxId, [a!.uid], archive.id)) as [[number, number]];
    assert.equal(await uidlOf(archive.id, out), own);
    const [[, back]] = (await mail.move(archive.id, [out], a!.mailboxId)) as [[number, number]];
    assert.equal(await uidlOf(a!.mailboxId, back), own, 'out of INBOX and back: the same UIDL');
    const copies = new Map(await mail.copy(a!.mailboxId, [back, plain!.uid], archive.id));
    assert.equal(await uidlOf(archive.id, copies.get(back)!), own, 'a copy keeps it');
    assert.equal(await uidlOf(archive.id, copies.get(plain!.uid)!), undefined);

    // RENAME INBOX moves its messages to a new mailbox (RFC 3501): they keep theirs.
    await mail.renameMailbox(fx.alice, 'INBOX', 'OldInbox');
    const old = (await mail.findMailbox(fx.alice, 'OldInbox'))!;
    assert.deepEqual((await mail.listMessages(old.id)).filter((m) => m.pop3Uidl !== undefined).map((m) => m.pop3Uidl).sort(), [quoted, own].sort());

    for (const bad of ['', 'two words', 'x'.repeat(513), 'caf\u00e9']) {
      await failsWith('BADINPUT', () => mail.append(fx.alice, 'INBOX', msg('bad-uidl'), { pop3Uidl: bad }));
    }
  });

  test('change feed: a subscriber hears the appends, flag changes, expunges and mailbox changes of its account only', async () => {
    const { mail } = fx.s;
    const seen: MailboxChange[] = [];
    const bobSeen: MailboxChange[] = [];
    const stop = mail.feed.subscribe(fx.alice, (c) => seen.push(c));
    const stopBob = mail.feed.subscribe(fx.bob, (c) => bobSeen.push(c));
    try {
      const results = await Promise.all(range(30).map((i) => mail.append(fx.alice, 'INBOX', msg(`o${i}`), { flags: i === 7 ? ['\\Seen'] : [] })));
      const box = results[0]!.mailboxId;
      const appended = seen.filter((c) => c.kind === 'append' && c.mailboxId === box) as Array<Extract<MailboxChange, { kind: 'append' }>>;
      assert.deepEqual(appended.map((c) => c.uid).sort((a, b) => a - b), range(30));
      for (const r of results) assert.equal(appended.find((c) => c.uid === r.uid)?.modseq, r.modseq, 'the change carries the MODSEQ the append got');
      assert.deepEqual(appended.find((c) => c.uid === results[6]!.uid)?.flags, ['\\Seen']);
      await mail.setFlags(box, [3, 1], 'add', ['\\Deleted']);
      await mail.expunge(box);
      const trash = (await mail.getMailbox(fx.alice, 'Trash'))!.id;
      await mail.move(box, [5], trash);
      const later = seen.filter((c) => c.kind === 'flags' || c.kind === 'expunge') as Array<Exclude<MailboxChange, { kind: 'mailboxes' | 'append' }>>;
      assert.deepEqual(later.map((c) => [c.kind, c.mailboxId, c.uid]), [
        ['flags', box, 3],
        ['flags', box, 1],
        ['expunge', box, 1],
        ['expunge', box, 3],
        ['expunge', box, 5],
      ]);
      assert.ok(strictlyIncreasing(later.map((c) => c.modseq)));
      assert.ok((later[0] as { flags: string[] }).flags.includes('\\Deleted'), 'a flags change carries the flags after it');
      const intoTrash = seen.filter((c) => c.kind === 'append' && c.mailboxId === trash).map((c) => (c as { uid: number }).uid);
      assert.deepEqual(intoTrash, [1]);
      await mail.createMailbox(fx.alice, 'New');
      assert.ok(seen.some((c) => c.kind === 'mailboxes' && c.accountId === fx.alice));
      assert.deepEqual(bobSeen, [], "another account's subscriber hears nothing");
    } finally {
      stop();
      stopBob();
    }
    const before = seen.length;
    await mail.append(fx.alice, 'INBOX', msg('after'));
    assert.equal(seen.length, before, 'unsubscribed: nothing more');
  });

  test('change feed: changes of one mailbox arrive in commit order, under concurrent appends and flag changes', { todo: fx.gap('feed-order') }, async () => {
    const { mail } = fx.s;
    const seen: MailboxChange[] = [];
    const stop = mail.feed.subscribe(fx.alice, (c) => seen.push(c));
    try {
      const first = await mail.append(fx.alice, 'INBOX', msg('first'));
      await Promise.all([
        ...range(30).map((i) => mail.append(fx.alice, 'INBOX', msg(`p${i}`))),
        (async () => mail.setFlags(first.mailboxId, [first.uid], 'add', ['\\Flagged']))(),
      ]);
    } finally {
      stop();
    }
    const modseqs = seen.filter((c) => c.kind !== 'mailboxes').map((c) => (c as { modseq: number }).modseq);
    assert.equal(modseqs.length, 32);
    assert.ok(strictlyIncreasing(modseqs), `commit order: ${modseqs.join(' ')}`);
  });
}
