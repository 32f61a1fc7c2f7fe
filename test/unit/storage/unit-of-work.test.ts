// The gate and the asynchronous ports over a synchronous implementation:
// free of cost when no unit of work is open (no timer, no extra turn),
// waiting while one is, and failing rather than deadlocking when misused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnitGate, asyncPort } from '../../../storage/unit-of-work.js';

interface CounterPort {
  bump(by: number): Promise<number>;
  fail(): Promise<void>;
}

class Counter {
  value = 0;
  bump(by: number): number {
    this.value += by;
    return this.value;
  }
  fail(): void {
    throw new Error('refused');
  }
}

const nextTurn = () => new Promise((r) => setImmediate(r));

test('no unit open: a call runs at once and resolves within microtasks (before any timer or I/O turn)', async () => {
  const counter = new Counter();
  const port = asyncPort<CounterPort>(counter, { gate: new UnitGate() });
  let answered: number | undefined;
  void port.bump(2).then((v) => (answered = v));
  assert.equal(counter.value, 2, 'the change is made by the call itself');
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(answered, 2);
  await assert.rejects(port.fail(), /refused/, 'a throw becomes a rejection');
});

test('a unit open: outside calls wait for its end, in order; the unit\'s own calls run directly', async () => {
  const gate = new UnitGate();
  const counter = new Counter();
  const outside = asyncPort<CounterPort>(counter, { gate });
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const seen: number[] = [];
  const unit = gate.hold(async () => {
    const inside = asyncPort<CounterPort>(counter, { live: () => true });
    await inside.bump(10);
    await held;
    seen.push(counter.value);
  });
  await Promise.resolve();
  const first = outside.bump(1);
  const second = outside.bump(100);
  await nextTurn();
  assert.equal(counter.value, 10, 'nothing from outside ran while the unit was open');
  release();
  await unit;
  assert.deepEqual(await Promise.all([first, second]), [11, 111]);
  assert.deepEqual(seen, [10]);
});

test('units run one after another; a storage call or a second unit from inside a unit fails instead of waiting for itself', async () => {
  const gate = new UnitGate();
  const port = asyncPort<CounterPort>(new Counter(), { gate });
  const order: string[] = [];
  const unit = (name: string) =>
    gate.hold(async () => {
      order.push(`${name}+`);
      await nextTurn();
      order.push(`${name}-`);
    });
  await Promise.all([unit('a'), unit('b')]);
  assert.deepEqual(order, ['a+', 'a-', 'b+', 'b-']);
  await gate.hold(async () => {
    await assert.rejects(port.bump(1), /tx/);
    await assert.rejects(gate.hold(async () => {}), /tx\.transaction/);
  });
  assert.equal(await port.bump(1), 1, 'the gate is free again');
});

test('a unit\'s ports fail once it has ended', async () => {
  let live = true;
  const port = asyncPort<CounterPort>(new Counter(), { live: () => live });
  assert.equal(await port.bump(1), 1);
  live = false;
  await assert.rejects(port.bump(1), /ended/);
});
