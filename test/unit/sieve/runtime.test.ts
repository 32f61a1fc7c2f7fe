// Runtime pieces: glob and regex engines (including hostile inputs), RFC 2047
// decoding, address parsing, safety limits, and the message adapter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileGlob, globMatch } from '../../../sieve/runtime/glob.js';
import { compileRegex, regexSearch } from '../../../sieve/runtime/regex.js';
import { decodeHeaderValue, unfoldHeaderValue } from '../../../sieve/runtime/rfc2047.js';
import { parseAddressList, unquotedLocalPart } from '../../../sieve/runtime/address.js';
import { compile, evaluate } from '../../../sieve/index.js';
import { parseMessage } from '../../../mime/index.js';
import { sieveMessage } from '../../../sieve/index.js';
const sieveMessageFromBuffer = (raw: Buffer) => sieveMessage(parseMessage(raw));
import { message, run, summary } from './helpers.js';

const free = { charge() {} };

test('glob: wildcards, escapes, captures (earlier * as short as possible)', () => {
  assert.deepEqual(globMatch(compileGlob('*.*@*'), 'a.b.c@d', 'a.b.c@d'), ['a', 'b.c', 'd']);
  assert.deepEqual(globMatch(compileGlob('?\\*?'), 'a*b', 'a*b'), ['a', 'b']);
  assert.equal(globMatch(compileGlob('\\?'), 'a'), undefined);
  assert.deepEqual(globMatch(compileGlob('*'), '', ''), ['']);
  assert.deepEqual(globMatch(compileGlob('?'), 'ä', 'ä'), ['ä'], '? is one character, not one octet');
});

test('glob: hostile patterns finish quickly', () => {
  const subject = 'a'.repeat(20000);
  const t0 = Date.now();
  assert.equal(globMatch(compileGlob('*a*a*a*a*a*a*a*a*a*b'), subject), undefined);
  assert.ok(Date.now() - t0 < 2000);
});

test('regex: POSIX ERE features and submatches', () => {
  const m = (p: string, s: string, icase = false) => regexSearch(compileRegex(p, icase), s, free);
  assert.deepEqual(m('^a(b+)c$', 'abbbc'), ['abbbc', 'bbb']);
  assert.deepEqual(m('[[:digit:]]{2,3}', 'x12345'), ['123']);
  assert.deepEqual(m('(foo|bar)baz', 'xbarbaz'), ['barbaz', 'bar']);
  assert.deepEqual(m('HELLO', 'say hello', true), ['hello']);
  assert.equal(m('^hello', 'say hello'), undefined);
  assert.deepEqual(m('[^a-c]+', 'abcdef'), ['def']);
  assert.deepEqual(m('a.c', 'a\nc'), ['a\nc']);
  assert.throws(() => compileRegex('(a', false));
  assert.throws(() => compileRegex('a{2,1}', false));
  assert.throws(() => compileRegex('*a', false));
  assert.throws(() => compileRegex('(a)\\1', false), /back-references/);
});

test('regex: catastrophic patterns run in linear time (no backtracking)', () => {
  const t0 = Date.now();
  assert.equal(regexSearch(compileRegex('(a*)*b', false), 'a'.repeat(5000), free), undefined);
  assert.equal(regexSearch(compileRegex('(a|aa)+$', false), 'a'.repeat(3000) + 'b', free), undefined);
  assert.equal(regexSearch(compileRegex('(x+x+)+y', false), 'x'.repeat(3000), free), undefined);
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
});

test('regex: the evaluation budget stops a huge search with a clear error', () => {
  const body = 'a'.repeat(200000);
  const r = compile('require ["body", "regex"]; if body :regex "(a|b|c|d)*(a|b)*x" { discard; }', { limits: { maxSteps: 5000 } });
  assert.ok(r.ok);
  if (!r.ok) return;
  const res = evaluate(r.program, message(`Subject: x\n\n${body}\n`), { from: '', to: 'a@b.c' });
  assert.match(res.errors?.[0]?.message ?? '', /budget/);
  assert.deepEqual(summary(res.actions), ['implicit-keep']);
});

test('RFC 2047: B and Q words, charsets, adjacent words joined, bad ones kept', () => {
  assert.equal(decodeHeaderValue('=?ISO-8859-1?Q?Andr=E9?= Pirard'), 'André Pirard');
  assert.equal(decodeHeaderValue('=?UTF-8?B?SGVsbG8=?= =?UTF-8?B?IFdvcmxk?='), 'Hello World');
  assert.equal(decodeHeaderValue('=?utf-8?q?a_b?= c'), 'a b c');
  assert.equal(decodeHeaderValue('=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?='), 'テスト');
  assert.equal(decodeHeaderValue('no =? encoded'), 'no =? encoded');
  assert.equal(unfoldHeaderValue(' a\r\n b\r\n\tc  '), 'a b c');
});

test('address lists: display names, comments, groups, quoted local parts, routes', () => {
  assert.deepEqual(parseAddressList('"Doe, John" <john@example.com>, jane@example.com (Jane)'), ['john@example.com', 'jane@example.com']);
  assert.deepEqual(parseAddressList('friends: a@x.example, b@y.example, c@z.example;'), ['a@x.example', 'b@y.example', 'c@z.example']);
  // As in Pigeonhole 0.5 (sieve-test checked): the list ends at what cannot follow a group
  // or an address (no comma), and an entry without its domain is no address.
  assert.deepEqual(parseAddressList('friends: a@x.example, b@y.example; c@z.example'), ['a@x.example', 'b@y.example']);
  assert.deepEqual(parseAddressList('a@b.example, c'), ['a@b.example']);
  assert.deepEqual(parseAddressList('a@b.example c@d.example'), ['a@b.example']);
  assert.deepEqual(parseAddressList('user'), []);
  assert.deepEqual(parseAddressList('"x y" <a b@c.example>'), []);
  assert.deepEqual(parseAddressList('<@route.example:user@host.example>'), ['user@host.example']);
  assert.deepEqual(parseAddressList('"quoted local"@example.test'), ['"quoted local"@example.test']);
  assert.deepEqual(parseAddressList('"plain"@example.test'), ['plain@example.test']);
  assert.deepEqual(parseAddressList('undisclosed-recipients:;'), []);
  assert.deepEqual(parseAddressList('<>'), []);
});

