// The one reply mapping: verdicts, errors and delivery outcomes to SMTP and
// LMTP replies, worded as INTERFACE.md says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MailError } from '../../../storage/errors.js';
import type { RecipientOutcome } from '../../../src/delivery/agent.js';
import {
  errorVerdict,
  failureReply,
  formatReply,
  LOOKUP_FAILURE,
  messageReply,
  readFailureReply,
  recipientReplies,
  refusalReply,
  RELAY_DENIED,
  mailboxFull,
  TOO_MANY_MESSAGES,
} from '../../../src/mx/smtp-reply.js';

const delivered = (recipient: string, queued = false): RecipientOutcome => ({ recipient, kind: 'delivered', queueId: 'Q1', queued });
const temp = (recipient: string): RecipientOutcome => ({ recipient, kind: 'tempfail', why: 'over-quota' });
const no = (recipient: string): RecipientOutcome => ({ recipient, kind: 'reject', why: 'no-such-user' });

test('verdicts become replies; a disconnect is a 421 that ends the session', () => {
  assert.equal(formatReply(refusalReply(RELAY_DENIED)), '554 5.7.1 Relay access denied');
  assert.deepEqual(refusalReply(TOO_MANY_MESSAGES), { code: 421, enhanced: '4.7.0', text: 'Too many messages in one connection', close: true });
  assert.equal(formatReply(refusalReply(mailboxFull('tempfail'))), '452 4.2.2 Mailbox full, try again later');
  assert.equal(formatReply(refusalReply(mailboxFull('reject'))), '552 5.2.2 Mailbox full');
});

test('errors: an unknown user is 550 5.1.1, a MailError keeps its own reply, anything else is a 451 that says nothing of it', () => {
  assert.equal(formatReply(refusalReply(errorVerdict(new MailError('NONEXISTENT', 'nobody')))), '550 5.1.1 User unknown in local recipient table');
  const own = new MailError('TEMPFAIL', 'Alias loop', { smtpCode: 554, enhanced: '5.4.6' });
  assert.deepEqual(errorVerdict(own), { kind: 'reject', code: 554, enhanced: '5.4.6', text: 'Alias loop' });
  assert.equal(errorVerdict(new MailError('TEMPFAIL', 'x', { smtpCode: 451, enhanced: '4.3.5' })).kind, 'tempfail');
  const secret = new Error('SQLITE_BUSY: /var/lib/postino/index.db');
  assert.equal(formatReply(refusalReply(errorVerdict(secret))), '451 4.3.0 Temporary local problem, try again later');
  assert.equal(errorVerdict(secret, LOOKUP_FAILURE), LOOKUP_FAILURE);
});

test('a DATA that did not give a message', () => {
  assert.equal(formatReply(readFailureReply({ kind: 'gone', bytes: 3 })), '451 4.3.0 Message incomplete');
  assert.equal(formatReply(readFailureReply({ kind: 'too-big', bytes: 3 })), '552 5.3.4 Message size exceeds fixed maximum message size');
  assert.equal(formatReply(readFailureReply({ kind: 'header-too-big', bytes: 3 })), '552 5.3.4 Message header section exceeds fixed maximum size');
});

test('SMTP: one reply for all recipients; any temporary failure asks for the whole message again', () => {
  assert.equal(formatReply(messageReply([delivered('a'), delivered('b')], 'Q1')), '250 2.0.0 Ok: queued as Q1');
  assert.equal(formatReply(messageReply([delivered('a'), temp('b')], 'Q1')), '452 4.2.2 Mailbox full, try again later');
  assert.equal(formatReply(messageReply([no('a'), no('b')], 'Q1')), '550 5.1.1 No such user here');
  // Refused for some, stored for others: accepted (the refused ones got a DSN).
  assert.equal(messageReply([no('a'), delivered('b')], 'Q1').code, 250);
});

test('LMTP: one reply per recipient, in order', () => {
  assert.deepEqual(recipientReplies([delivered('a@x.test'), temp('b@x.test'), no('c@x.test')]).map(formatReply), [
    '250 2.0.0 <a@x.test> Q1 Saved',
    '452 4.2.2 Mailbox full, try again later',
    '550 5.1.1 No such user here',
  ]);
});

test('LMTP: a recipient kept for a local retry is answered as queued', () => {
  assert.equal(formatReply(recipientReplies([delivered('a@x.test', true)])[0]!), '250 2.0.0 <a@x.test> Q1 Queued for local delivery');
});

test('delivery failures, worded (the words the DSNs carry too)', () => {
  const words = (f: Parameters<typeof failureReply>[0]) => formatReply(failureReply(f));
  assert.equal(words({ kind: 'tempfail', why: 'no-space' }), '452 4.3.1 Insufficient system storage');
  assert.equal(words({ kind: 'tempfail', why: 'over-quota' }), '452 4.2.2 Mailbox full, try again later');
  assert.equal(words({ kind: 'reject', why: 'over-quota' }), '552 5.2.2 Mailbox full');
  assert.equal(words({ kind: 'reject', why: 'no-such-user' }), '550 5.1.1 No such user here');
  assert.equal(
    words({ kind: 'reject', why: 'alias-target-gone', target: 'bob@x.test', alias: 'ops@x.test' }),
    '550 5.1.1 <bob@x.test>: no such user here (a target of the alias <ops@x.test>)',
  );
  assert.equal(words({ kind: 'reject', why: 'too-many-hops' }), '554 5.4.6 Too many hops: mail loop?');
  assert.equal(words({ kind: 'reject', why: 'mail-loop', account: 'bob@x.test' }), '554 5.4.6 Mail loop: already delivered to bob@x.test');
  assert.equal(words({ kind: 'reject', why: 'sieve-reject', reason: 'Go  away\r\n now' }), '550 5.7.1 Go away now');
  assert.equal(failureReply({ kind: 'reject', why: 'sieve-reject', reason: 'x'.repeat(1000) }).text.length, 400);
  assert.equal(words({ kind: 'reject', why: 'refused', code: 554, enhanced: '5.4.6', text: 'alias loop at a@x.test' }), '554 5.4.6 alias loop at a@x.test');
  assert.equal(words({ kind: 'tempfail', why: 'local-problem' }), '451 4.3.0 Temporary local problem, try again later');
});
