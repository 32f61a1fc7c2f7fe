// Unit tests of the open-boundary set (mime/boundaries.ts): which
// open boundary a "--" line belongs to, and forgetting boundaries.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundaryStack } from '../../../mime/boundaries.js';

/** Matches a whole line (without "--" and line end) the way the parser does. */
function lineMatch(stack: BoundaryStack<string>, line: string): string | null {
  const buf = Buffer.from('--' + line + '\r\n', 'latin1');
  const findSize = line.length;
  const trailingDashes = findSize > 2 && line.endsWith('--');
  const b = stack.match(buf, 2, buf.length, findSize, trailingDashes);
  return b === null ? null : `${b.part}${b.epilogue ? ' end' : ''}`;
}

function stackOf(...names: string[]): BoundaryStack<string> {
  const s = new BoundaryStack<string>();
  for (const n of names) s.push(n, Buffer.from(n, 'latin1'));
  return s;
}

test('a boundary matches as a prefix of the line; "--" right after it closes', () => {
  const s = stackOf('abc');
  assert.equal(lineMatch(s, 'abc'), 'abc');
  assert.equal(lineMatch(s, 'abc  \t'), 'abc');
  assert.equal(lineMatch(s, 'abcdef'), 'abc');
  assert.equal(lineMatch(s, 'abc--'), 'abc end');
  assert.equal(lineMatch(s, 'abc-- '), 'abc end');
  assert.equal(lineMatch(s, 'ab'), null);
  assert.equal(lineMatch(s, 'xabc'), null);
});

test('the longest matching boundary wins, whichever is newer', () => {
  assert.equal(lineMatch(stackOf('abc', 'abcdef'), 'abcdef'), 'abcdef');
  assert.equal(lineMatch(stackOf('abcdef', 'abc'), 'abcdef'), 'abcdef');
  assert.equal(lineMatch(stackOf('abcdef', 'abc'), 'abcde'), 'abc');
  assert.equal(lineMatch(stackOf('abcd-', 'ab'), 'abcd--'), 'abcd-');
});

test('"--foo--": the newest boundary equal to the line, or to it without "--", ends the search', () => {
  // inner "ab" is newer and equals the line without "--": it is closed
  assert.equal(lineMatch(stackOf('ab--', 'ab'), 'ab--'), 'ab end');
  // inner "ab--" is newer and equals the line: its delimiter
  assert.equal(lineMatch(stackOf('ab', 'ab--'), 'ab--'), 'ab--');
  // a boundary ending in "--" alone
  assert.equal(lineMatch(stackOf('__--__--'), '__--__--'), '__--__--');
  assert.equal(lineMatch(stackOf('__--__--'), '__--__----'), '__--__-- end');
  // "ab-" is a prefix of "ab--" (not equal to "ab"): a delimiter
  assert.equal(lineMatch(stackOf('ab-'), 'ab--'), 'ab-');
});

test('an empty boundary matches every "--" line', () => {
  const s = stackOf('');
  assert.equal(lineMatch(s, ''), '');
  assert.equal(lineMatch(s, 'anything'), '');
  assert.equal(lineMatch(s, '--'), ' end');
});

test('popTo forgets newer boundaries, and the given one unless kept; duplicates stay apart', () => {
  const s = new BoundaryStack<string>();
  s.push('outer', Buffer.from('same'));
  s.push('middle', Buffer.from('other'));
  s.push('inner', Buffer.from('same'));
  const inner = s.match(Buffer.from('--same\r\n'), 2, 8, 4, false)!;
  assert.equal(inner.part, 'inner');
  s.popTo(inner, true);
  assert.equal(s.size, 3);
  s.popTo(inner, false);
  assert.equal(s.size, 2);
  assert.equal(s.top()?.part, 'middle');
  // the outer "same" is still found after the inner one is gone
  const outer = s.match(Buffer.from('--same--\r\n'), 2, 10, 6, true)!;
  assert.deepEqual([outer.part, outer.epilogue], ['outer', true]);
  s.popTo(outer, false);
  assert.equal(s.size, 0);
  assert.equal(s.match(Buffer.from('--same\r\n'), 2, 8, 4, false), null);
  // and a boundary pushed again after that is found
  s.push('again', Buffer.from('same'));
  assert.equal(s.match(Buffer.from('--same\r\n'), 2, 8, 4, false)?.part, 'again');
});

test('lookup work does not grow with the number of open boundaries', () => {
  // 99 boundaries sharing 78 bytes; a line sharing them too finds none
  const s = new BoundaryStack<number>();
  const q = 'Q'.repeat(78);
  for (let i = 0; i < 99; i++) s.push(i, Buffer.from(q + String(i).padStart(2, '0')));
  const line = Buffer.from(`--${q}XX\r\n`);
  const before = process.cpuUsage();
  for (let i = 0; i < 100_000; i++) assert.equal(s.match(line, 2, line.length, 80, false), null);
  const used = process.cpuUsage(before);
  // about 0.1 s here; comparing with each boundary would be about 99 times more
  assert.ok(used.user + used.system < 3_000_000, `${(used.user + used.system) / 1000} ms`);
});
