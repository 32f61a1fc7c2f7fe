// Messages stored without a MIME index (mime = NULL) and with bare LF line
// ends: the server indexes them on the fly, and RFC822.SIZE equals the
// length of BODY[] as sent (CRLF).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startImapHarness, USER, PASSWORD } from './imap-harness.js';
import { RawImap } from './imap-raw-client.js';

test('unindexed bare-LF message: ENVELOPE, BODYSTRUCTURE, SEARCH, and RFC822.SIZE = BODY[] length', async () => {
  const h = await startImapHarness({ indexAtAppend: false });
  try {
    const raw = Buffer.from('From: Lf <lf@remote.test>\nSubject: bare lf\nContent-Type: text/plain\n\nline one\nline two\n');
    await h.storage.mail.append(h.accountId, 'INBOX', raw);
    assert.equal(h.storage.mail.listMessages(h.storage.mail.getMailbox(h.accountId, 'INBOX')!.id)[0]!.mime, null);
    const c = await RawImap.connect(h.tlsPort, true);
    await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`);
    await c.cmd('SELECT INBOX');
    const r = await c.cmd('FETCH 1 (RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[])');
    const size = Number(/RFC822\.SIZE (\d+)/.exec(r)![1]);
    assert.equal(size, raw.length + 6, 'six bare LFs count as CRLF');
    assert.ok(r.includes(`BODY[] {${size}}\r\nFrom: Lf <lf@remote.test>\r\nSubject: bare lf\r\n`));
    assert.match(r, /ENVELOPE \(NIL "bare lf" \(\("Lf" NIL "lf" "remote.test"\)\)/);
    assert.match(r, /BODYSTRUCTURE \("text" "plain"/);
    assert.match(await c.cmd('SEARCH SUBJECT "bare lf" BODY "line two"'), /\* SEARCH 1\r\n/);
    assert.match(await c.cmd(`SEARCH LARGER ${size - 1} SMALLER ${size + 1}`), /\* SEARCH 1\r\n/);
    // Structure alone (no body item) of messages whose index was never made: each body is read to make it.
    for (const n of [2, 3]) await h.storage.mail.append(h.accountId, 'INBOX', Buffer.from(`Subject: later ${n}\n\nbody ${n}\n`));
    await c.cmd('NOOP');
    const later = await c.cmd('FETCH 2:3 (UID ENVELOPE)');
    assert.match(later, /\* 2 FETCH \(UID 2 ENVELOPE \(NIL "later 2"[^]*\* 3 FETCH \(UID 3 ENVELOPE \(NIL "later 3"/);
    assert.match(await c.cmd('SORT (SUBJECT) UTF-8 ALL'), /\* SORT 1 2 3\r\n/);
    c.close();
  } finally {
    await h.close();
  }
});
