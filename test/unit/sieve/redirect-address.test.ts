// redirect takes one RFC 5322 mailbox (RFC 5228 4.2), accepted and refused
// as Pigeonhole 0.5.19's sieve-test does; every expectation below was read
// from sieve-test's output (`redirect message to: <...>` or its error text).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSingleAddress } from '../../../sieve/runtime/single-address.js';
import { actions, errorText, run, summary } from './helpers.js';

test('a display name, angle brackets, whitespace and comments around the addr-spec are accepted', () => {
  const ok: Array<[string, string]> = [
    ['"Stephan Bosch" <stephan@example.com>', 'stephan@example.com'],
    ['Stephan Bosch <stephan@example.com>', 'stephan@example.com'],
    ['  <stephan@example.com>  ', 'stephan@example.com'],
    [' stephan@example.com (comment) ', 'stephan@example.com'],
    ['(c) Stephan (x) <stephan@example.com> (y)', 'stephan@example.com'],
    ['<stephan@example.com>', 'stephan@example.com'],
    ['=?utf-8?q?St=C3=A9phan?= <s@example.com>', 's@example.com'],
    ['Stéphan <s@example.com>', 's@example.com'],
    ['"" <a@b.c>', 'a@b.c'],
    ['x. <a@b.c>', 'a@b.c'],
    ['< (x) a@b.c>', 'a@b.c'],
    ['<a (x) @ (y) b.c>', 'a@b.c'],
    ['stephan @ example.com', 'stephan@example.com'],
    ['a@b . c', 'a@b.c'],
    ['a(comment)@b.c', 'a@b.c'],
    ['a@b.c ((nested) x)', 'a@b.c'],
  ];
  for (const [text, address] of ok) assert.deepEqual(parseSingleAddress(text), { ok: true, address }, text);
});

test('the addr-spec comes out as Pigeonhole prints it: domain lower-cased, local part quoted only when needed', () => {
  const ok: Array<[string, string]> = [
    ['ST.EPHAN@Example.COM', 'ST.EPHAN@example.com'],
    ['"A.B"@C.D', 'A.B@c.d'],
    ['"x"@example.com', 'x@example.com'],
    ['x.@example.com', '"x."@example.com'],
    ['.a@b.c', '".a"@b.c'],
    ['a..b@c.d', '"a..b"@c.d'],
    ['"a b"@example.com', '"a b"@example.com'],
    ['"a\\"b"@c.d', '"a\\"b"@c.d'],
    ['"a@b"@c.d', '"a@b"@c.d'],
    ['stephan@[1.2.3.4]', 'stephan@[1.2.3.4]'],
    ['a <a@[x\\]y]>', 'a@[x\\]y]'],
    ['stephan@exämple.com', 'stephan@exämple.com'],
    ['B@EXÄMPLE.COM', 'B@exÄmple.com'],
  ];
  for (const [text, address] of ok) assert.deepEqual(parseSingleAddress(text), { ok: true, address }, text);
});

