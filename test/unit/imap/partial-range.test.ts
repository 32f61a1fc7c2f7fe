// The PARTIAL range of RFC 9394 4 (shared by SEARCH, SORT and UID FETCH).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPartialRange, parsePartialRange, partialSlice } from '../../../src/protocol/imap/partial-range.js';
import { ImapParseError, type Arg } from '../../../src/protocol/imap/parser.js';

const atom = (value: string): Arg => ({ type: 'atom', value });

test('ranges from the first and from the last; either order of the ends', () => {
  assert.deepEqual(parsePartialRange(atom('1:100')), [1, 100]);
  assert.deepEqual(parsePartialRange(atom('500:400')), [400, 500]);
  assert.deepEqual(parsePartialRange(atom('-1:-100')), [-1, -100]);
  assert.deepEqual(parsePartialRange(atom('-500:-400')), [-400, -500]);
  assert.deepEqual(parsePartialRange(atom('4294967295:1')), [1, 4294967295]);
  assert.equal(formatPartialRange([-1, -100]), '-1:-100');
  assert.equal(formatPartialRange([400, 500]), '400:500');
});

test('hostile and malformed ranges are a parse error (BAD)', () => {
  const bad = ['0:5', '1:0', '-0:-1', '1:*', '*:1', '-1:5', '1:-5', '5', '-5', '1:4294967296', '99999999999:1', '1:2:3', '1,2', ':', '', '1:' + '9'.repeat(10_000), '--1:--2', '+1:+2'];
  for (const v of bad) assert.throws(() => parsePartialRange(atom(v)), ImapParseError, v);
  assert.throws(() => parsePartialRange(undefined), ImapParseError);
  assert.throws(() => parsePartialRange({ type: 'string', value: Buffer.from('1:5'), literal: false }), ImapParseError);
  assert.throws(() => parsePartialRange({ type: 'list', items: [] }), ImapParseError);
});

test('slices: the RFC 9394 3.1 pages, ranges beyond the results, and from the end', () => {
  const r = [10, 20, 30, 40, 50];
  assert.deepEqual(partialSlice(r, [1, 2]), [10, 20]);
  assert.deepEqual(partialSlice(r, [4, 500]), [40, 50]);
  assert.deepEqual(partialSlice(r, [6, 10]), []);
  assert.deepEqual(partialSlice(r, [-1, -1]), [50]);
  assert.deepEqual(partialSlice(r, [-1, -2]), [40, 50]);
  assert.deepEqual(partialSlice(r, [-4, -100]), [10, 20]);
  assert.deepEqual(partialSlice(r, [-6, -9]), []);
  assert.deepEqual(partialSlice(r, [1, 4294967295]), r);
  assert.deepEqual(partialSlice(r, [-1, -4294967295]), r);
  assert.deepEqual(partialSlice([], [-1, -3]), []);
});
