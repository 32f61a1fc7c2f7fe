// Sieve scripts (one active at a time; RFC 5804 semantics as ManageSieve
// needs them), the queue, and what delivery remembers (RFC 5230, RFC 7352).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failsWith, msg, type Fixture } from './suite.js';

export function scriptQueueCases(fx: Fixture): void {
  test('scripts: stored, listed by name, replaced, one active at a time', async () => {
    const { scripts } = fx.s;
    assert.deepEqual(await scripts.list(fx.alice), []);
    assert.equal(await scripts.active(fx.alice), undefined);
    await scripts.put(fx.alice, 'b', 'keep;');
    await scripts.put(fx.alice, 'a', 'discard;');
    await scripts.put(fx.alice, 'b', 'stop;');
    assert.deepEqual(await scripts.list(fx.alice), [
      { name: 'a', active: false },
      { name: 'b', active: false },
    ]);
    assert.equal(await scripts.get(fx.alice, 'b'), 'stop;');
    assert.equal(await scripts.exists(fx.alice, 'a'), true);
    assert.equal(await scripts.exists(fx.alice, 'c'), false);
    await scripts.activate(fx.alice, 'a');
    assert.deepEqual(await scripts.active(fx.alice), { name: 'a', text: 'discard;' });
    await scripts.activate(fx.alice, 'b');
    assert.deepEqual(await scripts.list(fx.alice), [
      { name: 'a', active: false },
      { name: 'b', active: true },
    ]);
    await scripts.put(fx.alice, 'b', 'keep;');
    assert.deepEqual(await scripts.active(fx.alice), { name: 'b', text: 'keep;' }, 'replacing the active script keeps it active');
    await failsWith('NONEXISTENT', () => scripts.activate(fx.alice, 'zzz'));
    assert.equal((await scripts.active(fx.alice))?.name, 'b', 'a failed activation changes nothing');
    await scripts.activate(fx.alice, undefined);
    assert.equal(await scripts.active(fx.alice), undefined);
    assert.deepEqual(await scripts.list(fx.bob), [], "another account's scripts are its own");
    await failsWith('NONEXISTENT', () => scripts.get(fx.alice, 'zzz'));
  });

  test('scripts: the active one cannot be removed; rename keeps it active; names checked; at most 64', async () => {
    const { scripts } = fx.s;
    await scripts.put(fx.alice, 'main', 'keep;');
    await scripts.put(fx.alice, 'spare', 'keep;');
    await scripts.activate(fx.alice, 'main');
    await failsWith('REFUSED', () => scripts.remove(fx.alice, 'main'));
    await scripts.rename(fx.alice, 'main', 'primary');
    assert.deepEqual(await scripts.active(fx.alice), { name: 'primary', text: 'keep;' });
    await failsWith('ALREADYEXISTS', () => scripts.rename(fx.alice, 'primary', 'spare'));
    await failsWith('NONEXISTENT', () => scripts.rename(fx.alice, 'main', 'other'));
    await scripts.remove(fx.alice, 'spare');
    await failsWith('NONEXISTENT', () => scripts.remove(fx.alice, 'spare'));
    for (const bad of ['', '.hidden', 'a/b', 'a\\b', 'x\ny', 'n'.repeat(129)]) await failsWith('BADINPUT', () => scripts.put(fx.alice, bad, 'keep;'));
    for (let i = 1; i < 64; i++) await scripts.put(fx.alice, `s${i}`, 'keep;');
    await failsWith('LIMIT', () => scripts.put(fx.alice, 'one-too-many', 'keep;'));
    await scripts.put(fx.alice, 's1', 'stop;');
    await failsWith('NONEXISTENT', () => scripts.put(fx.bob + 1000, 'x', 'keep;'));
  });

  test('scripts: removing the account (after its mail) takes its scripts', async () => {
    const { scripts, directory, mail } = fx.s;
    await scripts.put(fx.bob, 'main', 'keep;');
    await scripts.activate(fx.bob, 'main');
    await mail.deleteAccountMail(fx.bob);
    await directory.removeAccount('bob@example.test');
    assert.deepEqual(await scripts.list(fx.bob), []);
    assert.equal(await scripts.active(fx.bob), undefined);
  });

  test('queue: enqueue, list oldest first, get, message, update, remove', async () => {
    const { queue } = fx.s;
    assert.deepEqual(await queue.list(), []);
    const a = await queue.enqueue('', ['x@remote.test'], msg('bounce'), 'bounce');
    const b = await queue.enqueue('alice@example.test', ['y@remote.test', 'z@remote.test'], msg('fwd'), 'redirect', { data: { tasks: [1] }, nextAttempt: 5 });
    assert.notEqual(a.id, b.id);
    assert.match(a.id, /^[A-Z0-9]+$/);
    assert.deepEqual([a.sender, a.recipients, a.attempts, a.lastError, a.reason, a.nextAttempt], ['', ['x@remote.test'], 0, null, 'bounce', a.created]);
    assert.deepEqual([b.nextAttempt, b.data], [5, { tasks: [1] }]);
    assert.deepEqual(new Set((await queue.list()).map((e) => e.id)), new Set([a.id, b.id]));
    const listed = await queue.list();
    assert.ok(listed[0]!.created <= listed[1]!.created);
    assert.deepEqual(await queue.get(b.id), b);
    assert.deepEqual(await queue.message(b.id), msg('fwd'));
    await queue.update({ ...b, attempts: 1, lastError: '451 try later', nextAttempt: 99 });
    assert.deepEqual([(await queue.get(b.id))!.attempts, (await queue.get(b.id))!.lastError], [1, '451 try later']);
    await queue.remove(a.id);
    assert.equal(await queue.get(a.id), undefined);
    assert.deepEqual((await queue.list()).map((e) => e.id), [b.id]);
    await failsWith('NONEXISTENT', () => queue.remove(a.id));
    await failsWith('NONEXISTENT', () => queue.message(a.id));
    await failsWith('BADINPUT', () => queue.enqueue('a@b.test', [], msg('none'), 'redirect'));
    assert.equal(await queue.get('../../etc'), undefined);
  });

  test('queue: a flush request is taken once', async () => {
    const { queue } = fx.s;
    assert.equal(await queue.takeFlushRequest(), false);
    await queue.requestFlush();
    assert.equal(await queue.takeFlushRequest(), true);
    assert.equal(await queue.takeFlushRequest(), false);
  });

  test('delivery memory: duplicate ids within their period, vacation replies per sender and handle', async () => {
    const { memory } = fx.s;
    const t = 1_000_000;
    assert.equal(await memory.checkDuplicate(fx.alice, 'h', 'id1', 1000, false, t), false);
    assert.equal(await memory.checkDuplicate(fx.alice, 'h', 'id1', 1000, false, t + 500), true);
    assert.equal(await memory.checkDuplicate(fx.alice, 'h', 'id1', 1000, false, t + 1500), false, 'expired: new again');
    assert.equal(await memory.checkDuplicate(fx.alice, 'h', 'id1', 1000, true, t + 2000), true, ':last refreshes');
    assert.equal(await memory.checkDuplicate(fx.alice, 'h', 'id1', 1000, false, t + 2900), true);
    assert.equal(await memory.checkDuplicate(fx.bob, 'h', 'id1', 1000, false, t), false, 'per account');
    assert.equal(await memory.checkDuplicate(fx.alice, 'other', 'id1', 1000, false, t), false, 'per handle');

    assert.equal(await memory.vacationSentRecently(fx.alice, 'x@remote.test', 'v', t), false);
    await memory.recordVacation(fx.alice, 'x@remote.test', 'v', 1000, t);
    assert.equal(await memory.vacationSentRecently(fx.alice, 'X@Remote.Test', 'v', t + 999), true, 'senders compared without case');
    assert.equal(await memory.vacationSentRecently(fx.alice, 'x@remote.test', 'v', t + 1000), false);
    assert.equal(await memory.vacationSentRecently(fx.alice, 'x@remote.test', 'other', t), false);
    await memory.prune(t + 10_000);
    assert.equal(await memory.checkDuplicate(fx.alice, 'h', 'id1', 1000, false, t + 10_000), false);
  });
}