test('text that holds no single valid mailbox is refused, with the reason Pigeonhole gives', () => {
  const bad: Array<[string, string]> = [
    ['', 'empty address'],
    ['(abc', 'empty address'],
    ['stephan', "invalid or lonely local part 'stephan' (expecting '@')"],
    ['Stephan Bosch', "invalid or lonely local part 'Stephan' (expecting '@')"],
    ['"Stephan" stephan@example.com', "invalid or lonely local part 'Stephan' (expecting '@')"],
    ['a@b, c@d', "not a single address (found ',')"],
    ['x <a@b.c> , y', "not a single address (found ',')"],
    ['Group: a@b;', "invalid or lonely local part 'Group' (expecting '@')"],
    ['Stephan <stephan@example.com', "missing '>'"],
    ['<@route.example:stephan@example.com>', 'invalid local part'],
    ['stéphan@example.com', 'invalid local part'],
    ['<>', 'invalid local part'],
    ['a."b"@c.d', 'invalid local part'],
    ['a . b@c.d', 'invalid local part'],
    ['""@b.c', 'missing local part'],
    ['<', 'missing domain'],
    ['x < (', 'invalid characters after <'],
    ['a@', 'invalid or missing domain'],
    ['a@b.', 'invalid or missing domain'],
    ['a@b..c', 'invalid or missing domain'],
    ['a@[1.2.3.4', 'invalid or missing domain'],
    ['a@[a[b]', 'invalid or missing domain'],
    ['a@b.c (x', 'invalid or missing domain'],
    ['<a@b.c> (x', 'address ends with invalid characters'],
    ['<a@b.c> x', 'address ends in invalid characters'],
    ['x@y <a@b.c>', 'address ends in invalid characters'],
    ['a@b@c', 'address ends in invalid characters'],
    ['st ephan@example.com', "invalid or lonely local part 'st' (expecting '@')"],
  ];
  for (const [text, error] of bad) assert.deepEqual(parseSingleAddress(text), { ok: false, error }, text);
});

test('hostile input: long and deeply nested text is parsed in linear time', () => {
  const n = 200_000;
  const samples = ['('.repeat(n), '"'.repeat(n), '.'.repeat(n) + '@b.c', 'a '.repeat(n) + '<a@b.c>', `a@${'b.'.repeat(n)}c`, '<'.repeat(n)];
  const start = process.hrtime.bigint();
  for (const s of samples) parseSingleAddress(s);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  assert.ok(ms < 5000, `took ${ms} ms`); // generous: the point is no quadratic blow-up (that would take minutes)
});

test('redirect: every RFC 5322 mailbox form redirects to the addr-spec inside', () => {
  assert.deepEqual(actions('redirect "\\"Stephan Bosch\\" <stephan@example.com>";'), ['redirect stephan@example.com']);
  assert.deepEqual(actions('redirect "Stephan Bosch <stephan@example.com>";'), ['redirect stephan@example.com']);
  assert.deepEqual(actions('redirect " (work) Stephan <Stephan@Example.COM> (home) ";'), ['redirect Stephan@example.com']);
  // Duplicates are the same addr-spec: the domain is case-insensitive, the local part is not (as in Pigeonhole).
  assert.deepEqual(actions('redirect "Foo <a@b.example>"; redirect "a@B.EXAMPLE";'), ['redirect a@b.example']);
  assert.deepEqual(actions('redirect "A@b.example"; redirect "a@b.example";'), ['redirect A@b.example', 'redirect a@b.example']);
});

test('redirect: a constant that is no single mailbox is a positioned compile error', () => {
  assert.equal(errorText('keep;\n  redirect "a@b, c@d";'), "2:12: specified redirect address 'a@b, c@d' is invalid: not a single address (found ',')");
  assert.equal(errorText('redirect "Stephan Bosch";'), "1:10: specified redirect address 'Stephan Bosch' is invalid: invalid or lonely local part 'Stephan' (expecting '@')");
  assert.equal(errorText('redirect "";'), "1:10: specified redirect address '' is invalid: empty address");
});

test('redirect: a variable expanding to no valid mailbox is a run-time error (implicit keep only), a valid one redirects', () => {
  const bad = run('require ["variables", "fileinto"]; set "a" "not valid"; fileinto "X"; redirect "${a}";');
  assert.match(bad.errors?.[0]?.message ?? '', /specified redirect address 'not valid' is invalid: invalid or lonely local part 'not'/);
  assert.deepEqual(summary(bad.actions), ['implicit-keep']);
  const good = run('require ["variables", "fileinto"]; set "a" "Stephan <s@Example.com>"; fileinto "X"; redirect "${a}"; keep;');
  assert.equal(good.errors, undefined);
  assert.deepEqual(summary(good.actions), ['fileinto X', 'redirect s@example.com', 'keep']);
});
