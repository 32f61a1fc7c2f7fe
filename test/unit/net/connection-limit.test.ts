import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionLimit } from '../../../src/net/connection-limit.js';

test('a connection cap counts in up to its maximum and out again', () => {
  const limit = new ConnectionLimit(2);
  assert.equal(limit.tryOpen(), true);
  assert.equal(limit.tryOpen(), true);
  assert.equal(limit.tryOpen(), false);
  assert.equal(limit.count, 2);
  limit.close();
  assert.equal(limit.tryOpen(), true);
  limit.close();
  limit.close();
  limit.close();
  assert.equal(limit.count, 0, 'never below zero');
});
