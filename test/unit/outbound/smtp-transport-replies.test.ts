// Remote replies and local failures mapped to recipient outcomes and deferral classes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_REPLY_LENGTH,
  deferralOfError,
  deferralOfReply,
  deferredByError,
  enhancedCode,
  oneLine,
  outcomeOfReply,
  replyCode,
} from '../../../src/outbound/smtp-transport-replies.js';

test('reply codes and enhanced codes are read from the start of the reply only', () => {
  assert.equal(replyCode('250 2.0.0 Ok: queued as ABC'), 250);
  assert.equal(replyCode('451-first line'), 451);
  assert.equal(replyCode('550'), 550);
  assert.equal(replyCode('hello 550'), undefined);
  assert.equal(replyCode('650 nonsense'), undefined);
  assert.equal(enhancedCode('452 4.2.2 mailbox full'), '4.2.2');
  assert.equal(enhancedCode('550 no such user 5.1.1'), undefined);
});

test('2xx sent, 5xx failed, 4xx deferred; anything else deferred too', () => {
  assert.equal(outcomeOfReply('a@x', '250 2.0.0 Ok', 'DATA').status, 'sent');
  const failed = outcomeOfReply('a@x', '550 5.1.1 <a@x>: no such user', 'RCPT');
  assert.deepEqual(failed, { address: 'a@x', status: 'failed', reply: '550 5.1.1 <a@x>: no such user' });
  assert.equal(outcomeOfReply('a@x', '552 5.2.2 over quota', 'RCPT').status, 'failed', 'a permanent full mailbox bounces');
  assert.equal(outcomeOfReply('a@x', '451 4.3.0 try later', 'RCPT').status, 'deferred');
  for (const odd of ['', '354 go ahead', 'garbage', '999 what']) {
    const o = outcomeOfReply('a@x', odd, 'DATA');
    assert.equal(o.status, 'deferred', JSON.stringify(odd));
    assert.equal(o.deferral, 'remote-4xx');
    assert.ok(o.reply.length > 0);
  }
});

test('deferral classes of 4xx replies: greylisting, full mailbox, the rest', () => {
  assert.equal(deferralOfReply('450 4.2.0 <a@x>: Recipient address rejected: Greylisted, see http://postgrey', 'RCPT'), 'greylist');
  assert.equal(deferralOfReply('451 4.7.1 Please try again later', 'RCPT'), 'greylist');
  assert.equal(deferralOfReply('451 4.7.1 Please try again later', 'DATA'), 'remote-4xx', 'greylisting happens at RCPT');
  assert.equal(deferralOfReply('451 Greylisting in action', 'DATA'), 'greylist', 'the word says it wherever it comes');
  assert.equal(deferralOfReply('452 4.2.2 mailbox full', 'RCPT'), 'mailbox-full');
  assert.equal(deferralOfReply('450 4.2.2 quota exceeded', 'RCPT'), 'mailbox-full');
  assert.equal(deferralOfReply('452 insufficient storage', 'RCPT'), 'mailbox-full');
  assert.equal(deferralOfReply('452 4.5.3 too many recipients', 'RCPT'), 'remote-4xx', 'not a full mailbox');
  assert.equal(deferralOfReply('421 4.3.2 shutting down', 'MAIL'), 'remote-4xx');
});

test('local failures: nodemailer and system codes, also under a wrapping error', () => {
  const err = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(code), { code, ...extra });
  assert.equal(deferralOfError(err('ECONNECTION', { originalCode: 'ECONNREFUSED' })), 'connection');
  assert.equal(deferralOfError(err('ETIMEDOUT')), 'timeout');
  assert.equal(deferralOfError(err('ESOCKET', { originalCode: 'ETIMEDOUT' })), 'timeout');
  assert.equal(deferralOfError(err('ETLS')), 'tls');
  assert.equal(deferralOfError(err('ESOCKET', { originalCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' })), 'tls');
  assert.equal(deferralOfError(err('ESOCKET', { originalCode: 'ERR_TLS_CERT_ALTNAME_INVALID' })), 'tls');
  assert.equal(deferralOfError(err('EAUTH')), 'auth');
  assert.equal(deferralOfError(err('EDNS')), 'dns');
  assert.equal(deferralOfError(new Error('wrapped', { cause: err('ESOCKET', { originalCode: 'CERT_HAS_EXPIRED' }) })), 'tls');
  assert.equal(deferralOfError('not an error'), 'connection');
  const d = deferredByError('a@x', 'dns', 'MX lookup for x: ESERVFAIL');
  assert.deepEqual(d, { address: 'a@x', status: 'deferred', reply: '451 4.4.3 MX lookup for x: ESERVFAIL', deferral: 'dns' });
});

test('replies are kept on one line and bounded, in linear time on hostile input', () => {
  assert.equal(oneLine('550-5.1.1 first\n550-5.1.1 second\r\n550 5.1.1 third'), '550-5.1.1 first 550-5.1.1 second 550 5.1.1 third');
  assert.equal(oneLine('250 ok\x00\x1b[31m'), '250 ok [31m');
  const huge = `451 ${'x '.repeat(2_000_000)}`;
  const started = process.hrtime.bigint();
  const line = oneLine(huge);
  assert.ok(line.length <= MAX_REPLY_LENGTH);
  assert.equal(deferralOfReply(`451 4.7.1 ${'a'.repeat(1_000_000)}`, 'RCPT'), 'remote-4xx');
  assert.equal(deferralOfReply(`451 4.7.1 ${'try '.repeat(250_000)}`, 'RCPT'), 'remote-4xx');
  assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 2000, 'bounded work');
});
