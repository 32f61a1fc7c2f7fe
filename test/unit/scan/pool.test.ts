// The scanner pool: at most N at once, the rest wait until their own time
// is up, then 'busy'; a bounded waiting line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScanPool } from '../../../src/scan/pool.js';

const later = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));

test('two slots: the third waits and gets the first freed slot', async () => {
  const pool = new ScanPool(2);
  let running = 0;
  let most = 0;
  const task = (v: number) => async () => {
    running++;
    most = Math.max(most, running);
    await later(50, 0);
    running--;
    return v;
  };
  const results = await Promise.all([1, 2, 3, 4].map((v) => pool.run(Date.now() + 10_000, task(v))));
  assert.deepEqual(results, [1, 2, 3, 4]);
  assert.equal(most, 2);
  assert.equal(pool.inUse, 0);
});

test('a waiter whose time runs out gets busy and leaves the line; a full line answers busy at once', async () => {
  const pool = new ScanPool(1, 1);
  const holder = pool.run(Date.now() + 10_000, () => later(300, 'held'));
  const waiter = pool.run(Date.now() + 50, () => Promise.resolve('never'));
  assert.equal(await pool.run(Date.now() + 10_000, () => Promise.resolve('never')), 'busy', 'the line (1) is full');
  assert.equal(await waiter, 'busy');
  assert.equal(pool.queued, 0);
  assert.equal(await holder, 'held');
  assert.equal(await pool.run(Date.now() + 10, () => Promise.resolve('free again')), 'free again');
});

test('a task that throws frees its slot', async () => {
  const pool = new ScanPool(1);
  await assert.rejects(pool.run(Date.now() + 1_000, () => Promise.reject(new Error('boom'))));
  assert.equal(await pool.run(Date.now() + 10, () => Promise.resolve('ok')), 'ok');
});
