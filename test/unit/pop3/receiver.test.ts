// The POP3 line receiver with hostile input: lines of any length, NULs,
// bare CRs, input split at every byte; memory bounded by the limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pop3Receiver, type ReceivedLine } from '../../../src/protocol/pop3/receiver.js';
import { MAX_COMMAND_LINE } from '../../../src/protocol/pop3/limits.js';

const lines = (items: ReceivedLine[]) => items.map((i) => (i.kind === 'line' ? i.text : '<too-long>'));

test('lines end at LF, with or without CR; pipelined lines come out in order', () => {
  const r = new Pop3Receiver(MAX_COMMAND_LINE);
  assert.deepEqual(lines(r.feed(Buffer.from('USER a\r\nPASS b c\nSTAT\r\n'))), ['USER a', 'PASS b c', 'STAT']);
  assert.deepEqual(lines(r.feed(Buffer.from('\r\n'))), ['']);
});

test('input split at every byte gives the same lines', () => {
  const input = Buffer.from('USER someone@example.test\r\nPASS pass word\r\nRETR 1\r\nQUIT\r\n');
  const r = new Pop3Receiver(MAX_COMMAND_LINE);
  const out: ReceivedLine[] = [];
  for (let i = 0; i < input.length; i++) out.push(...r.feed(input.subarray(i, i + 1)));
  assert.deepEqual(lines(out), ['USER someone@example.test', 'PASS pass word', 'RETR 1', 'QUIT']);
});

test('the 255-octet limit counts the CRLF; one longer line gives one too-long and the next line is whole', () => {
  const r = new Pop3Receiver(MAX_COMMAND_LINE);
  const fits = 'N'.repeat(253);
  assert.deepEqual(lines(r.feed(Buffer.from(`${fits}\r\n`))), [fits]);
  assert.deepEqual(lines(r.feed(Buffer.from(`${fits}X\r\nNOOP\r\n`))), ['<too-long>', 'NOOP']);
});

test('a very long line without LF is skipped in bounded memory, across chunks', () => {
  const r = new Pop3Receiver(MAX_COMMAND_LINE);
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  const out: ReceivedLine[] = [];
  for (let i = 0; i < 160; i++) {
    out.push(...r.feed(chunk));
    assert.ok(r.buffered < MAX_COMMAND_LINE, 'never holds more than a line');
  }
  out.push(...r.feed(Buffer.from('tail of the long line\r\nSTAT\r\n')));
  assert.deepEqual(lines(out), ['<too-long>', 'STAT']);
});

test('NULs, bare CRs and 8-bit bytes stay in the line (the session refuses them), one char per byte', () => {
  const r = new Pop3Receiver(MAX_COMMAND_LINE);
  const out = r.feed(Buffer.from([0x55, 0x00, 0x0d, 0x53, 0xff, 0x0d, 0x0d, 0x0a]));
  assert.deepEqual(lines(out), ['U\0\rS\xff\r']);
  // A bare CR does not end a line.
  assert.deepEqual(lines(r.feed(Buffer.from('NOOP\rQUIT\r\n'))), ['NOOP\rQUIT']);
});

test('reset forgets a half line (what came before TLS)', () => {
  const r = new Pop3Receiver(MAX_COMMAND_LINE);
  assert.deepEqual(lines(r.feed(Buffer.from('STLS\r\nUSER inject'))), ['STLS']);
  r.reset();
  assert.deepEqual(lines(r.feed(Buffer.from('ed\r\nCAPA\r\n'))), ['ed', 'CAPA']);
});

test('the limit can be raised for SASL responses', () => {
  const r = new Pop3Receiver(MAX_COMMAND_LINE);
  r.maxLine = 8194;
  const b64 = 'QUFB'.repeat(1000);
  assert.deepEqual(lines(r.feed(Buffer.from(`${b64}\r\n`))), [b64]);
});

test('work is linear: a megabyte of one-byte lines and of one long line both finish quickly', () => {
  const r = new Pop3Receiver(MAX_COMMAND_LINE);
  assert.equal(r.feed(Buffer.alloc(1 << 20, 0x0a)).length, 1 << 20);
  const big = Buffer.alloc(1 << 20, 0x0d);
  for (let i = 0; i < 10; i++) r.feed(big);
  assert.ok(r.buffered < MAX_COMMAND_LINE);
});
