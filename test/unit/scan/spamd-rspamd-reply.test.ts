// The spamd and rspamd reply parsers: the replies the daemons give, and
// replies that are broken, hostile or huge (an `unscanned` verdict, never a throw).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpamdReply } from '../../../src/scan/spamd.js';
import { parseRspamdReply } from '../../../src/scan/rspamd.js';
import { spamHeaders } from '../../../src/scan/spam.js';

test('spamd SYMBOLS reply: score, required and rule names', () => {
  const v = parseSpamdReply(Buffer.from('SPAMD/1.1 0 EX_OK\r\nContent-length: 34\r\nSpam: True ; 1002.3 / 5.0\r\n\r\nGTUBE,MISSING_DATE,NO_RECEIVED'));
  assert.deepEqual(v, { kind: 'score', score: 1002.3, required: 5, tests: [{ name: 'GTUBE', score: 0 }, { name: 'MISSING_DATE', score: 0 }, { name: 'NO_RECEIVED', score: 0 }] });
  assert.deepEqual(parseSpamdReply(Buffer.from('SPAMD/1.1 0 EX_OK\r\nSpam: False ; -0.1 / 5.0\r\n\r\n')), { kind: 'score', score: -0.1, required: 5, tests: [] });
});

test('spamd errors and broken replies are unscanned', () => {
  assert.deepEqual(parseSpamdReply(Buffer.from('SPAMD/1.0 76 Bad header line: x\r\n')), { kind: 'unscanned', reason: 'spamd: Bad' });
  assert.equal(parseSpamdReply(Buffer.from('')).kind, 'unscanned');
  assert.equal(parseSpamdReply(Buffer.from('SPAMD/1.1 0 EX_OK\r\n\r\n')).kind, 'unscanned');
  assert.equal(parseSpamdReply(Buffer.from(`SPAMD/1.1 0 EX_OK\r\nSpam: True ; ${'9'.repeat(100_000)} / 5\r\n\r\n`)).kind, 'unscanned');
  const many = parseSpamdReply(Buffer.from(`SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\n\r\n${'A,'.repeat(30_000)}${'B'.repeat(100)},<script>`));
  assert.equal(many.kind === 'score' && many.tests.length, 200);
});

test('rspamd /checkv2 JSON: score, action and symbols by weight', () => {
  const v = parseRspamdReply(JSON.stringify({ is_skipped: false, score: 16.5, required_score: 15, action: 'reject', symbols: { GTUBE: { name: 'GTUBE', score: 0, description: 'GTUBE test' }, MISSING_DATE: { name: 'MISSING_DATE', score: 1 } } }));
  assert.deepEqual(v, { kind: 'score', score: 16.5, required: 15, action: 'reject', tests: [{ name: 'MISSING_DATE', score: 1 }, { name: 'GTUBE', score: 0, description: 'GTUBE test' }] });
  assert.equal((parseRspamdReply('{"score":1,"action":"something new"}') as { action?: string }).action, undefined);
  assert.deepEqual(parseRspamdReply('{"error":"bad request"}'), { kind: 'unscanned', reason: 'rspamd: bad request' });
  assert.equal(parseRspamdReply('not json').kind, 'unscanned');
  assert.equal(parseRspamdReply('[1]').kind, 'unscanned');
  assert.equal(parseRspamdReply('{"score":"1"}').kind, 'unscanned');
});

test('the X-Spam fields: one line each, tests= bounded under the line limit', () => {
  assert.deepEqual(spamHeaders(6.04, 5, [{ name: 'A', score: 3 }, { name: 'B', score: 3 }], true), ['X-Spam-Score: 6.0', 'X-Spam-Status: Yes, score=6.0 required=5.0 tests=A,B', 'X-Spam-Flag: YES']);
  assert.deepEqual(spamHeaders(-0.5, 5, [], false), ['X-Spam-Score: -0.5', 'X-Spam-Status: No, score=-0.5 required=5.0 tests=none']);
  const long = spamHeaders(1, 5, Array.from({ length: 200 }, (_, i) => ({ name: `RULE_NUMBER_${i}`, score: 0 })), false);
  assert.ok(long[1]!.length < 998);
  assert.match(long[1]!, /,\.\.\.$/);
});
