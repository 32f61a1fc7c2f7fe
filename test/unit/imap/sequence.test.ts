import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSequenceSet, selectFromSorted, inSequenceSet, formatSequenceSet, formatUidList } from '../../../src/protocol/imap/sequence.js';
import { ImapParseError } from '../../../src/protocol/imap/parser.js';

test('parse and select: ranges, "*", reversed ranges, past-the-end', () => {
  const uids = [3, 5, 8, 13, 21];
  assert.deepEqual(selectFromSorted(parseSequenceSet('1:*'), uids), uids);
  assert.deepEqual(selectFromSorted(parseSequenceSet('*'), uids), [21]);
  assert.deepEqual(selectFromSorted(parseSequenceSet('13:5'), uids), [5, 8, 13]);
  assert.deepEqual(selectFromSorted(parseSequenceSet('4,21,100'), uids), [21]);
  assert.deepEqual(selectFromSorted(parseSequenceSet('30:*'), uids), [21], 'n:* with n past the end still names the last');
  assert.deepEqual(selectFromSorted(parseSequenceSet('1:*'), []), []);
  assert.ok(inSequenceSet(parseSequenceSet('2,4:6'), 5, 10));
  assert.ok(!inSequenceSet(parseSequenceSet('2,4:6'), 3, 10));
  assert.ok(inSequenceSet(parseSequenceSet('8:*'), 10, 10));
});

test('malformed sets are parse errors', () => {
  for (const bad of ['', '0', '1:0', 'a', '1,,2', '1:2:3', '-1', '1 2', '99999999999']) {
    assert.throws(() => parseSequenceSet(bad), ImapParseError, bad);
  }
});

test('formatting', () => {
  assert.equal(formatSequenceSet([1, 2, 3, 5, 7, 8]), '1:3,5,7:8');
  assert.equal(formatSequenceSet([5, 1, 2, 2]), '1:2,5');
  assert.equal(formatUidList([10, 11, 12, 4, 5]), '10:12,4:5');
});
