// RFC 5228 examples and core semantics: implicit keep, cancellation,
// duplicate actions, comparators and match types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { actions, errorText, matches, run, RFC5228_MESSAGE } from './helpers.js';

const section9 = `#
# Example Sieve Filter
# Declare any optional features or extension used by the script
#
require ["fileinto"];

#
# Handle messages from known mailing lists
# Move messages from IETF filter discussion list to filter mailbox
#
if header :is "Sender" "owner-ietf-mta-filters@imc.org"
        {
        fileinto "filter";  # move to "filter" mailbox
        }
#
# Keep all messages to or from people in my company
#
elsif address :DOMAIN :is ["From", "To"] "example.com"
        {
        keep;               # keep in "In" mailbox
        }

#
# Try and catch unsolicited email.  If a message is not to me,
# or it contains a subject known to be spam, file it away.
#
elsif anyof (NOT address :all :contains
               ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject"
               ["*make*money*fast*", "*university*dipl*mas*"])
        {
        fileinto "spam";   # move to "spam" mailbox
        }
else
        {
        # Move all other (non-company) mail to "personal"
        # mailbox.
        fileinto "personal";
        }
`;

test('RFC 5228 section 9 example script', () => {
  assert.deepEqual(actions(section9, 'Sender: owner-ietf-mta-filters@imc.org\n\nx'), ['fileinto filter']);
  assert.deepEqual(actions(section9, 'From: a@example.com\nTo: me@example.com\n\nx'), ['keep']);
  assert.deepEqual(actions(section9, 'From: a@example.net\nTo: you@example.net\n\nx'), ['fileinto spam']);
  assert.deepEqual(actions(section9, 'From: a@example.net\nTo: list@example.net\nCc: me@example.com\nSubject: MAKE MONEY FAST now\n\nx'), ['fileinto spam']);
  assert.deepEqual(actions(section9, 'From: a@example.net\nTo: list@example.net\nCc: me@example.com\nSubject: hello\n\nx'), ['fileinto personal']);
});

test('RFC 5228 2.7.2 / 5.6: header :contains, :comparator i;octet', () => {
  const m = 'Subject: make money fast\n\nx';
  assert.equal(matches('header :comparator "i;octet" :contains "Subject" "MAKE MONEY FAST"', m), false);
  assert.equal(matches('header :contains "Subject" "MAKE MONEY FAST"', m), true);
  assert.deepEqual(actions('if header :contains ["From","To"] "idiot@example.com" { discard; }', 'To: the idiot@example.com\n\nx'), ['discard']);
});

test('RFC 5228 3.1 example: anyof/not exists', () => {
  const s = 'if anyof (not exists ["From", "Date"], header :contains "from" "fool@example.com") { discard; }';
  assert.deepEqual(actions(s, 'From: a@b.c\n\nx'), ['discard']);
  assert.deepEqual(actions(s, RFC5228_MESSAGE), ['implicit-keep']);
});

test('RFC 5228 5.1 / 5.4: address and envelope', () => {
  assert.deepEqual(actions('if address :is :all "from" "coyote@desert.example.org" { discard; }'), ['discard']);
  assert.deepEqual(actions('require "envelope"; if envelope :all :is "from" "tim@example.com" { discard; }', RFC5228_MESSAGE, { from: 'tim@example.com' }), ['discard']);
  assert.equal(matches('envelope :all :is "from" ""', RFC5228_MESSAGE, ['envelope'], { from: '' }), true);
  assert.equal(matches('envelope :domain :is "from" ""', RFC5228_MESSAGE, ['envelope'], { from: '' }), false);
  assert.equal(matches('address :localpart :is "to" "roadrunner"', RFC5228_MESSAGE), true);
  assert.equal(matches('address :domain :is "to" "ACME.example.com"', RFC5228_MESSAGE), true);
});

test('RFC 5228 5.9 size with K/M quantifiers', () => {
  assert.deepEqual(actions('if size :over 500K { discard; }'), ['implicit-keep']);
  assert.deepEqual(actions('if size :under 1M { discard; }'), ['discard']);
  const size = Buffer.byteLength(RFC5228_MESSAGE);
  assert.equal(matches(`size :over ${size - 1}`, RFC5228_MESSAGE), true);
  assert.equal(matches(`size :over ${size}`, RFC5228_MESSAGE), false);
  assert.equal(matches(`size :under ${size}`, RFC5228_MESSAGE), false);
});

