// Sieve code that runs on the message (a stranger's data) is linear in it:
// a megabyte of the worst pattern for each former backtracking RegExp, run
// through a real script, finishes at once and answers as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run, summary } from './helpers.js';
import { parseRfc5322Date } from '../../../sieve/commands/date.js';
import { parseSingleAddress } from '../../../sieve/runtime/single-address.js';
import { unfoldHeaderValue } from '../../../sieve/runtime/rfc2047.js';
import { fast, MB } from '../../support/hostile.js';

const validRedirectAddress = (a: string): boolean => parseSingleAddress(a).ok;

const html = (body: string) => `From: a@b.example\r\nSubject: h\r\nContent-Type: text/html\r\n\r\n${body}\r\n`;
const bodyText = (script: string, body: string) => summary(run(`require ["body", "fileinto"]; ${script}`, html(body)).actions);

test('body :text over HTML: scripts, styles and tags go; runs of "<" do not backtrack', () => {
  assert.deepEqual(bodyText('if body :text :contains "click here" { fileinto "hit"; }', '<p>please <b>click</b> <i>here</i></p><script>x</script>'), ['fileinto hit']);
  assert.deepEqual(bodyText('if body :text :contains "secret" { fileinto "hit"; }', '<SCRIPT type="x">secret</script ><p>ok</p>'), ['implicit-keep']);
  assert.deepEqual(bodyText('if body :text :contains "a<b" { fileinto "hit"; }', 'a&lt;b'), ['fileinto hit']);
  for (const [label, body] of [
    ['"<" run', '<'.repeat(MB)],
    ['unclosed scripts', '<script>'.repeat(MB / 8)],
    ['unclosed styles and scripts', '<style<script'.repeat(MB / 13)],
    ['inline tag openings', '<b'.repeat(MB / 2)],
    ['closing tags without ">"', '</script'.repeat(MB / 8)],
  ] as const) {
    fast(label, () => bodyText('if body :text :contains "never there" { fileinto "hit"; }', body));
  }
});

test('header values: a folded field with a long blank run inside', () => {
  const field = `X-Long: a${' '.repeat(MB)}b\r\n c`;
  assert.equal(fast('unfold and trim', () => unfoldHeaderValue(`a${' \t'.repeat(MB / 2)}b\r\n c  `)), `a${' \t'.repeat(MB / 2)}b c`);
  const r = fast('header :contains', () => run('if header :contains "X-Long" "b c" { discard; }', `${field}\r\nSubject: x\r\n\r\nbody\r\n`));
  assert.deepEqual(summary(r.actions), ['discard']);
});

test('date: comments and blank runs in a Date field', () => {
  assert.equal(parseRfc5322Date('Tue, 1 Apr 1997 09:06:31 -0800 (PST)')?.offset, -480);
  assert.equal(parseRfc5322Date('1 Apr 1997 09:06:31 (a (nested) comment) +0100')?.offset, 60);
  assert.equal(parseRfc5322Date('1 Apr 1997 09:06:31 +0100 (unclosed')?.offset, 60);
  assert.equal(fast('"(" run', () => parseRfc5322Date('('.repeat(MB))), undefined);
  assert.equal(fast('blank run before junk', () => parseRfc5322Date('1 Jan 2020 10:00' + ' \t'.repeat(MB / 2) + 'x!')), undefined);
  const r = fast('date test', () =>
    run('require "date"; if date :is "date" "year" "2020" { discard; }', `Date: 1 Jan 2020 10:00 ${'('.repeat(MB)}\r\nSubject: x\r\n\r\nbody\r\n`),
  );
  assert.deepEqual(summary(r.actions), ['discard']);
});

test('redirect: an address made of the message (variables) cannot blow up the check', () => {
  assert.equal(validRedirectAddress('first.last@example.org'), true);
  assert.equal(validRedirectAddress('"quoted"@example.org'), true);
  assert.equal(validRedirectAddress('no-at-sign'), false);
  // "a." 25 times then junk took about ten seconds, each "a." more doubling it.
  assert.equal(fast('dotted local part, bad end', () => validRedirectAddress('a.'.repeat(MB / 2) + '!@')), false);
  // Pigeonhole's grammar takes "x!" as a domain (atext), so only the time is checked here.
  fast('dotted local part, odd domain', () => validRedirectAddress('a.a'.repeat(MB / 3) + '@x!'));
  const r = fast('redirect of a header value', () =>
    run('require "variables"; if header :matches "X-To" "*" { redirect "${1}"; }', `X-To: ${'a.'.repeat(50)}!\r\nSubject: x\r\n\r\nbody\r\n`),
  );
  assert.ok(r.errors?.length || summary(r.actions).every((a) => !a.startsWith('redirect')));
});