test('local parts for :localpart/:user/:detail: quoted strings unquoted, escapes resolved, linear on hostile input', () => {
  assert.equal(unquotedLocalPart('"quoted local"'), 'quoted local');
  assert.equal(unquotedLocalPart('"a\\"b"'), 'a"b');
  assert.equal(unquotedLocalPart('"a b".c'), 'a b.c');
  assert.equal(unquotedLocalPart('plain+tag'), 'plain+tag');
  assert.equal(unquotedLocalPart('"open'), 'open', 'an unclosed quote ends with the input');
  const hostile = '"\\'.repeat(300_000) + '"';
  const t0 = Date.now();
  assert.equal(unquotedLocalPart(hostile).length, 300_000);
  assert.ok(Date.now() - t0 < 2000);
});

test('limits: actions and redirects per evaluation', () => {
  const many = Array.from({ length: 40 }, (_, i) => `fileinto "f${i}";`).join('');
  const r = run(`require "fileinto"; ${many}`);
  assert.match(r.errors?.[0]?.message ?? '', /too many actions/);
  const red = run('redirect "a@x.example"; redirect "b@x.example"; redirect "c@x.example"; redirect "d@x.example"; redirect "e@x.example";');
  assert.match(red.errors?.[0]?.message ?? '', /too many redirects/);
  assert.deepEqual(summary(red.actions), ['implicit-keep']);
});

test('message adapter: headers unfolded by the engine, MIME parts decoded', () => {
  const raw = [
    'From: a@example.org',
    'Subject: one',
    '  two',
    'Content-Type: multipart/mixed; boundary=zz',
    '',
    'preamble',
    '--zz',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'caf=E9 =',
    'soft',
    '--zz',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('<b>bold</b>').toString('base64'),
    '--zz--',
    '',
  ].join('\r\n');
  const m = sieveMessageFromBuffer(Buffer.from(raw, 'latin1'));
  assert.equal(m.size, Buffer.byteLength(raw, 'latin1'));
  assert.equal(unfoldHeaderValue(m.headers[1]!.value), 'one  two');
  const b = m.body();
  assert.deepEqual(b.parts.map((p) => p.contentType), ['multipart/mixed', 'text/plain', 'text/html']);
  assert.equal(b.parts[0]!.text, 'preamble');
  assert.equal(b.parts[1]!.text, 'café soft');
  assert.equal(b.parts[2]!.text, '<b>bold</b>');
  assert.ok(b.raw.startsWith('preamble'));
});

test('a message without a body or header/body separator still works', () => {
  const m = sieveMessageFromBuffer(Buffer.from('Subject: only headers\r\n'));
  assert.equal(m.headers.length, 1);
  assert.deepEqual(m.body().parts.length, 1);
});

test('run-time regex keys from variables: an invalid one is a run-time error, not a crash', () => {
  const r = run('require ["regex", "variables"]; set "p" "(a"; if header :regex "subject" "${p}" { discard; }');
  assert.match(r.errors?.[0]?.message ?? '', /invalid regular expression/);
  assert.deepEqual(summary(r.actions), ['implicit-keep']);
});

test('long submatches and lone surrogates do not break evaluation', () => {
  const long = 'x'.repeat(200000);
  const r = run('require ["regex", "variables", "body"]; if body :regex "(x+)" { set :length "n" "${1}"; if string :is "${n}" "200000" { discard; } }', `Subject: s\n\n${long}\n`);
  assert.equal(r.errors, undefined);
  assert.deepEqual(summary(r.actions), ['discard']);
  // A lone surrogate cannot be written any more (${unicode:d800} is a compile error), and captures are whole code points.
  assert.equal(compile('require ["enotify", "variables", "encoded-character"]; set :encodeurl "e" "${unicode:d800}"; keep;').ok, false);
  const s = run('require ["enotify", "variables", "regex"]; if header :regex "subject" "^(.)" { set :encodeurl "e" "${1}"; if string :is "${e}" "%F0%9F%98%80" { discard; } }', 'Subject: \u{1F600}x\n\nx');
  assert.equal(s.errors, undefined);
  assert.deepEqual(summary(s.actions), ['discard']);
});

test('limits: include depth, variables, variable size', () => {
  const host = { includeScript: (n: string) => `require "include"; include "${n}x";` };
  const deep = run('require "include"; include "a";', undefined, { host });
  assert.match(deep.errors?.[0]?.message ?? '', /nested too deeply/);
  const many = compile('require "variables";\n' + Array.from({ length: 300 }, (_, i) => `set "v${i}" "x";`).join('\n'));
  assert.ok(many.ok);
  if (many.ok) assert.match(evaluate(many.program, message('S: x\n\nx'), { from: '', to: 'a@b.c' }).errors?.[0]?.message ?? '', /too many variables/);
  const r = run('require ["variables", "fileinto"]; set "big" "${x}' + 'y'.repeat(5000) + '"; set :length "n" "${big}"; fileinto "${n}";');
  assert.deepEqual(summary(r.actions), ['fileinto 4096']);
});
