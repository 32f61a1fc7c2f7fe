// Replies as bytes: status lines, multi-line lists, and message bodies with
// dot-stuffing, CRLF normalisation and TOP's line count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileReply, crlfMessageBody, messageBody } from '../../../src/protocol/pop3/responses.js';

const text = (bufs: Buffer[]) => Buffer.concat(bufs).toString('latin1');

test('status lines never break, whatever text they carry', () => {
  assert.equal(text(compileReply({ kind: 'ok', text: 'fine' })), '+OK fine\r\n');
  assert.equal(text(compileReply({ kind: 'err', text: 'bad\r\nInjected', code: 'IN-USE' })), '-ERR [IN-USE] bad  Injected\r\n');
  assert.equal(text(compileReply({ kind: 'multi', text: '', lines: ['1 a', '.x'] })), '+OK\r\n1 a\r\n..x\r\n.\r\n');
  assert.equal(text(compileReply({ kind: 'continue', data: Buffer.alloc(0) })), '+ \r\n');
});

test('a message body: dots stuffed, bare LF made CRLF, a missing last line end added, terminator after', () => {
  const raw = Buffer.from('A: b\r\n\r\n.one\r\n..two\n.\r\nno end');
  assert.equal(text(compileReply({ kind: 'message', text: '', raw })), '+OK\r\nA: b\r\n\r\n..one\r\n...two\r\n..\r\nno end\r\n.\r\n');
});

test('CRLF messages without leading dots go out as one slice of the stored buffer', () => {
  const raw = Buffer.from('A: b\r\n\r\nline\r\nline\r\n');
  const out = messageBody(raw);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.buffer, raw.buffer);
});

test('TOP: the header, the blank line and n body lines', () => {
  const raw = Buffer.from('A: b\r\nC: d\r\n\r\n1\r\n2\n.3\r\n4\r\n');
  assert.equal(text(messageBody(raw, 0)), 'A: b\r\nC: d\r\n\r\n');
  assert.equal(text(messageBody(raw, 3)), 'A: b\r\nC: d\r\n\r\n1\r\n2\r\n..3\r\n');
  assert.equal(text(messageBody(raw, 99)), 'A: b\r\nC: d\r\n\r\n1\r\n2\r\n..3\r\n4\r\n');
  // No blank line at all: the whole message is header.
  assert.equal(text(messageBody(Buffer.from('A: b\nC: d'), 0)), 'A: b\r\nC: d\r\n');
});

test('bare CRs are left alone; an empty message is empty', () => {
  assert.equal(text(messageBody(Buffer.from('A\rB\r\n'))), 'A\rB\r\n');
  assert.equal(text(messageBody(Buffer.alloc(0))), '');
});

test('a message known to be CRLF only: the same bytes as the careful way, dots stuffed by a search for "."', () => {
  const cases = [
    'A: b\r\n\r\nline\r\n',
    '.starts with a dot\r\n\r\n.\r\n..two\r\nmid.dle . dots.\r\n.\r\n',
    'A: b.c\r\n\r\n.\r\n',
    '.',
    'no line end at the end.\r\n.x',
    '',
  ];
  for (const c of cases) {
    const raw = Buffer.from(c);
    assert.equal(text(crlfMessageBody(raw)), text(messageBody(raw)), JSON.stringify(c));
    assert.equal(text(compileReply({ kind: 'message', text: 'x', raw, crlf: true })), text(compileReply({ kind: 'message', text: 'x', raw })));
  }
  // A bare LF the index missed is sent as it is, but the line after it is still dot-stuffed (the reply cannot end early).
  assert.equal(text(crlfMessageBody(Buffer.from('bare\n.x\r\n'))), 'bare\n..x\r\n');
  // Slices of the stored buffer, not copies.
  const raw = Buffer.from('A: b\r\n\r\nline\r\n.dot\r\n');
  const out = crlfMessageBody(raw);
  assert.equal(out.length, 3);
  assert.equal(out[0]!.buffer, raw.buffer);
  assert.equal(out[2]!.buffer, raw.buffer);
});

test('a message the index says has no line starting with ".": the stored bytes whole, as the careful way gives them', () => {
  for (const c of ['A: b\r\n\r\nline. with dots.\r\n', 'A: b.c\r\n\r\nx\r\n', '']) {
    const raw = Buffer.from(c);
    const out = crlfMessageBody(raw, true);
    assert.equal(text(out), text(messageBody(raw)), JSON.stringify(c));
    assert.ok(out.every((b) => b.buffer === raw.buffer), 'not copied');
    assert.equal(text(compileReply({ kind: 'message', text: 'x', raw, crlf: true, dotFree: true })), text(compileReply({ kind: 'message', text: 'x', raw })));
  }
  // A last line without its CRLF is still mended the careful way.
  assert.equal(text(crlfMessageBody(Buffer.from('A: b\r\n\r\nend'), true)), 'A: b\r\n\r\nend\r\n');
});
