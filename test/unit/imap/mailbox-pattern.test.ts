// LIST patterns without a backtracking RegExp: the same answers as the
// RegExp they replace, and no blow-up on many wildcards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMailboxPattern } from '../../../src/protocol/imap/mailbox-pattern.js';
import { prng } from '../../support/prng.js';

/** The RegExp LIST used before: the reference for small inputs. */
function reference(pattern: string): RegExp {
  let re = '';
  for (const ch of pattern) {
    if (ch === '*') re += '.*';
    else if (ch === '%') re += '[^/]*';
    else re += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  if (/^inbox/i.test(pattern)) re = '(?:INBOX|inbox|Inbox)' + re.slice(5);
  return new RegExp(`^${re}$`);
}

test('answers as the RegExp did, on random small patterns and names', () => {
  const random = prng(20261206);
  const pick = (alphabet: string, max: number) => Array.from({ length: Math.floor(random() * (max + 1)) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
  for (let i = 0; i < 20_000; i++) {
    const pattern = pick('ab/*%', 7);
    const name = pick('ab/', 8);
    assert.equal(compileMailboxPattern(pattern)(name), reference(pattern).test(name), `pattern ${JSON.stringify(pattern)} name ${JSON.stringify(name)}`);
  }
});

test('the usual patterns', () => {
  const names = ['INBOX', 'Archive', 'Archive/2024', 'Archive/2024/Q1', 'Sent', 'Trash', 'Inbox/sub', 'ééé/ß'];
  const list = (p: string) => names.filter(compileMailboxPattern(p));
  assert.deepEqual(list('*'), names);
  assert.deepEqual(list('%'), ['INBOX', 'Archive', 'Sent', 'Trash']);
  assert.deepEqual(list('Archive/%'), ['Archive/2024']);
  assert.deepEqual(list('Archive/*'), ['Archive/2024', 'Archive/2024/Q1']);
  assert.deepEqual(list('inbox'), ['INBOX']);
  assert.deepEqual(list('INBOX/*'), ['Inbox/sub']);
  assert.deepEqual(list('*/Q%'), ['Archive/2024/Q1']);
  assert.deepEqual(list('ééé/%'), ['ééé/ß']);
  assert.deepEqual(list(''), []);
});

/** Runs fn and fails when it takes longer than the bound (generous: a loaded machine must not flake). */
function fast(label: string, fn: () => void, boundMs = 2000): void {
  const t = performance.now();
  fn();
  const took = performance.now() - t;
  assert.ok(took < boundMs, `${label} took ${took.toFixed(0)} ms`);
}

test('many wildcards against long names finish at once (the RegExp took minutes)', () => {
  const names = ['a'.repeat(255), 'a/'.repeat(127), `${'ab'.repeat(120)}c`];
  for (const pattern of ['*a'.repeat(8) + 'b', '%a'.repeat(8) + 'b', '*a%'.repeat(60) + 'b', '%'.repeat(60_000) + 'x', '*a'.repeat(30_000)]) {
    const m = compileMailboxPattern(pattern);
    fast(`pattern ${pattern.slice(0, 20)}... (${pattern.length})`, () => {
      for (let i = 0; i < 1000; i++) for (const n of names) m(n);
    });
  }
  assert.equal(compileMailboxPattern('*a'.repeat(8))('a'.repeat(255)), true);
  assert.equal(compileMailboxPattern('%a'.repeat(8) + 'b')('a'.repeat(255)), false);
});
