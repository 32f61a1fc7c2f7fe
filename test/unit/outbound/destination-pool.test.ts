// The per-destination session pool, with stand-in sessions: reuse after a
// working RSET, the cap on sessions at once, idle expiry, failures freeing
// their slot, and close().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DestinationPool, type PooledSession } from '../../../src/outbound/destination-pool.js';

class FakeSession implements PooledSession {
  static made = 0;
  readonly id = ++FakeSession.made;
  alive = true;
  messages = 0;
  resets = 0;
  closed = false;
  failReset = false;
  async reset(): Promise<void> {
    this.resets++;
    if (this.failReset) throw new Error('RSET: connection closed');
  }
  close(): void {
    this.closed = true;
    this.alive = false;
  }
}

function pool(max = 2, idleMs = 60_000, maxMessagesPerSession = 100) {
  return new DestinationPool<FakeSession>({ maxPerDestination: max, idleMs, maxMessagesPerSession, waitMs: 5_000 });
}

test('a released session is reused (after an RSET) for the same destination only', async () => {
  const p = pool();
  const a = await p.acquire('d1', async () => new FakeSession());
  assert.equal(a.reused, false);
  p.release('d1', a.session, true);
  const b = await p.acquire('d1', async () => new FakeSession());
  assert.equal(b.reused, true);
  assert.equal(b.session, a.session);
  assert.equal(b.session.resets, 1);
  const other = await p.acquire('d2', async () => new FakeSession());
  assert.notEqual(other.session, a.session);
  p.close();
});

test('at most maxPerDestination at once; the next sender waits for a release', async () => {
  const p = pool(2);
  const s1 = await p.acquire('d', async () => new FakeSession());
  const s2 = await p.acquire('d', async () => new FakeSession());
  let third: FakeSession | undefined;
  const waiting = p.acquire('d', async () => new FakeSession()).then((r) => (third = r.session));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(third, undefined, 'the third waits');
  assert.equal(p.openCount('d'), 2);
  p.release('d', s1.session, true);
  await waiting;
  assert.equal(third, s1.session, 'it gets the released session');
  // A session given back broken frees its slot: the waiter opens a new one.
  let fourth: FakeSession | undefined;
  const w2 = p.acquire('d', async () => new FakeSession()).then((r) => (fourth = r.session));
  p.release('d', s2.session, false);
  await w2;
  assert.ok(s2.session.closed);
  assert.ok(fourth && fourth !== s2.session && fourth !== s1.session);
  p.close();
});

test('an idle session that fails RSET is dropped and a new one opened', async () => {
  const p = pool(1);
  const a = await p.acquire('d', async () => new FakeSession());
  a.session.failReset = true;
  p.release('d', a.session, true);
  const b = await p.acquire('d', async () => new FakeSession());
  assert.equal(b.reused, false);
  assert.ok(a.session.closed);
  assert.equal(p.openCount('d'), 1);
  p.close();
});

test('idle sessions close after idleMs; worn-out sessions are not kept', async () => {
  const p = pool(2, 30, 3);
  const a = await p.acquire('d', async () => new FakeSession());
  p.release('d', a.session, true);
  await new Promise((r) => setTimeout(r, 80));
  assert.ok(a.session.closed, 'closed when idle too long');
  assert.equal(p.openCount('d'), 0);
  const b = await p.acquire('d', async () => new FakeSession());
  b.session.messages = 3;
  p.release('d', b.session, true);
  assert.ok(b.session.closed, 'closed after maxMessagesPerSession');
  p.close();
});

test('a failed open frees its slot; close() fails waiters and closes idle sessions', async () => {
  const p = pool(1);
  await assert.rejects(p.acquire('d', async () => Promise.reject(new Error('ECONNREFUSED'))), /ECONNREFUSED/);
  assert.equal(p.openCount('d'), 0);
  const a = await p.acquire('d', async () => new FakeSession());
  const waiting = p.acquire('d', async () => new FakeSession());
  p.close();
  await assert.rejects(waiting, /closed/);
  p.release('d', a.session, true);
  assert.ok(a.session.closed, 'a session released after close() is closed');
});