test('RFC 5228 2.10.2 implicit keep: cancelled by keep, fileinto, redirect, discard; not by stop', () => {
  assert.deepEqual(actions('stop;'), ['implicit-keep']);
  assert.deepEqual(actions('keep;'), ['keep']);
  assert.deepEqual(actions('discard;'), ['discard']);
  assert.deepEqual(actions('redirect "a@example.net";'), ['redirect a@example.net']);
  assert.deepEqual(actions('require "fileinto"; fileinto "x";'), ['fileinto x']);
  assert.deepEqual(actions('discard; keep;'), ['discard', 'keep']);
});

test('RFC 5228 2.10.3 / 4: duplicate actions are done once', () => {
  assert.deepEqual(actions('keep; keep;'), ['keep']);
  assert.deepEqual(actions('require "fileinto"; fileinto "A"; fileinto "A"; keep; fileinto "INBOX";'), ['fileinto A', 'keep']);
  // The same addr-spec is one redirect; the domain is compared without case, the local part with (Pigeonhole).
  assert.deepEqual(actions('redirect "a@example.net"; redirect "a@EXAMPLE.net";'), ['redirect a@example.net']);
  assert.deepEqual(actions('redirect "a@example.net"; redirect "A@example.net";'), ['redirect a@example.net', 'redirect A@example.net']);
});

test('RFC 5228 4.2 redirect: invalid addresses are refused', () => {
  assert.deepEqual(actions('redirect "bart@example.com";'), ['redirect bart@example.com']);
  const r = run('require "variables"; set "a" "not an address"; redirect "${a}";');
  assert.ok(r.errors);
  assert.deepEqual(r.actions, [{ type: 'keep', implicit: true }]);
});

test('match types: :is, :contains, :matches with * ? and escapes', () => {
  const m = 'Subject: a*b?c and more\n\nx';
  assert.equal(matches('header :is "subject" "A*B?C AND MORE"', m), true);
  assert.equal(matches('header :contains "subject" "B?C"', m), true);
  assert.equal(matches('header :matches "subject" "a\\\\*b\\\\?c*"', m), true);
  assert.equal(matches('header :matches "subject" "a\\\\*x*"', m), false);
  assert.equal(matches('header :matches "subject" "?*more"', m), true);
  assert.equal(matches('header :matches "subject" "*"', m), true);
  assert.equal(matches('header :matches "subject" "a*b?c?and*"', m), true);
  assert.equal(matches('header :matches "subject" "a??c*"', m), false);
  assert.equal(matches('header :contains "subject" ""', m), true);
  assert.equal(matches('header :contains "x-none" ""', m), false);
});

test('comparators: i;octet is exact, i;ascii-casemap folds ASCII only, i;ascii-numeric compares numbers', () => {
  const m = 'Subject: Ärger\nX-N: 0042abc\n\nx';
  assert.equal(matches('header :is "subject" "äRGER"', m), false);
  assert.equal(matches('header :is "subject" "ÄRGER"', m), true);
  assert.equal(matches('header :is :comparator "i;octet" "subject" "Ärger"', m), true);
  assert.equal(matches('header :is :comparator "i;ascii-numeric" "x-n" "42"', m, ['comparator-i;ascii-numeric']), true);
  assert.equal(matches('header :is :comparator "i;ascii-numeric" "subject" "x"', m, ['comparator-i;ascii-numeric']), true, 'two non-numbers are equal (both +infinity)');
});

test('header values are RFC 2047 decoded and unfolded before comparison', () => {
  const m = 'Subject: =?ISO-8859-1?Q?Caf=E9?= =?UTF-8?B?w6k=?=\n continued\n\nx';
  assert.equal(matches('header :is "subject" "Caféé continued"', m), true);
});

