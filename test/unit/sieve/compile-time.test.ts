// Hostile input for compile(): a 64 KiB script of each shape (many rules, one
// huge string, nesting as deep as the limit allows, long header lists, many
// comments) compiles in time linear in its size: 64 KiB takes well under 16
// times what 16 KiB takes (linear is 4; quadratic would be 16). Timings are
// per compile, averaged over a batch of at least 40 ms, best of 3 batches,
// so a loaded machine moves both sides alike; the bound allows a factor 2.5
// of noise over linear. A generous absolute bound catches the old parser
// (ohm: 2.6 s and more for 64 KiB here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, defaultLimits } from '../../../sieve/index.js';
import { scriptOfShape, scriptShapes } from './script-shapes.js';

let salt = 0;

function msPerCompile(shape: (typeof scriptShapes)[number], size: number): number {
  const texts = Array.from({ length: 64 }, () => scriptOfShape(shape, size, `salt ${salt++}`));
  const r = compile(texts[0]!, { cache: false });
  assert.ok(r.ok, `${shape}: ${r.ok ? '' : r.errors[0]!.message}`);
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    let n = 0;
    const t0 = performance.now();
    do compile(texts[n++ % texts.length]!, { cache: false });
    while (performance.now() - t0 < 40);
    best = Math.min(best, (performance.now() - t0) / n);
  }
  return best;
}

for (const shape of scriptShapes) {
  test(`compile time is linear: 64 KiB vs 16 KiB, ${shape}`, () => {
    const text = scriptOfShape(shape, 64 * 1024, 'size');
    assert.ok(text.length >= 64 * 1024 && text.length < 72 * 1024, `size ${text.length}`);
    if (shape === 'deep-nesting') assert.match(text, new RegExp(`(if true \\{\\n){${defaultLimits.maxNesting}}`));
    const small = msPerCompile(shape, 16 * 1024);
    const large = msPerCompile(shape, 64 * 1024);
    const ratio = large / Math.max(small, 0.001);
    assert.ok(ratio < 10, `${shape}: 16 KiB ${small.toFixed(2)} ms, 64 KiB ${large.toFixed(2)} ms, ratio ${ratio.toFixed(1)}`);
    assert.ok(large < 1500, `${shape}: 64 KiB took ${large.toFixed(0)} ms`);
  });
}
