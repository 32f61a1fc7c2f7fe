// For tests that feed a parser a long hostile input: it must finish within a
// generous bound (a loaded machine must not flake), and answer as before.
import assert from 'node:assert/strict';

export const MB = 1 << 20;

/** Runs fn and fails when it takes longer than the bound. */
export function fast<T>(label: string, fn: () => T, boundMs = 2000): T {
  const t = performance.now();
  const out = fn();
  const took = performance.now() - t;
  assert.ok(took < boundMs, `${label} took ${took.toFixed(0)} ms`);
  return out;
}
