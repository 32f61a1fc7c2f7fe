// The hand-written parser (sieve/compile/fast-parse.ts) against the ohm
// grammar, the reference: on every script of the differential corpus and on
// 3,000 seeded mutations of them, whenever the fast parser gives a tree the
// grammar gives the same tree (positions included); when it declines, the
// grammar is what runs, so errors stay the grammar's. It must also take every
// corpus script the grammar takes (else there would be no speed-up).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fixturesDir } from '../../support/paths.js';
import { fastParse } from '../../../sieve/compile/fast-parse.js';
import { parseWithGrammar } from '../../../sieve/compile/parse.js';
import { LineTable } from '../../../sieve/compile/source-text.js';
import type { ScriptNode } from '../../../sieve/compile/ast.js';
import { prng } from '../../support/prng.js';

const corpusDirs = ['differential/scripts', 'differential/global', 'differential/personal', 'rfc', 'delivery', '.'].map((d) => path.join(fixturesDir, 'sieve', d));
const corpus = corpusDirs.flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.sieve'))
    .map((f) => readFileSync(path.join(dir, f), 'utf8')),
);

const extra = [
  'require ["fileinto"];\r\nif header :contains "subject" "x" { fileinto "A"; }\r\n',
  'if anyof(true,false,not header :is "a" "b"){keep;}else{discard;}',
  'keep;# trailing comment without newline',
  'keep; /* a */ /* b */ stop ;',
  'x "a" 10K 2m 3g 0 :tag ["a", "b" ,"c"] [] ( ) ;',
  'a 10Kfoo;',
  'a text:   # comment\r\nline 1\r\n..dotted\r\n.\r\n;',
  'a text:\n\n.\n;',
  'a ["x", text:\nmulti\n.\n];',
  'a "esc \\" \\\\ \\q";',
  'if true { if true { if true { keep; } } }',
  'TEXT:foo;',
  'a\u0000b\u0001;',
  'ä;',
  'a "ä\u{1F600}";',
  'a 99999999999;',
  'if header :is "a" "b" /* unterminated',
  'a "unterminated',
  'a text:\nno end\n',
  '',
  '   \n  ',
];

const MUTATION_TOKENS = ['{', '}', '(', ')', '[', ']', ';', ',', '"', '\\', ':', '#', '/*', '*/', 'text:\n', '\n.\n', ' ', '\n', '\r', 'text:', '1K', 'ä', 'a', '.', '\r\n'];

function mutate(src: string, rnd: () => number): string {
  let s = src;
  const n = 1 + Math.floor(rnd() * 3);
  for (let k = 0; k < n; k++) {
    const pos = Math.floor(rnd() * (s.length + 1));
    const kind = Math.floor(rnd() * 3);
    if (kind === 0) s = s.slice(0, pos) + s.slice(pos + 1 + Math.floor(rnd() * 4));
    else if (kind === 1) s = s.slice(0, pos) + MUTATION_TOKENS[Math.floor(rnd() * MUTATION_TOKENS.length)] + s.slice(pos);
    else s = s.slice(0, pos);
  }
  return s;
}

function grammarTree(text: string): ScriptNode | Error {
  try {
    return parseWithGrammar(text);
  } catch (e) {
    return e as Error;
  }
}

function check(text: string): 'fast' | 'declined' {
  const fast = fastParse(text, new LineTable(text));
  if (!fast) return 'declined';
  const ref = grammarTree(text);
  assert.ok(!(ref instanceof Error), `fast parser accepted what the grammar refuses (${ref instanceof Error ? ref.message : ''}): ${JSON.stringify(text)}`);
  assert.deepStrictEqual(fast, ref, JSON.stringify(text));
  return 'fast';
}

test('the fast parser takes every corpus script the grammar takes, with the same tree', () => {
  let taken = 0;
  for (const text of [...corpus, ...extra]) {
    const ref = grammarTree(text);
    const r = check(text);
    if (!(ref instanceof Error) && [...text].every((c) => c.charCodeAt(0) < 128 || !/\p{L}/u.test(c))) {
      assert.equal(r, 'fast', `declined a well-formed script: ${JSON.stringify(text.slice(0, 200))}`);
    }
    if (r === 'fast') taken++;
  }
  assert.ok(taken >= corpus.length * 0.9, `only ${taken} of ${corpus.length + extra.length} taken`);
});

test('on mutated scripts the fast parser gives the grammar\'s tree or declines', () => {
  const rnd = prng(20261206);
  const counts = { fast: 0, declined: 0 };
  for (let k = 0; k < 3000; k++) {
    const base = corpus[Math.floor(rnd() * corpus.length)]!;
    counts[check(mutate(base, rnd))]++;
  }
  assert.ok(counts.fast > 100 && counts.declined > 100, JSON.stringify(counts));
});
