// The delivery's compiled-script cache: keyed by the script's content, so the
// same text is compiled once and a changed text (same account, same script
// name) is compiled anew; bounded in entries and in bytes, oldest use first out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompiledScriptCache } from '../../../src/delivery/compiled-scripts.js';
import { evaluate, sieveMessage } from '../../../sieve/index.js';
import { parseMessage } from '../../../mime/index.js';

const message = sieveMessage(parseMessage(Buffer.from('Subject: hello\r\nFrom: a@example.org\r\n\r\nbody\r\n')));
const env = { from: 'a@example.org', to: 'b@example.test' };

function boxOf(cache: CompiledScriptCache, text: string): string {
  const r = cache.compile(text);
  assert.ok(r.ok);
  const a = evaluate(r.program, message, env).actions[0]!;
  return a.type === 'fileinto' ? a.mailbox : a.type;
}

const script = (box: string): string => `require "fileinto";\nif header :contains "subject" "hello" { fileinto "${box}"; }\n`;

test('the same text is compiled once; a changed text is compiled again and runs as changed', () => {
  const cache = new CompiledScriptCache();
  assert.equal(boxOf(cache, script('One')), 'One');
  assert.equal(boxOf(cache, script('One')), 'One');
  assert.equal(cache.compilations, 1);
  // The user uploads a new version under the same name: new text, new program.
  assert.equal(boxOf(cache, script('Two')), 'Two');
  assert.equal(cache.compilations, 2);
  // A one-character change is a change.
  assert.equal(boxOf(cache, script('Twp')), 'Twp');
  assert.equal(cache.compilations, 3);
  assert.equal(boxOf(cache, script('Two')), 'Two');
  assert.equal(cache.compilations, 3);
});

test('limits are part of the key', () => {
  const cache = new CompiledScriptCache();
  const text = script('Box');
  assert.ok(cache.compile(text).ok);
  const small = cache.compile(text, { maxScriptSize: 10 });
  assert.ok(!small.ok);
  assert.equal(cache.compilations, 2);
  assert.ok(cache.compile(text).ok);
  assert.equal(cache.compilations, 2);
});

test('invalid scripts are cached too, with their errors', () => {
  const cache = new CompiledScriptCache();
  const a = cache.compile('if true { keep;');
  const b = cache.compile('if true { keep;');
  assert.ok(!a.ok && !b.ok);
  assert.equal(a, b);
  assert.equal(cache.compilations, 1);
});

test('bounded in entries: least recently used first out', () => {
  const cache = new CompiledScriptCache(3, 1 << 20);
  for (const b of ['A', 'B', 'C']) cache.compile(script(b));
  cache.compile(script('A')); // A is now the most recently used
  cache.compile(script('D')); // B goes
  assert.equal(cache.size, 3);
  assert.equal(cache.compilations, 4);
  cache.compile(script('A'));
  cache.compile(script('C'));
  cache.compile(script('D'));
  assert.equal(cache.compilations, 4);
  cache.compile(script('B'));
  assert.equal(cache.compilations, 5);
  for (let i = 0; i < 100; i++) cache.compile(script(`X${i}`));
  assert.equal(cache.size, 3);
});

test('bounded in bytes; a script larger than the whole bound is not kept', () => {
  const one = Buffer.byteLength(script('Box00'));
  const cache = new CompiledScriptCache(1000, one * 4);
  for (let i = 0; i < 50; i++) cache.compile(script(`Box${String(i).padStart(2, '0')}`));
  assert.ok(cache.bytes <= one * 4, `${cache.bytes}`);
  assert.equal(cache.size, 4);
  const big = `${script('Big')}# ${'x'.repeat(one * 5)}\n`;
  assert.ok(cache.compile(big).ok);
  assert.ok(cache.compile(big).ok);
  assert.equal(cache.compilations, 52);
  assert.ok(cache.bytes <= one * 4);
});
