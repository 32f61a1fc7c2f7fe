// 1,000 seeded random mutations of valid scripts: each must compile to a
// program or give positioned errors, never throw; programs that compile must
// evaluate without throwing. Repeatable: the PRNG seed is fixed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fixturesDir } from '../../support/paths.js';
import { compile, evaluate } from '../../../sieve/index.js';
import { message, RFC5228_MESSAGE } from './helpers.js';
import { prng } from '../../support/prng.js';


const TOKENS = [
  '{', '}', '(', ')', '[', ']', ';', ',', '"', '\\', ':', '#', '/*', '*/', 'text:\n', '\n.\n', ' ', '\n',
  'if', 'elsif', 'else', 'require', 'stop', 'keep', 'discard', 'fileinto', 'redirect', 'header', 'address',
  'allof', 'anyof', 'not', 'true', 'false', ':is', ':contains', ':matches', ':regex', ':value "gt"', ':count "eq"',
  ':comparator "i;ascii-numeric"', ':index 0', ':last', '${1}', '${hex:41}', '${unicode:d800}', '"*"', '"\\\\"',
  '99999999999999', '1K', '0', 'set', 'string', 'include', 'vacation', ':days', 'body', ':raw', 'date', '"(a*)*b"',
  '"[[:alpha:]"', '"${', 'ä', '\u0000', '\r',
];

const corpusDir = path.join(fixturesDir, 'sieve', 'differential', 'scripts');
const seeds = readdirSync(corpusDir)
  .filter((f) => f.endsWith('.sieve'))
  .map((f) => readFileSync(path.join(corpusDir, f), 'utf8'))
  .filter((s) => compile(s).ok);

function mutate(src: string, rnd: () => number): string {
  let s = src;
  const n = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) {
    const pos = Math.floor(rnd() * (s.length + 1));
    const kind = Math.floor(rnd() * 6);
    if (kind === 0) s = s.slice(0, pos) + s.slice(pos + 1 + Math.floor(rnd() * 8));
    else if (kind === 1) s = s.slice(0, pos) + TOKENS[Math.floor(rnd() * TOKENS.length)] + s.slice(pos);
    else if (kind === 2) {
      const len = Math.floor(rnd() * 40);
      s = s.slice(0, pos) + s.slice(pos, pos + len) + s.slice(pos);
    } else if (kind === 3) s = s.slice(0, pos);
    else if (kind === 4) s = s.slice(0, pos) + String.fromCharCode(Math.floor(rnd() * 128)) + s.slice(pos);
    else {
      const other = seeds[Math.floor(rnd() * seeds.length)] ?? '';
      const p2 = Math.floor(rnd() * other.length);
      s = s.slice(0, pos) + other.slice(p2, p2 + Math.floor(rnd() * 60)) + s.slice(pos);
    }
  }
  return s;
}

test('1,000 mutated scripts: a program or positioned errors, never a crash', () => {
  assert.ok(seeds.length >= 20, 'enough valid seed scripts');
  const rnd = prng(0x5eed);
  const msg = message(RFC5228_MESSAGE);
  let ok = 0;
  let failed = 0;
  for (let i = 0; i < 1000; i++) {
    const src = mutate(seeds[i % seeds.length]!, rnd);
    let r;
    try {
      r = compile(src);
    } catch (e) {
      assert.fail(`compile threw on mutation ${i}: ${(e as Error).stack}\n--- script ---\n${src}`);
    }
    if (r.ok) {
      ok++;
      try {
        const res = evaluate(r.program, msg, { from: 'a@example.org', to: 'b@example.test' }, { includeScript: () => 'keep;' });
        assert.ok(Array.isArray(res.actions));
      } catch (e) {
        assert.fail(`evaluate threw on mutation ${i}: ${(e as Error).stack}\n--- script ---\n${src}`);
      }
    } else {
      failed++;
      assert.ok(r.errors.length > 0);
      for (const e of r.errors) {
        assert.ok(Number.isInteger(e.line) && e.line >= 1, `line on mutation ${i}`);
        assert.ok(Number.isInteger(e.col) && e.col >= 1, `col on mutation ${i}`);
        assert.ok(e.message.length > 0);
      }
    }
  }
  assert.equal(ok + failed, 1000);
  assert.ok(failed > 100 && ok >= 20, `mix of outcomes (ok ${ok}, errors ${failed})`);
});
