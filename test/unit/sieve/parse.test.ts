// RFC 5228 syntax: lexical forms, positioned errors, validation messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScript } from '../../../sieve/compile/parse.js';
import { compile } from '../../../sieve/index.js';
import { actions, compileError, errorText, run } from './helpers.js';

test('comments, both kinds, anywhere whitespace is allowed', () => {
  const s = '# hash comment\r\nrequire /* inline */ "fileinto"; # trailing\r\n/* multi\r\n line */ fileinto "a";';
  assert.deepEqual(actions(s), ['fileinto a']);
});

test('multi-line strings: text: ... with dot-stuffing and a comment after text:', () => {
  const ast = parseScript('require "reject";\nreject text: # why\nline one\n..starts with dot\n.\n;');
  const arg = ast.commands[1]!.args[0]!;
  assert.equal(arg.kind, 'string');
  assert.equal(arg.kind === 'string' ? arg.value : '', 'line one\r\n.starts with dot\r\n');
});

test('quoted strings: \\" and \\\\ are escapes, other backslashes are dropped', () => {
  const ast = parseScript('keep :x "a\\"b\\\\c\\d";');
  const a = ast.commands[0]!.args[1]!;
  assert.equal(a.kind === 'string' ? a.value : '', 'a"b\\cd');
});

test('numbers with K, M and G quantifiers', () => {
  const ast = parseScript('if size :over 1K { } if size :over 2M { } if size :under 1G { }');
  const nums = ast.commands.map((c) => c.tests[0]!.args[1]!);
  assert.deepEqual(nums.map((n) => (n.kind === 'number' ? n.value : -1)), [1024, 2 * 1024 * 1024, 1024 ** 3]);
});

test('identifiers and tags are case-insensitive', () => {
  assert.deepEqual(actions('REQUIRE "fileinto"; IF HEADER :CONTAINS "subject" "present" { FileInto "X"; }'), ['fileinto X']);
});

test('string lists, nested tests, if/elsif/else', () => {
  const s = 'require "fileinto"; if anyof (header :is "x" "y", allof (true, not false)) { fileinto "a"; } elsif true { fileinto "b"; } else { fileinto "c"; }';
  assert.deepEqual(actions(s), ['fileinto a']);
});

test('positioned errors: unknown test, missing require, syntax', () => {
  assert.equal(errorText('require "fileinto";\nif true {\n  keep;\n  if hedaer :is "a" "b" { stop; }\n}'), '4:6: unknown test \'hedaer\'');
  assert.equal(errorText('keep;\nfileinto "x";'), '2:1: fileinto used without require "fileinto"');
  const e = compileError('if true { keep }');
  assert.equal(e.line, 1);
  assert.equal(e.col, 16);
  assert.match(e.message, /syntax error/);
  assert.equal(errorText('frobnicate;'), "1:1: unknown command 'frobnicate'");
});

test('validator: require must come first and name known capabilities', () => {
  assert.match(errorText('require "x-unknown";'), /^1:9: require: unknown Sieve capability 'x-unknown'/);
  assert.match(errorText('keep;\nrequire "fileinto";'), /^2:1: require is only allowed at the beginning/);
});

test('validator: argument counts and types', () => {
  assert.match(errorText('redirect;'), /requires 1 positional argument/);
  assert.match(errorText('redirect 5;'), /expects a string/);
  assert.match(errorText('keep "x";'), /takes no positional arguments/);
  assert.match(errorText('if header "a" { }'), /requires 2 positional arguments/);
  assert.match(errorText('if size 5 { }'), /requires :over or :under/);
  assert.match(errorText('if not (true, false) { }'), /exactly one test/);
  assert.match(errorText('keep { }'), /does not take a block/);
  assert.match(errorText('if true;'), /requires a block/);
  assert.match(errorText('else { }'), /else without a preceding if/);
});

test('validator: tags - unknown, conflicting, needing their extension, needing an argument', () => {
  assert.match(errorText('if header :frob "a" "b" { }'), /unknown tagged argument ':frob' for the header test/);
  assert.match(errorText('if header :is :contains "a" "b" { }'), /:contains cannot be used together with :is/);
  assert.match(errorText('if header :regex "a" "b" { }'), /:regex used without require "regex"/);
  assert.match(errorText('if header :comparator "a" "b" "c" { }'), /unknown comparator 'a'/);
  assert.match(errorText('if header :comparator { }'), /:comparator requires a string argument/);
  assert.match(errorText('require "relational"; if header :value "xx" "a" "b" { }'), /invalid relational match 'xx'/);
  assert.match(errorText('if header :comparator "i;ascii-numeric" "a" "b" { }'), /without require "comparator-i;ascii-numeric"/);
  assert.match(errorText('require "comparator-i;ascii-numeric"; if header :contains :comparator "i;ascii-numeric" "a" "b" { }'), /does not support :contains/);
  assert.match(errorText('require "regex"; if header :regex "a" "(" { }'), /invalid regular expression/);
});

test('limits: script size and nesting are positioned errors', () => {
  const big = compile('keep;', { limits: { maxScriptSize: 3 } });
  assert.equal(big.ok, false);
  const deep = 'if true { '.repeat(40) + '}'.repeat(40);
  const r = compile(deep);
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.errors[0]!.message, /nested too deeply/);
});

test('compile results are cached per script text', () => {
  const a = compile('keep;');
  const b = compile('keep;');
  assert.equal(a, b);
});

test('an empty script keeps the message (implicit keep)', () => {
  assert.deepEqual(run('').actions, [{ type: 'keep', implicit: true }]);
});

test('unterminated strings, text: blocks and comments say so, where they start', () => {
  assert.equal(errorText('if header :is "a {'), "1:15: syntax error: unterminated string (missing closing '\"')");
  assert.equal(errorText('keep;\nreject text:\nfoo\n'), '2:8: syntax error: unterminated multi-line string (missing a line with a single ".")');
  assert.equal(errorText('keep; /* open'), '1:7: syntax error: unterminated comment (missing "*/")');
});

test('run-time errors carry the position of the command that failed', () => {
  const r = run('require ["reject", "fileinto"];\nfileinto "x";\nreject "no";');
  assert.equal(r.errors?.[0]?.line, 3);
  assert.equal(r.errors?.[0]?.col, 1);
});

test('validator: the address test only takes address header fields (as Pigeonhole)', () => {
  assert.match(errorText('if address :is "subject" "x" { keep; }'), /^1:16: specified header 'subject' is not allowed for the address test/);
  assert.equal(compile('if address :is ["from", "Resent-To", "delivered-to"] "x" { keep; }').ok, true);
  assert.match(errorText('require "fileinto"; fileinto ["a"];'), /expects a string as argument 1, found string list/);
});
