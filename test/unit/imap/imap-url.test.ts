// IMAP URLs as CATENATE takes them (RFC 5092, RFC 4469).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessageUrl, MAX_URL_LENGTH } from '../../../src/protocol/imap/imap-url.js';

test('relative and absolute URLs naming a message, a section, a partial', () => {
  assert.deepEqual(parseMessageUrl('/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER'), {
    user: undefined, mailbox: 'Drafts', uidValidity: 385759045, uid: 20, section: 'HEADER', partial: undefined,
  });
  assert.deepEqual(parseMessageUrl('imap://bob;AUTH=*@mail.example.test/INBOX/;UID=7/;SECTION=1.2.MIME/;PARTIAL=10.20'), {
    user: 'bob', mailbox: 'INBOX', uidValidity: undefined, uid: 7, section: '1.2.MIME', partial: { offset: 10, length: 20 },
  });
  assert.equal(parseMessageUrl('/a%20b%2Fc/;UID=1')?.mailbox, 'a b/c');
  assert.equal(parseMessageUrl('/x/;UID=1/;SECTION=HEADER.FIELDS%20(FROM%20TO)')?.section, 'HEADER.FIELDS (FROM TO)');
  assert.deepEqual(parseMessageUrl('/x/;UID=3/;PARTIAL=5')?.partial, { offset: 5 });
});

test('what names no single message is refused', () => {
  for (const bad of ['', 'nonsense', 'INBOX/;UID=1', '/INBOX', '/INBOX/;UID=0', '/INBOX/;UID=x', '//;UID=1', '/INBOX/;UID=1/;SECTION=', '/INBOX/;UID=1/;PARTIAL=1.0',
    '/INBOX;UIDVALIDITY=abc/;UID=1', '/INBOX/;UID=1/;FOO=1', '/%zz/;UID=1', 'imap://@host/INBOX/;UID=1', '/INBOX/;UID=12345678901']) {
    assert.equal(parseMessageUrl(bad), undefined, bad);
  }
});

test('hostile URLs: bounded and linear', () => {
  assert.equal(parseMessageUrl('/' + 'a'.repeat(MAX_URL_LENGTH)), undefined);
  const started = process.cpuUsage();
  for (const u of ['/' + '/;UID='.repeat(1200), '/' + ';UIDVALIDITY='.repeat(600) + '/;UID=1', 'imap://' + '@'.repeat(8000) + '/x/;UID=1', '/x/;UID=1' + '/;PARTIAL=1'.repeat(700)]) {
    parseMessageUrl(u);
  }
  const used = process.cpuUsage(started);
  assert.ok(used.user + used.system < 2_000_000, `${used.user + used.system} us`);
});
