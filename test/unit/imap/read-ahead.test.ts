// inOrder: message reads kept in flight for a FETCH or SEARCH, results used
// in the messages' order, bounded in count and bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inOrder, inOrderChunks } from '../../../src/protocol/imap/read-ahead.js';

/** A read that finishes after `ms`, noting how many were in flight. */
function reads() {
  let inFlight = 0;
  let most = 0;
  const fn = (n: number) => {
    inFlight++;
    most = Math.max(most, inFlight);
    return new Promise<number>((resolve) => setTimeout(() => {
      inFlight--;
      resolve(n * 10);
    }, (n * 7) % 5));
  };
  return { fn, most: () => most };
}

test('results come in the items\' order whatever order the reads finish in, at most `width` at once', async () => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  const r = reads();
  const out: number[] = [];
  for await (const v of inOrder(items, r.fn, () => 0, 8)) out.push(v);
  assert.deepEqual(out, items.map((n) => n * 10));
  assert.ok(r.most() <= 8 && r.most() >= 4, `in flight at most: ${r.most()}`);
});

test('the bytes in flight stay under the bound, but one item always goes', async () => {
  const r = reads();
  const out: number[] = [];
  for await (const v of inOrder([1, 2, 3, 4, 5, 6], r.fn, () => 100, 64, 250)) out.push(v);
  assert.deepEqual(out, [10, 20, 30, 40, 50, 60]);
  assert.ok(r.most() <= 2, `in flight at most: ${r.most()}`);
  const big: number[] = [];
  for await (const v of inOrder([1, 2], reads().fn, () => 1000, 64, 250)) big.push(v);
  assert.deepEqual(big, [10, 20]);
});

test('a failed read is thrown at its turn, after the results before it; the others settle unhandled-free', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const out: number[] = [];
    const fn = (n: number) => (n === 3 || n === 5 ? Promise.reject(new Error(`read ${n}`)) : Promise.resolve(n));
    await assert.rejects(async () => {
      for await (const v of inOrder([1, 2, 3, 4, 5, 6], fn)) out.push(v);
    }, /read 3/);
    assert.deepEqual(out, [1, 2]);
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('inOrderChunks: the results a chunk at a time, in order, each settled; at most two chunks in flight', async () => {
  const items = Array.from({ length: 21 }, (_, i) => i);
  const r = reads();
  const chunks: number[][] = [];
  const fn = (n: number) => (n === 9 ? Promise.reject(new Error('nine')) : r.fn(n));
  for await (const chunk of inOrderChunks(items, fn, () => 0, 8)) {
    chunks.push(chunk.map((s) => (s.ok ? s.value : -1)));
  }
  assert.deepEqual(chunks.flat(), items.map((n) => (n === 9 ? -1 : n * 10)));
  assert.ok(chunks.every((c) => c.length <= 4), JSON.stringify(chunks));
  assert.ok(r.most() <= 8, `in flight at most: ${r.most()}`);
});
