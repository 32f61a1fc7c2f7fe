// The RFC 3464 report body shared by delivery and the outbound queue: a
// remote reply is hostile input (control characters, megabytes) and comes
// out as one bounded field line; the status is read from the reply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDeliveryReport, fieldText, headerSection, replyStatus } from '../../../mime/dsn.js';

test('replyStatus reads the enhanced code, else the class of the basic one', () => {
  assert.equal(replyStatus('550 5.1.1 <x@y>: no such user', '5.0.0'), '5.1.1');
  assert.equal(replyStatus('452-4.2.2 mailbox full', '4.0.0'), '4.2.2');
  assert.equal(replyStatus('554 transaction failed', '5.0.0'), '5.0.0');
  assert.equal(replyStatus('451 4.7.1', '4.0.0'), '4.7.1');
  assert.equal(replyStatus('550 4.1.1 mismatched classes', '5.0.0'), '5.0.0');
  assert.equal(replyStatus('connection refused', '4.4.1'), '4.4.1');
});

test('a hostile reply becomes one bounded line; a megabyte of it takes no time', () => {
  assert.equal(fieldText('550 a\r\nInjected: header\r\n\r\nbody'), '550 a Injected: header body');
  const huge = '550 ' + 'x\r\n'.repeat(1_000_000);
  const start = process.hrtime.bigint();
  const line = fieldText(huge);
  assert.ok(Number(process.hrtime.bigint() - start) / 1e6 < 2_000);
  assert.ok(line.length <= 903);
  assert.doesNotMatch(line, /[\r\n]/);
});

test('the report: one block per recipient, the original header section with CRLF', () => {
  const raw = Buffer.from('Subject: hi\nFrom: a@b.test\n\nbody\n');
  assert.equal(headerSection(raw).toString(), 'Subject: hi\nFrom: a@b.test\n');
  assert.equal(headerSection(Buffer.from('no body at all')).toString(), 'no body at all');
  const report = buildDeliveryReport({
    hostname: 'mx.example.test',
    to: 'a@b.test',
    subject: 'Undelivered Mail Returned to Sender',
    text: 'sorry',
    recipients: [
      { finalRecipient: 'x@remote.test', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 unknown\r\nEvil: yes', remoteMta: 'mx.remote.test' },
      { finalRecipient: 'y@remote.test', action: 'delayed', status: '4.7.1', willRetryUntil: 'Fri, 11 Dec 2026 00:00:00 +0000' },
    ],
    originalHeaders: headerSection(raw),
    date: 'Sun, 06 Dec 2026 00:00:00 +0000',
    messageId: '<1@mx.example.test>',
    boundary: 'B',
  }).toString();
  assert.match(report, /Final-Recipient: rfc822; x@remote.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; mx\.remote\.test\r\nDiagnostic-Code: smtp; 550 5\.1\.1 unknown Evil: yes\r\n\r\nFinal-Recipient: rfc822; y@remote\.test\r\nAction: delayed\r\n/);
  assert.doesNotMatch(report, /\r\nEvil: yes/);
  assert.match(report, /Content-Type: text\/rfc822-headers\r\n\r\nSubject: hi\r\nFrom: a@b\.test\r\n\r\n--B--\r\n$/);
});
