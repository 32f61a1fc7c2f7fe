// The spamd and rspamd reply parsers: the replies the daemons give, and
// replies that are broken, hostile or huge (an `unscanned` verdict, never a throw).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpamdReply, parseSpamdReport as parseSpamdReportOf } from '../../../src/scan/spamd.js';
import { parseRspamdReply } from '../../../src/scan/rspamd.js';
import { spamHeaders } from '../../../src/scan/spam.js';

const REPORT = [
  'Spam detection software, running on the system "mx.example.test",',
  'has identified this incoming email as possible spam.',
  '',
  'Content analysis details:   (1002.3 points, 5.0 required)',
  '',
  ' pts rule name              description',
  '---- ---------------------- --------------------------------------------------',
  '1000 GTUBE                  BODY: Generic Test for Unsolicited Bulk Email',
  ' 1.4 MISSING_DATE           Missing Date: header',
  '-0.0 NO_RELAYS              Informational: message was not relayed via SMTP',
  '                            1.0 NOT_A_RULE wrapped description line',
  ' 0.9 NO_RECEIVED            Informational: message has no Received headers',
  '',
].join('\r\n');

test('spamd REPORT reply: score, required, and each rule with its points', () => {
  const v = parseSpamdReply(Buffer.from(`SPAMD/1.1 0 EX_OK\r\nContent-length: ${REPORT.length}\r\nSpam: True ; 1002.3 / 5.0\r\n\r\n${REPORT}`));
  assert.deepEqual(v, {
    kind: 'score',
    score: 1002.3,
    required: 5,
    tests: [{ name: 'GTUBE', score: 1000 }, { name: 'MISSING_DATE', score: 1.4 }, { name: 'NO_RELAYS', score: -0 }, { name: 'NO_RECEIVED', score: 0.9 }],
  });
  assert.deepEqual(parseSpamdReply(Buffer.from('SPAMD/1.1 0 EX_OK\r\nSpam: False ; -0.1 / 5.0\r\n\r\n')), { kind: 'score', score: -0.1, required: 5, tests: [] });
  // LF-only line ends read the same.
  const lf = parseSpamdReportOf(REPORT.replace(/\r\n/g, '\n'));
  assert.deepEqual(lf.map((t) => t.name), ['GTUBE', 'MISSING_DATE', 'NO_RELAYS', 'NO_RECEIVED']);
});

test('spamd REPORT hostile: no table, huge lines, endless rows, pathological spacing: bounded, linear, never a throw', () => {
  assert.deepEqual(parseSpamdReportOf('no table here\r\n1000 GTUBE x\r\n'), [], 'rows count only under the ---- line');
  const rule = '---- ----------------------\n';
  assert.deepEqual(parseSpamdReportOf(`${rule}${' '.repeat(200_000)}1 LATE x\n`), [], 'a row past the line bound');
  assert.deepEqual(parseSpamdReportOf(`${rule}1 ${'A'.repeat(65)} x\n2 <script> x\n3 OK\n`).map((t) => t.name), ['OK'], 'names are short tokens');
  const rows = parseSpamdReportOf(rule + '1.5 RULE_X description\n'.repeat(50_000));
  assert.equal(rows.length, 200);
  const started = performance.now();
  parseSpamdReportOf(rule + `${'9'.repeat(60_000)} ${'-1.'.repeat(20_000)}\n` + ` ${'1 '.repeat(30_000)}\n`.repeat(3));
  parseSpamdReply(Buffer.from(`SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\n\r\n${rule}${'0 A '.repeat(16_000)}`));
  assert.ok(performance.now() - started < 2_000, 'no backtracking blow-up');
});

test('spamd errors and broken replies are unscanned', () => {
  assert.deepEqual(parseSpamdReply(Buffer.from('SPAMD/1.0 76 Bad header line: x\r\n')), { kind: 'unscanned', reason: 'spamd: Bad' });
  assert.equal(parseSpamdReply(Buffer.from('')).kind, 'unscanned');
  assert.equal(parseSpamdReply(Buffer.from('SPAMD/1.1 0 EX_OK\r\n\r\n')).kind, 'unscanned');
  assert.equal(parseSpamdReply(Buffer.from(`SPAMD/1.1 0 EX_OK\r\nSpam: True ; ${'9'.repeat(100_000)} / 5\r\n\r\n`)).kind, 'unscanned');
  const many = parseSpamdReply(Buffer.from(`SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\n\r\n---- ----------\r\n${'1 A x\r\n'.repeat(10_000)}`));
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
  assert.deepEqual(spamHeaders(6.04, 5, [{ name: 'A', score: 3 }, { name: 'B', score: 3 }], true), ['X-Spam-Score: 6.0', 'X-Spam-Status: Yes, score=6.0 required=5.0 tests=A=3,B=3', 'X-Spam-Flag: YES']);
  assert.deepEqual(spamHeaders(-0.5, 5, [], false), ['X-Spam-Score: -0.5', 'X-Spam-Status: No, score=-0.5 required=5.0 tests=none']);
  assert.match(spamHeaders(1.4, 5, [{ name: 'MISSING_DATE', score: 1.396 }, { name: 'X', score: -0.0001 }], false)[1]!, /tests=MISSING_DATE=1\.396,X=0$/);
  const long = spamHeaders(1, 5, Array.from({ length: 200 }, (_, i) => ({ name: `RULE_NUMBER_${i}`, score: 0 })), false);
  assert.ok(long[1]!.length < 998);
  assert.match(long[1]!, /,\.\.\.$/);
});
