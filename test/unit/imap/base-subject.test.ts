// RFC 5256 section 2.1 base subjects and the i;unicode-casemap sort form,
// as Dovecot 2.3 computes them (checked against it in
// test/conformance/imap-sort-thread-dovecot.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseSubject, compareCodePoints, replaceInvalidUtf8, unicodeCasemap } from '../../../src/protocol/imap/base-subject.js';

const base = (s: string) => baseSubject(s).subject;
const reply = (s: string) => baseSubject(s).replyOrForward;

test('subj-refwd leaders: re, fw, fwd, with optional space and blob before the colon (steps 3 and 5)', () => {
  assert.equal(base('Re: Hello'), 'HELLO');
  assert.equal(base('re:hello'), 'HELLO');
  assert.equal(base('Fw: Hello'), 'HELLO');
  assert.equal(base('FWD: Hello'), 'HELLO');
  assert.equal(base('Fwd : Hello'), 'HELLO');
  assert.equal(base('Re[2]: Hello'), 'HELLO');
  assert.equal(base('Re [2]: Hello'), 'HELLO');
  assert.equal(base('RE:  re: Fwd:Re: Hello'), 'HELLO');
  assert.equal(base('Fwd:Re:Fw: Lunch'), 'LUNCH');
  assert.equal(reply('Re: Hello'), true);
  assert.equal(reply('Fw[3]: Hello'), true);
  // Not leaders: no colon, or a longer word.
  assert.equal(base('Reply: Hello'), 'REPLY: HELLO');
  assert.equal(base('Fwd without colon'), 'FWD WITHOUT COLON');
  assert.equal(base('Aw: Antwort'), 'AW: ANTWORT');
  assert.equal(reply('Reply: Hello'), false);
});

test('blobs: before a leader they go with it; alone they go only when text is left (step 4)', () => {
  assert.equal(base('[list] Re: Hello'), 'HELLO');
  assert.equal(reply('[list] Re: Hello'), true);
  assert.equal(base('[list] Hello'), 'HELLO');
  assert.equal(reply('[list] Hello'), false, 'removing a blob does not make a reply');
  assert.equal(base('[announce][misc] Lunch'), 'LUNCH');
  assert.equal(base('[PATCH 1/2] fix the thing'), 'FIX THE THING');
  assert.equal(base('[only-a-blob]'), '[ONLY-A-BLOB]');
  assert.equal(base('[a][b]'), '[B]');
  assert.equal(base('Re: [list]'), '[LIST]');
  assert.equal(base('[list] Re: [other] Fwd: Deep'), 'DEEP');
  assert.equal(base('[unclosed blob'), '[UNCLOSED BLOB');
  assert.equal(base('[a[b] x'), '[A[B] X', 'a "[" inside a blob ends it as no blob');
});

test('trailers and the [fwd: ...] wrapper (steps 2 and 6), repeated until nothing changes', () => {
  assert.equal(base('Hello (fwd)'), 'HELLO');
  assert.equal(reply('Hello (fwd)'), true);
  assert.equal(base('Hello (fwd) (FWD)  '), 'HELLO');
  assert.equal(base('Subject with (fwd) in middle (FWD)'), 'SUBJECT WITH (FWD) IN MIDDLE');
  assert.equal(base('[Fwd: Re: Budget 2024]'), 'BUDGET 2024');
  assert.equal(reply('[Fwd: Budget]'), true);
  assert.equal(base('[fwd: [fwd: Nested]]'), 'NESTED');
  assert.equal(base('Re: [fwd: Wrapped]'), 'WRAPPED');
  assert.equal(base('Re: [list] Re: Fwd: Lunch (fwd) (fwd)'), 'LUNCH');
  assert.equal(base('FWD: [list] Project  plan (fwd)'), 'PROJECT PLAN');
  assert.equal(base('(fwd)'), '');
});

