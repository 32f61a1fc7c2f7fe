// The arena of lent reads: regions lent in order and given back in any order
// never overlap one still lent, stay inside the arena, and the space comes
// back once the regions before it are given back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadArena, type ArenaRegion } from '../../../storage/maildir/read-arena.js';

test('regions still lent never overlap, whatever the order they are given back in', () => {
  const arena = new ArenaModel(64 * 1024);
  let seed = 12345;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let lent = 0;
  let refused = 0;
  for (let step = 0; step < 200_000; step++) {
    if (random(3) > 0 && arena.live.length < 200) {
      const r = arena.lend(1 + random(9000));
      if (r) lent++;
      else refused++;
    } else if (arena.live.length > 0) {
      // Mostly the oldest first, as a download gives them back; sometimes any.
      arena.giveBack(random(4) === 0 ? random(arena.live.length) : 0);
    }
  }
  assert.ok(lent > 50_000, `${lent} lent`);
  assert.ok(refused > 0, 'a full arena says so');
  while (arena.live.length > 0) arena.giveBack(arena.live.length - 1);
  assert.equal(arena.arena.lentCount, 0);
  assert.ok(arena.arena.lend(64 * 1024), 'all of it once everything is back');
});

test('a region is refused when it does not fit, never cut short; twice given back is harmless', () => {
  const a = new ReadArena(100);
  assert.equal(a.lend(101), undefined);
  assert.equal(a.lend(0), undefined);
  const r1 = a.lend(60)!;
  const r2 = a.lend(30)!;
  assert.deepEqual([r1.start, r1.end, r2.start, r2.end], [0, 60, 60, 90]);
  assert.equal(a.lend(20), undefined, '10 left at the end, and the start is lent');
  a.giveBack(r2);
  a.giveBack(r2);
  assert.equal(a.lend(20), undefined, 'r2 is back but waits behind r1');
  a.giveBack(r1);
  const r3 = a.lend(100)!;
  assert.deepEqual([r3.start, r3.end], [0, 100]);
  a.giveBack(r3);
  // Wrapping: the start is used again once the oldest region there is back.
  const w1 = a.lend(40)!;
  const w2 = a.lend(40)!;
  a.giveBack(w1);
  const w3 = a.lend(30)!;
  assert.deepEqual([w2.start, w3.start, w3.end], [40, 0, 30]);
  assert.equal(a.lend(11), undefined, 'wrapped: room only up to the oldest lent region');
  const w4 = a.lend(10)!;
  assert.deepEqual([w4.start, w4.end], [30, 40]);
  const view = a.view(w4);
  view.fill(7);
  assert.equal(a.bytes[35], 7, 'a view is the arena\'s own memory');
});

/** The arena and, beside it, the regions it lent, checked after every step. */
class ArenaModel {
  readonly arena: ReadArena;
  readonly live: ArenaRegion[] = [];
  constructor(readonly size: number) {
    this.arena = new ReadArena(size);
  }
  lend(n: number): ArenaRegion | undefined {
    const r = this.arena.lend(n);
    if (!r) return undefined;
    assert.equal(r.end - r.start, n);
    assert.ok(r.start >= 0 && r.end <= this.size, 'inside the arena');
    for (const o of this.live) assert.ok(r.end <= o.start || r.start >= o.end, `[${r.start},${r.end}) overlaps [${o.start},${o.end})`);
    this.live.push(r);
    return r;
  }
  giveBack(i: number): void {
    const [r] = this.live.splice(i, 1);
    this.arena.giveBack(r!);
  }
}
