// The outbound queue beyond enqueue/list/remove: per-recipient state kept
// across updates, holds, flushes of one entry, an entry deleted while its
// state is being written, and entries enqueued inside a unit of work
// (there when it commits, never when it is undone, a nested unit's own
// undone alone).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recipientStates, type QueueEntry } from '../../storage/queue.js';
import { failsWith, msg, type Fixture } from './suite.js';

export function queueCases(fx: Fixture): void {
  test('queue: per-recipient state, the SMTP id and the warned flag survive an update; recipients stay as made', async () => {
    const { queue } = fx.s;
    const e = await queue.enqueue('alice@example.test', ['a@remote.test', 'b@remote.test'], msg('q1'), 'submission', { smtpId: 'A1B2C3D4E5F6' });
    assert.equal(e.smtpId, 'A1B2C3D4E5F6');
    assert.deepEqual(
      recipientStates(e).map((r) => [r.address, r.status, r.attempts, r.reply, r.deferral]),
      [
        ['a@remote.test', 'pending', 0, null, null],
        ['b@remote.test', 'pending', 0, null, null],
      ],
    );
    const states = recipientStates(e).map((r) => ({ ...r }));
    states[0] = { ...states[0]!, status: 'sent', attempts: 1, reply: '250 ok', destination: 'mx.remote.test[192.0.2.1]:25' };
    states[1] = { ...states[1]!, status: 'deferred', attempts: 1, reply: '451 4.7.1 greylisted', deferral: 'greylist', nextAttempt: 1234 };
    await queue.update({ ...e, states, warned: true, attempts: 1, nextAttempt: 1234 });
    const got = (await queue.get(e.id))!;
    assert.deepEqual(got.states, states);
    assert.equal(got.warned, true);
    assert.deepEqual(got.recipients, ['a@remote.test', 'b@remote.test']);
    assert.deepEqual((await queue.list())[0]!.states, states);
  });

  test('queue: hold and release (listed with held), unknown ids refused; a removed entry cannot be updated back', async () => {
    const { queue } = fx.s;
    const e = await queue.enqueue('alice@example.test', ['a@remote.test'], msg('q2'), 'submission');
    await queue.hold(e.id);
    assert.equal((await queue.get(e.id))!.held, true);
    assert.deepEqual(await queue.listIds(), [{ id: e.id, held: true }]);
    assert.equal((await queue.list())[0]!.held, true);
    await queue.update({ ...(await queue.get(e.id))!, attempts: 3 });
    assert.equal((await queue.get(e.id))!.held, true, 'an update does not release');
    await queue.release(e.id);
    assert.equal((await queue.get(e.id))!.held, undefined);
    assert.deepEqual(await queue.listIds(), [{ id: e.id, held: false }]);
    await failsWith('NONEXISTENT', () => queue.hold('NOSUCHID'));
    await failsWith('NONEXISTENT', () => queue.release('NOSUCHID'));
    await failsWith('NONEXISTENT', () => queue.requestFlush('NOSUCHID'));
    await queue.remove(e.id);
    await failsWith('NONEXISTENT', () => queue.update({ ...e, attempts: 9 }));
    assert.deepEqual(await queue.list(), [], 'not brought back');
  });

  test('queue: a flush of one entry is taken once, apart from a flush of all', async () => {
    const { queue } = fx.s;
    const a = await queue.enqueue('alice@example.test', ['a@remote.test'], msg('q3'), 'submission');
    await queue.requestFlush(a.id);
    assert.equal(await queue.takeFlushRequest(), false);
    assert.deepEqual(await queue.takeFlushedIds(), [a.id]);
    assert.deepEqual(await queue.takeFlushedIds(), []);
  });

  test('queue: entries enqueued in a unit of work appear when it commits, never when it is undone; a nested unit undoes its own', async () => {
    const s = fx.s;
    await assert.rejects(
      s.transaction(async (tx) => {
        await tx.queue.enqueue('alice@example.test', ['undone@remote.test'], msg('u1'), 'redirect');
        throw new Error('undo');
      }),
      /undo/,
    );
    assert.deepEqual(await s.queue.list(), []);
    let seenInside: number | undefined;
    await s.transaction(async (tx) => {
      await tx.queue.enqueue('alice@example.test', ['kept@remote.test'], msg('u2'), 'redirect');
      await tx.transaction(async (inner) => {
        await inner.queue.enqueue('alice@example.test', ['inner-kept@remote.test'], msg('u3'), 'redirect');
      });
      await assert.rejects(
        tx.transaction(async (inner) => {
          await inner.queue.enqueue('alice@example.test', ['inner-undone@remote.test'], msg('u4'), 'redirect');
          throw new Error('inner undo');
        }),
        /inner undo/,
      );
      seenInside = (await tx.queue.list()).length;
    });
    assert.equal(seenInside, 0, 'not there (for the runner) before the commit');
    const after = await s.queue.list();
    assert.deepEqual(after.map((e) => e.recipients[0]).sort(), ['inner-kept@remote.test', 'kept@remote.test']);
    for (const e of after) assert.match((await s.queue.message(e.id)).toString(), /Subject: u[23]/);
  });

  test('queue: a claim gives the entry as stored now; none for a held, removed or unknown entry; renewing and giving back', async () => {
    const { queue } = fx.s;
    const e = await queue.enqueue('alice@example.test', ['a@remote.test'], msg('c1'), 'submission');
    await queue.update({ ...e, attempts: 2 });
    const claimed = await queue.claim(e.id, 60_000);
    assert.equal(claimed?.id, e.id);
    assert.equal(claimed?.attempts, 2, 'the stored state, not the one enqueued');
    assert.equal(claimed?.held, undefined);
    assert.equal(await queue.renewClaim(e.id, 60_000), true);
    assert.equal((await queue.claim(e.id, 60_000))?.id, e.id, 'the holder may claim again');
    await queue.releaseClaim(e.id);
    await queue.releaseClaim(e.id);
    assert.equal((await queue.claim(e.id, 60_000))?.id, e.id, 'given back: there to take');
    await queue.releaseClaim(e.id);
    await queue.hold(e.id);
    assert.equal(await queue.claim(e.id, 60_000), undefined, 'held: not tried');
    await queue.release(e.id);
    await queue.remove(e.id);
    assert.equal(await queue.claim(e.id, 60_000), undefined, 'removed');
    assert.equal(await queue.renewClaim(e.id, 60_000), false, 'nothing to renew');
    await queue.releaseClaim(e.id);
    assert.equal(await queue.claim('NOSUCHID', 60_000), undefined);
    assert.equal(await queue.claim('../x', 60_000), undefined);
  });

  test('queue: a watcher hears of each entry once it is there (one made in a unit once the unit commits, never one undone) and of hold changes (null)', async () => {
    const s = fx.s;
    const heard: Array<string | null> = [];
    const listener = (e: QueueEntry | null) => void heard.push(e ? e.id : null);
    const told = async (n: number) => {
      const end = Date.now() + 10_000;
      while (heard.length < n) {
        if (Date.now() > end) throw new Error(`heard ${heard.length} of ${n} in time`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await s.queue.watch(listener);
    const a = await s.queue.enqueue('alice@example.test', ['a@remote.test'], msg('w1'), 'submission');
    await told(1);
    assert.ok(await s.queue.get(a.id), 'told once it is there');
    const b = await s.transaction(async (tx) => {
      const e = await tx.queue.enqueue('alice@example.test', ['b@remote.test'], msg('w2'), 'submission');
      assert.deepEqual(heard, [a.id], 'not before the unit commits');
      return e;
    });
    await told(2);
    await assert.rejects(
      s.transaction(async (tx) => {
        await tx.queue.enqueue('alice@example.test', ['c@remote.test'], msg('w3'), 'submission');
        throw new Error('undo');
      }),
    );
    await s.queue.hold(a.id);
    await told(3);
    await s.queue.unwatch(listener);
    await s.queue.release(a.id);
    await s.queue.enqueue('alice@example.test', ['d@remote.test'], msg('w4'), 'submission');
    assert.deepEqual(heard, [a.id, b.id, null]);
  });
}
