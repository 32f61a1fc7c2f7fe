// clamd's replies are peer data: every odd, hostile or huge answer is an
// error (never "clean"), parsed in one bounded pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPong, MAX_REPLY_BYTES, parseInstreamReply, parseVersionReply } from '../../../src/scan/clamd-reply.js';

test('the answers clamd gives', () => {
  assert.deepEqual(parseInstreamReply('stream: OK\0'), { kind: 'clean' });
  assert.deepEqual(parseInstreamReply(Buffer.from('stream: Test.EICAR.UNOFFICIAL FOUND\0')), { kind: 'infected', signature: 'Test.EICAR.UNOFFICIAL' });
  assert.deepEqual(parseInstreamReply('stream: Win.Test.EICAR_HDB-1 FOUND\0'), { kind: 'infected', signature: 'Win.Test.EICAR_HDB-1' });
  assert.deepEqual(parseInstreamReply('INSTREAM size limit exceeded. ERROR\0'), { kind: 'size-limit' });
  assert.deepEqual(parseInstreamReply('stream: Can\'t allocate memory ERROR\0'), { kind: 'error', message: "Can't allocate memory" });
  assert.equal(parseVersionReply('ClamAV 1.4.6/27000/Sun Dec  6 09:00:00 2026\0'), 'ClamAV 1.4.6/27000');
  assert.equal(parseVersionReply('ClamAV 1.4.6\0'), 'ClamAV 1.4.6');
  assert.equal(isPong('PONG\0'), true);
  // Line-mode (n-prefixed) answers end in a newline instead.
  assert.deepEqual(parseInstreamReply('stream: OK\n'), { kind: 'clean' });
});

test('hostile and broken answers are errors, never clean or infected with a forged name', () => {
  const cases: Array<string | Buffer> = [
    '',
    '\0',
    'OKAY\0',
    'stream: OK trailing\0',
    'stream: FOUND\0',
    ' FOUND\0',
    'stream: Evil\r\n250 ok FOUND\0',
    'stream: a b FOUND\0',
    `stream: ${'A'.repeat(300)} FOUND\0`,
    'UNKNOWN COMMAND\0',
    Buffer.from([0xff, 0xfe, 0x00]),
    'stream: \u00e9vil FOUND\0',
  ];
  for (const c of cases) assert.equal(parseInstreamReply(c).kind, 'error', JSON.stringify(c.toString()));
  assert.equal(parseInstreamReply('stream: OK\0 FOUND').kind, 'clean', 'only the text before the NUL counts');
  assert.equal(parseVersionReply('ClamAV\0'), undefined);
  assert.equal(parseVersionReply('Dovecot 2.3\0'), undefined);
  assert.equal(parseVersionReply('ClamAV 1.0\r\nX-Injected: yes\0'), undefined, 'no line break reaches a header');
  assert.equal(isPong('PONGPONG\0'), false);
});

test('a huge answer is refused in linear time, and a NUL-less answer is read up to the cap only', () => {
  const huge = Buffer.alloc(50_000_000, 'A');
  const started = process.hrtime.bigint();
  assert.deepEqual(parseInstreamReply(huge), { kind: 'error', message: 'reply too long' });
  assert.deepEqual(parseInstreamReply(Buffer.concat([Buffer.from('stream: '), Buffer.alloc(MAX_REPLY_BYTES, 'x'), Buffer.from(' FOUND\0')])), {
    kind: 'error',
    message: 'reply too long',
  });
  assert.equal(parseVersionReply(huge), undefined);
  // Only the first KB is ever looked at: far below a second even on a loaded machine.
  assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 1_000);
  const spaces = `stream: ${' '.repeat(MAX_REPLY_BYTES - 20)}x FOUND`;
  assert.equal(parseInstreamReply(spaces).kind, 'error');
});
