import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tasksToRetryLocally, type TaskResult } from '../../../src/delivery/partial-delivery.js';

const ok: TaskResult = { kind: 'ok' };
const temp: TaskResult = { kind: 'tempfail', why: 'over-quota' };
const no: TaskResult = { kind: 'reject', why: 'no-such-user' };
const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);

test('one answer for the message: once anything succeeded, every temporary failure is kept; otherwise none', () => {
  // Two recipients, one task each: the first stored, the second failed.
  assert.deepEqual(sorted(tasksToRetryLocally([[0], [1]], [ok, temp], 'message')), [1]);
  // Nothing stored: the sender retries everything, nothing is kept.
  assert.deepEqual(sorted(tasksToRetryLocally([[0], [1]], [temp, temp], 'message')), []);
  // A refusal is not a success: still nothing stored.
  assert.deepEqual(sorted(tasksToRetryLocally([[0], [1]], [no, temp], 'message')), []);
  // An alias (tasks 0, 1) beside a plain recipient (task 2).
  assert.deepEqual(sorted(tasksToRetryLocally([[0, 1], [2]], [ok, temp, temp], 'message')), [1, 2]);
});

test('an answer per recipient: only recipients with a part stored keep their failures, spread over shared tasks', () => {
  // Separate recipients: the failed one is answered "try again" (LMTP), nothing kept.
  assert.deepEqual(sorted(tasksToRetryLocally([[0], [1]], [ok, temp], 'recipient')), []);
  // An alias half stored: its failed half is kept.
  assert.deepEqual(sorted(tasksToRetryLocally([[0, 1]], [ok, temp], 'recipient')), [1]);
  // A second recipient whose only task is the kept one (same account) must not be retried by the sender...
  // ...nor one that shares it and has another failure of its own (its retry would repeat the kept task).
  assert.deepEqual(sorted(tasksToRetryLocally([[0, 1], [1], [1, 2], [3]], [ok, temp, temp, temp], 'recipient')), [1, 2]);
  // Chains: recipient 0 keeps 1; recipient 1 shares 1 and brings 2; recipient 2 shares 2 and brings 3.
  assert.deepEqual(sorted(tasksToRetryLocally([[0, 1], [1, 2], [2, 3]], [ok, temp, temp, temp], 'recipient')), [1, 2, 3]);
});