test('RFC 5228 2.4.2.4 encoded-character', () => {
  assert.equal(matches('header :is "subject" "$${hex:24 24}"', 'Subject: $$$\n\nx', ['encoded-character']), true);
  assert.equal(matches('header :is "subject" "${hex: 40}"', 'Subject: @\n\nx', ['encoded-character']), true);
  assert.equal(matches('header :is "subject" "${unicode:40}${UNICODE:263a}"', 'Subject: @☺\n\nx', ['encoded-character']), true);
  assert.equal(matches('header :is "subject" "${hex:40}"', 'Subject: ${hex:40}\n\nx'), true, 'without require it is literal');
  assert.equal(matches('header :is "subject" "${hex:zz}"', 'Subject: ${hex:zz}\n\nx', ['encoded-character']), true, 'malformed stays literal');
});

test('RFC 5228 2.4.2.4 encoded-character: edges read as Pigeonhole 0.5.19 reads them', () => {
  const is = (enc: string, subject: string): boolean => matches(`header :is "subject" "${enc}"`, `Subject: ${subject}\n\nx`, ['encoded-character']);
  assert.equal(is('<${unicode:D7FF}|${unicode:E000}|${unicode:10FFFF}>', '<\uD7FF|\uE000|\u{10FFFF}>'), true, 'the ends of the valid ranges');
  assert.equal(is('${unicode: 41\t42 }', 'AB'), true, 'whitespace around and between');
  assert.equal(is('${unicode:0000000000041}', 'A'), true, 'leading zeros');
  assert.equal(is('${unicode:1000000041}', 'A'), true, 'digits are read into 32 bits, higher ones fall off');
  assert.equal(is('${unicode:}${hex: }', '${unicode:}${hex: }'), true, 'an empty one stays literal');
  assert.equal(is('${hex:141}', '${hex:141}'), true, 'a hex item has one or two digits, else it stays literal');
  assert.equal(is('${unicode:41 zz}', '${unicode:41 zz}'), true, 'a non-hex item keeps it literal');
  assert.equal(is('${hex:E2 98 BA}', '\u263A'), true);
});

test('RFC 5228 2.4.2.4 encoded-character: a code point outside 0-D7FF and E000-10FFFF is a positioned compile error', () => {
  const err = (body: string): string => errorText(`require ["encoded-character", "fileinto"];\nif true {\n  fileinto "x\${unicode:${body}}y";\n}`);
  assert.equal(err('D800'), '3:12: invalid unicode character 0x0000d800 in encoded character substitution');
  assert.equal(err('DF01'), '3:12: invalid unicode character 0x0000df01 in encoded character substitution');
  assert.equal(err('DFFF'), '3:12: invalid unicode character 0x0000dfff in encoded character substitution');
  assert.equal(err(' 41 DF01 '), '3:12: invalid unicode character 0x0000df01 in encoded character substitution');
  assert.equal(err('41 DF01 42'), '3:12: invalid unicode character 0x0000df01 in encoded character substitution');
  assert.equal(err('110000'), '3:12: invalid unicode character 0x00110000 in encoded character substitution');
  assert.equal(err('7FFFFFFF'), '3:12: invalid unicode character 0x7fffffff in encoded character substitution');
  assert.equal(err('FFFFFFFF41'), '3:12: invalid unicode character 0xffffff41 in encoded character substitution');
  // Every string argument is checked: tags, list items (at the item's own line), multi-line strings.
  assert.equal(
    errorText('require ["encoded-character", "fileinto"];\nif header :contains "subject" ["x",\n    "${unicode:DC00}"] { keep; }'),
    '3:5: invalid unicode character 0x0000dc00 in encoded character substitution',
  );
  assert.equal(
    errorText('require ["encoded-character"];\nif header :comparator "i;${UNICODE:d800}" :is "subject" "x" { keep; }'),
    '2:23: invalid unicode character 0x0000d800 in encoded character substitution',
  );
  assert.equal(
    errorText('require ["encoded-character", "vacation"];\nvacation text:\nline one\n${unicode:110000}\n.\n;'),
    '2:10: invalid unicode character 0x00110000 in encoded character substitution',
  );
  // Without require "encoded-character" it is plain text; a malformed one is text too.
  assert.deepEqual(actions('require "fileinto"; fileinto "a${unicode:D800}";'), ['fileinto a${unicode:D800}']);
  assert.deepEqual(actions('require ["encoded-character", "fileinto"]; fileinto "a${unicode:d800";'), ['fileinto a${unicode:d800']);
  assert.deepEqual(actions('require ["encoded-character", "fileinto"]; fileinto "a$${unicode:41}";'), ['fileinto a$A']);
});
