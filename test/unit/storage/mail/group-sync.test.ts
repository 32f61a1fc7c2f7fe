// GroupSync: one round of fsyncs at a time; requests made while it runs share
// the next round, which begins only after them; nobody is told "durable"
// before a round that began after their request has finished.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupSync } from '../../../../storage/mail/group-sync.js';

/** An injected fsync: records each round's paths and finishes it when the test says. */
function heldSync() {
  const rounds: Array<{ dirs: string[]; finish: (err?: Error) => void }> = [];
  const sync = (dirs: string[]) =>
    new Promise<void>((resolve, reject) => rounds.push({ dirs: [...dirs].sort(), finish: (err) => (err ? reject(err) : resolve()) }));
  return { rounds, sync };
}

const tick = () => new Promise((r) => setImmediate(r));

test('a request alone is synced at once, and told only when its round has finished', async () => {
  const { rounds, sync } = heldSync();
  const g = new GroupSync(sync);
  let told = false;
  const p = g.sync(['/m/a/cur']).then(() => (told = true));
  assert.equal(rounds.length, 1);
  assert.deepEqual(rounds[0]!.dirs, ['/m/a/cur']);
  await tick();
  assert.equal(told, false);
  rounds[0]!.finish();
  await p;
  assert.equal(told, true);
});

test('requests made while a round runs share the next one, begun only after that round', async () => {
  const { rounds, sync } = heldSync();
  const g = new GroupSync(sync);
  const order: string[] = [];
  const first = g.sync(['/m/a/new']).then(() => order.push('first'));
  // Seven more commits while the first round's fsyncs run.
  const later = Array.from({ length: 7 }, (_, i) => g.sync([`/m/${i % 2 ? 'a' : 'b'}/cur`]).then(() => order.push(`later${i}`)));
  assert.equal(rounds.length, 1, 'no second round while one runs');
  await tick();
  assert.deepEqual(order, []);
  rounds[0]!.finish();
  await first;
  await tick();
  // The second round covers all seven and every directory they touched, once.
  assert.equal(rounds.length, 2);
  assert.deepEqual(rounds[1]!.dirs, ['/m/a/cur', '/m/b/cur']);
  assert.deepEqual(order, ['first'], 'the later ones wait for their own round');
  rounds[1]!.finish();
  await Promise.all(later);
  assert.equal(order.length, 8);
  assert.equal(g.rounds, 2);
  assert.equal(g.busy, false);
});

test('a failed round fails every request in it, and the next round still runs', async () => {
  const { rounds, sync } = heldSync();
  const g = new GroupSync(sync);
  const a = g.sync(['/m/a/cur']);
  const b = g.sync(['/m/a/cur']);
  const c = g.sync(['/m/c/cur']);
  rounds[0]!.finish(new Error('EIO'));
  await assert.rejects(a, /EIO/);
  await tick();
  assert.equal(rounds.length, 2);
  rounds[1]!.finish(new Error('EIO again'));
  await assert.rejects(b, /EIO again/);
  await assert.rejects(c, /EIO again/);
  // A sync function that throws at once is a failed round, not a crash.
  const throwing = new GroupSync(() => {
    throw new Error('no thread');
  });
  await assert.rejects(throwing.sync(['/x']), /no thread/);
  assert.equal(throwing.busy, false);
});

test('with parallel rounds, requests start at once while fewer run, and gather only when all are busy', async () => {
  const { rounds, sync } = heldSync();
  const g = new GroupSync(sync, 2);
  const a = g.sync(['/a']);
  const b = g.sync(['/b']);
  const c = g.sync(['/c']);
  const d = g.sync(['/d']);
  assert.deepEqual(rounds.map((r) => r.dirs), [['/a'], ['/b']]);
  rounds[1]!.finish();
  await b;
  await tick();
  // c and d waited together for a free place, and share it.
  assert.deepEqual(rounds.map((r) => r.dirs), [['/a'], ['/b'], ['/c', '/d']]);
  rounds[0]!.finish();
  rounds[2]!.finish();
  await Promise.all([a, c, d]);
  assert.equal(g.busy, false);
});
