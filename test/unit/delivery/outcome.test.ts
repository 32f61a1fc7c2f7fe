// What an error met while delivering means, in the delivery's own terms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MailError } from '../../../storage/errors.js';
import { knownFailure } from '../../../src/delivery/outcome.js';

test('errors become typed failures; an unknown one is left to the caller', () => {
  const full = Object.assign(new Error('write failed'), { code: 'ENOSPC' });
  assert.deepEqual(knownFailure(new MailError('TEMPFAIL', 'x', { cause: full }), 'reject'), { kind: 'tempfail', why: 'no-space' });
  assert.deepEqual(knownFailure(new MailError('OVERQUOTA', 'x'), 'reject'), { kind: 'reject', why: 'over-quota' });
  assert.deepEqual(knownFailure(new MailError('OVERQUOTA', 'x'), 'tempfail'), { kind: 'tempfail', why: 'over-quota' });
  assert.deepEqual(knownFailure(new MailError('NONEXISTENT', 'no such user: a@x.test'), 'reject'), { kind: 'reject', why: 'no-such-user' });
  assert.deepEqual(knownFailure(new MailError('REFUSED', 'alias loop at a@x.test', { smtpCode: 554, enhanced: '5.4.6' }), 'reject'), {
    kind: 'reject',
    why: 'refused',
    code: 554,
    enhanced: '5.4.6',
    text: 'alias loop at a@x.test',
  });
  // A temporary status named by the error is still a local problem: its text may say too much.
  assert.equal(knownFailure(new MailError('TEMPFAIL', 'x', { smtpCode: 451, enhanced: '4.3.5' }), 'reject'), undefined);
  assert.equal(knownFailure(new Error('SQLITE_BUSY'), 'reject'), undefined);
});