test('whitespace: tabs, CR, LF and runs of spaces fold to one space; nothing left is the empty subject', () => {
  assert.equal(base('  Leading spaces\tand\ttabs  '), 'LEADING SPACES AND TABS');
  assert.equal(base('a\r\n\tb'), 'A B');
  assert.equal(base('Re:'), '');
  assert.equal(base('re: re: (fwd) (fwd)'), '');
  assert.equal(base('   '), '');
  assert.equal(base(''), '');
  assert.equal(reply(''), false);
});

test('casemap: titlecase, then one level of decomposition as Dovecot tabulates it', () => {
  assert.equal(unicodeCasemap('abc xyz_'), 'ABC XYZ_');
  assert.equal(base('Re: été'), 'E\u0301TE\u0301');
  assert.equal(unicodeCasemap('ü ³'), 'U\u0308 3');
  // One level only: "ế" is "Ê" + acute, and the Angstrom sign is "Å", not A + ring.
  assert.equal(unicodeCasemap('\u1ebf'), '\u00ca\u0301');
  assert.equal(unicodeCasemap('\u212b'), '\u00c5');
  // No canonical reordering of combining marks.
  assert.equal(unicodeCasemap('e\u0301\u0323'), 'E\u0301\u0323');
  // Compatibility mappings; their output is not upper-cased again.
  assert.equal(unicodeCasemap('\ufb01'), 'fi');
  assert.equal(unicodeCasemap('\uff21'), 'A');
  assert.equal(unicodeCasemap('\u00bd'), '1\u20442');
  assert.equal(unicodeCasemap('\u00a0'), ' ');
  // Simple (one-character) mappings only; titlecase where it differs from uppercase.
  assert.equal(unicodeCasemap('straße'), 'STRAßE');
  assert.equal(unicodeCasemap('\u01c6'), '\u01c5');
  assert.equal(unicodeCasemap('\u10d0'), '\u10d0');
  assert.equal(unicodeCasemap('\u1f80'), '\u1f08\u0345');
  assert.equal(unicodeCasemap('\u0131'), 'I');
  assert.equal(unicodeCasemap('\u03c2'), '\u03a3');
  // A non-breaking space in a subject folds like a space.
  assert.equal(base('Re:\u00a0nbsp'), 'NBSP');
});

test('strings compare as UTF-8 bytes: "_" after letters, decomposed accents with their letter, astral last', () => {
  const sorted = ['_under', 'zebra', 'Apple', 'été', '[blob', '\u{1f600}', '\ue000'].map(unicodeCasemap).sort(compareCodePoints);
  assert.deepEqual(sorted, ['APPLE', 'E\u0301TE\u0301', 'ZEBRA', '[BLOB', '_UNDER', '\ue000', '\u{1f600}']);
  assert.equal(compareCodePoints('', 'A'), -1);
  assert.equal(compareCodePoints('AB', 'AB'), 0);
});

test('invalid UTF-8 in raw header bytes becomes one U+FFFD per run, as Dovecot reads it', () => {
  const fffd = Buffer.from('\ufffd', 'utf8').toString('latin1');
  assert.equal(replaceInvalidUtf8('Re: caf\xe9 latin1'), `Re: caf${fffd} latin1`);
  assert.equal(replaceInvalidUtf8('\xe9\xe9x'), `${fffd}x`);
  const valid = Buffer.from('Straße', 'utf8').toString('latin1');
  assert.equal(replaceInvalidUtf8(valid), valid);
  assert.equal(replaceInvalidUtf8('plain'), 'plain');
});

test('hostile subjects are handled in linear time', () => {
  const started = Date.now();
  assert.equal(base('[a]'.repeat(100_000) + 'x'), 'X');
  assert.equal(base('[a] '.repeat(100_000)), '[A]');
  assert.equal(base('[a]'.repeat(100_000) + '[unclosed').slice(0, 3), '[UN');
  assert.equal(base('Re: '.repeat(100_000) + 'x'), 'X');
  assert.equal(base('[fwd: '.repeat(50_000) + 'x' + ']'.repeat(50_000)), 'X');
  assert.equal(base('x' + ' (fwd)'.repeat(100_000)), 'X');
  assert.equal(base('['.repeat(200_000)), '['.repeat(200_000));
  // Generous: each case is linear; a quadratic one would take minutes.
  assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
});
