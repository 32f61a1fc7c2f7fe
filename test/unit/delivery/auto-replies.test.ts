// Vacation refusals (RFC 3834, RFC 5230) and DSNs (RFC 3464) read the
// original through the message model: LF-only and CRLF messages alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../../mime/index.js';
import { autoReplyRefusal, buildFailureDsn, buildVacationReply } from '../../../src/delivery/auto-replies.js';

const ORIGINAL = [
  'From: Alice <alice@example.org>',
  'To: Bob <bob@example.test>,',
  '  carol@example.test',
  'Subject: hello',
  'Message-ID: <m1@example.org>',
  '',
  'Body line, not a header: x',
  '',
].join('\n');

const crlf = parseMessage(Buffer.from(ORIGINAL.replace(/\n/g, '\r\n')));
const lf = parseMessage(Buffer.from(ORIGINAL));

test('vacation refusal: the same answer for LF-only and CRLF messages', () => {
  for (const m of [crlf, lf]) {
    assert.equal(autoReplyRefusal(m, 'alice@example.org', ['carol@example.test']), undefined, 'a folded To line still counts');
    assert.equal(autoReplyRefusal(m, 'alice@example.org', ['dave@example.test']), 'recipient is not in To/Cc');
    assert.equal(autoReplyRefusal(m, '', ['bob@example.test']), 'null sender');
  }
  const listy = parseMessage(Buffer.from('List-Id: <l.example.org>\nTo: bob@example.test\n\nx\n'));
  assert.equal(autoReplyRefusal(listy, 'alice@example.org', ['bob@example.test']), 'message is from a mailing list');
  const auto = parseMessage(Buffer.from('Auto-Submitted: auto-replied\nTo: bob@example.test\n\nx\n'));
  assert.equal(autoReplyRefusal(auto, 'alice@example.org', ['bob@example.test']), 'message is auto-submitted');
});

test('vacation reply threads on the original Message-ID', () => {
  for (const m of [crlf, lf]) {
    const reply = buildVacationReply({ from: '<bob@example.test>', to: 'alice@example.org', subject: 'away', reason: 'later', mime: false, original: m, hostname: 'mx.example.test' }).toString();
    assert.match(reply, /\r\nIn-Reply-To: <m1@example\.org>\r\n/);
    assert.match(reply, /\r\nReferences: <m1@example\.org>\r\n/);
  }
});

test('DSN: the original header section only, with CRLF line ends, for LF-only messages too', () => {
  for (const m of [crlf, lf]) {
    const dsn = buildFailureDsn({ recipient: 'bob@example.test', to: 'alice@example.org', status: '5.1.1', diagnostic: '550 5.1.1 no', original: m, hostname: 'mx.example.test' }).toString();
    const part = dsn.slice(dsn.indexOf('Content-Type: text/rfc822-headers'));
    assert.match(part, /\r\n\r\nFrom: Alice <alice@example\.org>\r\nTo: Bob <bob@example\.test>,\r\n  carol@example\.test\r\nSubject: hello\r\nMessage-ID: <m1@example\.org>\r\n\r\n--/);
    assert.ok(!dsn.includes('Body line'), 'the body stays out');
  }
});
