// The retry schedule: a few minutes first, growing to hourly, then every
// 4 hours; a warning after 4 hours, given up after 5 days; the config's
// seconds shorten it; due recipients and the entry's next attempt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SCHEDULE, dueRecipients, isDueForWarning, isExpired, nextAttemptOf, retryDelay, scheduleFromConfig } from '../../../src/outbound/schedule.js';
import type { RecipientState } from '../../../storage/ports.js';

const MIN = 60_000;

test('the default schedule: 5 min, growing to hourly, then every 4 hours; warning at 4 h, expiry at 5 days', () => {
  const delays = Array.from({ length: 12 }, (_, i) => retryDelay(i + 1) / MIN);
  assert.deepEqual(delays, [5, 10, 20, 40, 60, 60, 60, 240, 240, 240, 240, 240]);
  for (let i = 1; i < delays.length; i++) assert.ok(delays[i]! >= delays[i - 1]!, 'never shrinks');
  assert.equal(DEFAULT_SCHEDULE.warnAfterMs, 4 * 60 * MIN);
  assert.equal(DEFAULT_SCHEDULE.expireAfterMs, 5 * 24 * 60 * MIN);
  // The attempts within 5 days: enough, and not a flood.
  let t = 0;
  let n = 0;
  while (t < DEFAULT_SCHEDULE.expireAfterMs) t += retryDelay(++n);
  assert.ok(n > 20 && n < 40, `${n} attempts in 5 days`);
  assert.equal(isDueForWarning(0, 4 * 60 * MIN - 1, DEFAULT_SCHEDULE), false);
  assert.equal(isDueForWarning(0, 4 * 60 * MIN, DEFAULT_SCHEDULE), true);
  assert.equal(isExpired(0, DEFAULT_SCHEDULE.expireAfterMs - 1, DEFAULT_SCHEDULE), false);
  assert.equal(isExpired(0, DEFAULT_SCHEDULE.expireAfterMs, DEFAULT_SCHEDULE), true);
});

test('config.relay.schedule (seconds) shortens it; the last delay repeats; missing keys keep the defaults', () => {
  const s = scheduleFromConfig({ retrySeconds: [1, 2], warnAfterSeconds: 3 });
  assert.deepEqual([retryDelay(1, s), retryDelay(2, s), retryDelay(7, s)], [1000, 2000, 2000]);
  assert.equal(s.warnAfterMs, 3000);
  assert.equal(s.expireAfterMs, DEFAULT_SCHEDULE.expireAfterMs);
  assert.deepEqual(scheduleFromConfig(undefined), DEFAULT_SCHEDULE);
});

test('due recipients: open ones whose time has come (all open ones on a flush); the next attempt is the earliest open one', () => {
  const r = (address: string, status: RecipientState['status'], nextAttempt: number): RecipientState => ({ address, status, attempts: 1, reply: null, deferral: null, nextAttempt });
  const states = [r('sent@x.test', 'sent', 0), r('failed@x.test', 'failed', 0), r('due@x.test', 'deferred', 100), r('later@x.test', 'deferred', 500), r('new@x.test', 'pending', 50)];
  assert.deepEqual(dueRecipients(states, 100, false).map((x) => x.address), ['due@x.test', 'new@x.test']);
  assert.deepEqual(dueRecipients(states, 100, true).map((x) => x.address), ['due@x.test', 'later@x.test', 'new@x.test']);
  assert.equal(nextAttemptOf(states), 50);
  assert.equal(nextAttemptOf([r('a@x.test', 'sent', 1)]), undefined);
});
