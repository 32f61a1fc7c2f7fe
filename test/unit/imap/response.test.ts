import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileResponse, compileResponses, untagged, statusResponse, formatInternalDate, parseDateTime, parseDate } from '../../../src/protocol/imap/response.js';

const wire = (r: Parameters<typeof compileResponse>[0], utf8 = false) => Buffer.concat(compileResponse(r, { utf8 })).toString('latin1');

test('values: atoms, numbers, NIL, lists, quoted strings and literals', () => {
  assert.equal(wire(untagged(3, 'FETCH', ['UID', 7, 'FLAGS', ['\\Seen'], 'X', null])), '* 3 FETCH (UID 7 FLAGS (\\Seen) X NIL)\r\n');
  assert.equal(wire(untagged('LIST', [], { str: '/' }, { str: 'a "b" \\c' })), '* LIST () "/" "a \\"b\\" \\\\c"\r\n');
  assert.equal(wire(untagged('X', { str: 'two\r\nlines' })), '* X {10}\r\ntwo\r\nlines\r\n');
  assert.equal(wire(untagged('X', { literal: Buffer.from('abc') })), '* X {3}\r\nabc\r\n');
  assert.equal(wire(untagged('X', { raw: '("a" NIL)' })), '* X ("a" NIL)\r\n');
});

test('8-bit text is a literal unless UTF8=ACCEPT is on', () => {
  assert.equal(Buffer.concat(compileResponse(untagged('X', { str: 'ä' }))).toString('utf8'), '* X {2}\r\nä\r\n');
  assert.equal(Buffer.concat(compileResponse(untagged('X', { str: 'ä' }), { utf8: true })).toString('utf8'), '* X "ä"\r\n');
});

test('status responses with codes; text cannot break the line', () => {
  assert.equal(wire(statusResponse('OK', 'done', 'READ-WRITE', 'a1')), 'a1 OK [READ-WRITE] done\r\n');
  assert.equal(wire(statusResponse('NO', 'bad\r\nx', undefined, 'a2')), 'a2 NO bad x\r\n');
  assert.equal(wire(statusResponse('BYE', 'bye')), '* BYE bye\r\n');
  assert.equal(wire({ type: 'continue', text: '' }), '+ \r\n');
});

test('date-time formats', () => {
  const t = Date.UTC(2026, 10, 3, 9, 5, 7);
  assert.equal(formatInternalDate(t), ' 3-Nov-2026 09:05:07 +0000');
  assert.equal(parseDateTime(' 3-Nov-2026 10:05:07 +0100'), t);
  assert.equal(parseDateTime('03-Nov-2026 09:05:07 +0000'), t);
  assert.equal(parseDateTime('3-Foo-2026 09:05:07 +0000'), undefined);
  assert.equal(parseDate('3-nov-2026'), Date.UTC(2026, 10, 3));
  assert.equal(parseDate('2026-11-03'), undefined);
});

test('several responses compile to the same bytes as one by one, in one buffer up to each literal', () => {
  const responses = [
    untagged(1, 'FETCH', ['FLAGS', ['\\Seen'], 'ENVELOPE', { raw: '("d" "s\xe9")' }]),
    untagged(2, 'FETCH', ['BODY[]', { literal: Buffer.from('a\r\nb') }]),
    untagged(3, 'FETCH', ['ENVELOPE', { raw: '(NIL)', ascii: true }]),
    statusResponse('OK', 'FETCH completed', undefined, 't1'),
  ];
  const together = compileResponses(responses);
  const apart = Buffer.concat(responses.flatMap((r) => compileResponse(r)));
  assert.deepEqual(Buffer.concat(together), apart);
  assert.equal(apart.toString('latin1'), '* 1 FETCH (FLAGS (\\Seen) ENVELOPE ("d" "s\xe9"))\r\n* 2 FETCH (BODY[] {4}\r\na\r\nb)\r\n* 3 FETCH (ENVELOPE (NIL))\r\nt1 OK FETCH completed\r\n');
  // The 8-bit raw value goes as its own latin1 buffer; the literal as its own; the text around them in one each.
  assert.equal(together.length, 5);
  assert.equal(compileResponses(responses.slice(2)).length, 1);
});
