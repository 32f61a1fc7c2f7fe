// The event loop thread's own clocks (for the budget of its reads): on Linux
// they move with this thread's work, not with the wall clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { threadTimes } from '../../../../storage/maildir/thread-clock.js';

test('ran time grows with work on this thread; sleeping adds none of it', { skip: !existsSync('/proc/thread-self/schedstat') }, async () => {
  const t0 = threadTimes();
  assert.ok(t0 && Number.isSafeInteger(t0.ranNs) && Number.isSafeInteger(t0.waitedNs));
  // About 30 ms of work.
  const until = performance.now() + 30;
  let x = 0;
  while (performance.now() < until) x++;
  assert.ok(x > 0);
  const t1 = threadTimes()!;
  assert.ok(t1.ranNs > t0.ranNs, 'ran time grew');
  // 300 ms asleep: ran time grows by far less (generous: a loaded machine).
  await new Promise((resolve) => setTimeout(resolve, 300));
  const t2 = threadTimes()!;
  assert.ok(t2.ranNs - t1.ranNs < 150e6, `ran ${(t2.ranNs - t1.ranNs) / 1e6} ms while asleep`);
  assert.ok(t2.waitedNs >= t1.waitedNs);
});
