// imapflow (a real IMAP client library) drives a whole session against the
// server over STARTTLS: list, select, fetch structure of every fixture
// message, search, store, copy, move, expunge, append, and IDLE
// notification of a concurrent delivery.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ImapFlow, type FetchMessageObject, type StatusObject } from 'imapflow';
import { startImapHarness, USER, PASSWORD, type ImapHarness } from './imap-harness.js';
import { fixturesDir } from '../support/paths.js';

function client(h: ImapHarness, secure = false): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port: secure ? h.tlsPort : h.port,
    secure,
    auth: { user: USER, pass: PASSWORD },
    tls: { rejectUnauthorized: false },
    logger: false,
  });
}

test('imapflow: a full session over STARTTLS', { timeout: 60_000 }, async () => {
  const h = await startImapHarness();
  const c = client(h);
  try {
    // Fixture messages arrive by delivery (the store), as the MX path would put them.
    const dir = path.join(fixturesDir, 'imap');
    const emls = fs.readdirSync(dir).filter((f) => f.endsWith('.eml')).sort();
    for (const f of emls) await h.storage.mail.append(h.accountId, 'INBOX', fs.readFileSync(path.join(dir, f)));

    await c.connect();
    assert.ok(c.secureConnection || (c as unknown as { socket: { encrypted?: boolean } }).socket.encrypted, 'STARTTLS was used');
    assert.ok(c.capabilities.has('IDLE'));
    // imapflow turns on COMPRESS=DEFLATE when offered: the rest of the session runs compressed.
    assert.ok((c as unknown as { _deflate?: unknown })._deflate, 'COMPRESS=DEFLATE negotiated');

    // LIST with special-use folders.
    const boxes = await c.list();
    const byPath = new Map(boxes.map((b) => [b.path, b]));
    for (const name of ['INBOX', 'Sent', 'Drafts', 'Trash', 'Junk', 'Archive']) assert.ok(byPath.has(name), `LIST has ${name}`);
    assert.equal(byPath.get('Sent')!.specialUse, '\\Sent');
    assert.equal(byPath.get('Trash')!.specialUse, '\\Trash');

    await c.mailboxCreate(['Projects', 'Älter']);
    const created = (await c.list()).find((b) => b.path === 'Projects/Älter');
    assert.ok(created, 'a non-ASCII mailbox round-trips');
    const st = (await c.status('INBOX', { messages: true, uidNext: true, unseen: true })) as StatusObject;
    assert.equal(st.messages, emls.length);

    // SELECT and FETCH the structure of every fixture message.
    const mb = await c.mailboxOpen('INBOX');
    assert.equal(mb.exists, emls.length);
    let count = 0;
    for await (const m of c.fetch('1:*', { uid: true, envelope: true, bodyStructure: true, size: true, flags: true, internalDate: true })) {
      count++;
      assert.ok(m.bodyStructure, `message ${m.seq} has a BODYSTRUCTURE`);
      assert.ok(m.envelope, `message ${m.seq} has an ENVELOPE`);
      assert.ok((m.size ?? 0) > 0);
      assert.equal(m.flags?.has('\\Seen'), false);
    }
    assert.equal(count, emls.length);

    // A body part by section, then the whole source.
    const first = await c.fetchOne('1', { source: true, headers: ['subject'], bodyParts: ['1'] });
    assert.ok(first && first.source && first.source.length > 0);
    assert.equal(first.source.length, ((await c.fetchOne('1', { size: true })) as FetchMessageObject).size);

    // APPEND, SEARCH, STORE.
    const appended = await c.append('INBOX', 'From: carol@remote.test\r\nSubject: needle in a haystack\r\n\r\nunique-body-token\r\n', ['$Work']);
    assert.ok(appended && typeof appended === 'object' && appended.uid, 'APPENDUID');
    const newUid = (appended as { uid: number }).uid;
    assert.deepEqual(await c.search({ subject: 'needle' }, { uid: true }), [newUid]);
    assert.deepEqual(await c.search({ body: 'unique-body-token' }, { uid: true }), [newUid]);
    assert.deepEqual(await c.search({ keyword: '$Work' }, { uid: true }), [newUid]);
    assert.deepEqual(await c.search({ seen: true }), []);
    await c.messageFlagsAdd({ uid: String(newUid) }, ['\\Flagged'], { uid: true });
    assert.deepEqual(await c.search({ flagged: true }, { uid: true }), [newUid]);
    await c.messageFlagsRemove({ uid: String(newUid) }, ['\\Flagged'], { uid: true });
    assert.deepEqual(await c.search({ flagged: true }, { uid: true }), []);

    // COPY, MOVE (with the UID map), DELETE + EXPUNGE.
    const copied = await c.messageCopy('1:3', 'Archive');
    assert.ok(copied && copied.uidMap && copied.uidMap.size === 3);
    const moved = await c.messageMove({ uid: String(newUid) }, 'Projects/Älter', { uid: true });
    assert.ok(moved && moved.uidMap && moved.uidMap.size === 1);
    assert.equal(c.mailbox && typeof c.mailbox === 'object' ? c.mailbox.exists : -1, emls.length);
    await c.messageDelete('1:2');
    assert.equal(c.mailbox && typeof c.mailbox === 'object' ? c.mailbox.exists : -1, emls.length - 2);
    assert.equal(((await c.status('Archive', { messages: true })) as StatusObject).messages, 3);
    assert.equal(((await c.status('Projects/Älter', { messages: true })) as StatusObject).messages, 1);

    await c.mailboxRename('Projects/Älter', 'Projects/Neuer');
    await c.mailboxDelete('Projects/Neuer');
    assert.ok(!(await c.list()).some((b) => b.path === 'Projects/Neuer'));
    await c.logout();
  } finally {
    await h.close();
  }
});

test('imapflow: IDLE tells of a delivery by another connection at once (implicit TLS)', { timeout: 30_000 }, async () => {
  const h = await startImapHarness();
  const watcher = client(h, true);
  const writer = client(h);
  try {
    await watcher.connect();
    await writer.connect();
    await watcher.mailboxOpen('INBOX');
    const seen = new Promise<{ count: number; at: number }>((resolve) => {
      watcher.on('exists', (e: { count: number }) => resolve({ count: e.count, at: Date.now() }));
    });
    void watcher.idle();
    await new Promise((r) => setTimeout(r, 200));
    await writer.append('INBOX', 'From: d@remote.test\r\nSubject: ping\r\n\r\nping\r\n');
    // Measured from the stored reply, not from the send: the store's fsync on a busy disk is not IDLE's latency.
    const stored = Date.now();
    const e = await seen;
    assert.equal(e.count, 1);
    assert.ok(e.at - stored < 500, `notified ${e.at - stored} ms after the APPEND was stored`);
    // A delivery through the store (the MX path) too.
    const second = new Promise<number>((resolve) => watcher.on('exists', (ev: { count: number }) => ev.count === 2 && resolve(ev.count)));
    await h.storage.mail.append(h.accountId, 'INBOX', Buffer.from('From: e@remote.test\r\nSubject: pong\r\n\r\npong\r\n'));
    assert.equal(await second, 2);
    await writer.logout();
    await watcher.logout();
  } finally {
    await h.close();
  }
});
