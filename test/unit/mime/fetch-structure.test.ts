// Unit tests of the IMAP renderer and BODY[section] resolution
// (src/protocol/imap/fetch-structure.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fixturesDir } from '../../support/paths.js';
import { indexMessage, toCrlf } from '../../../mime/index.js';
import {
  imapNstring,
  imapNstringNoLf,
  imapStringForHumans,
  parseSection,
  renderBody,
  renderBodyStructure,
  renderEnvelope,
  sectionBytes,
} from '../../../src/protocol/imap/fetch-structure.js';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1');
const fixture = (n: string): Buffer => fs.readFileSync(path.join(fixturesDir, 'imap', `${n}.eml`));

test('nstring quoting: quoted, escaped, literal, NIL', () => {
  assert.equal(imapNstring(null), 'NIL');
  assert.equal(imapNstring(undefined), 'NIL');
  assert.equal(imapNstring(''), '""');
  assert.equal(imapNstring('plain text'), '"plain text"');
  assert.equal(imapNstring('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(imapNstring('""""'), '"\\"\\"\\"\\""');
  assert.equal(imapNstring('"""""'), '{5}\r\n"""""');
  assert.equal(imapNstring('a\nb'), '{3}\r\na\nb');
  assert.equal(imapNstring('caf\xe9'), '{4}\r\ncaf\xe9');
  assert.equal(imapNstringNoLf('a\n b\nc'), '"a bc"'.replace('bc', 'b c'));
  assert.equal(imapNstringNoLf('x\r\n\ty'), '"x\ty"');
});

test('strings for humans: whitespace collapsed, literal when changed', () => {
  assert.equal(imapStringForHumans('hello world'), '"hello world"');
  assert.equal(imapStringForHumans('  lots   of\tspaces  '), '{14}\r\nlots of spaces');
  assert.equal(imapStringForHumans('say "hi"'), '{8}\r\nsay "hi"');
  assert.equal(imapStringForHumans('   '), '""');
  assert.equal(imapStringForHumans('a\n b'), '{3}\r\na b');
  assert.equal(imapStringForHumans(''), '""');
});

test('BODYSTRUCTURE of a simple message', () => {
  const idx = indexMessage(crlf('From: a@b.test\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nhello\n'));
  assert.equal(renderBodyStructure(idx), '("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 7 1 NIL NIL NIL NIL)');
  assert.equal(renderBody(idx), '("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 7 1)');
});

test('BODYSTRUCTURE defaults: no Content-Type means text/plain us-ascii', () => {
  const idx = indexMessage(crlf('Subject: x\n\nbody\n'));
  assert.equal(renderBodyStructure(idx), '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL)');
});

test('BODYSTRUCTURE of multipart with message/rfc822 (Dovecot test vector)', () => {
  // The message of Dovecot's test-imap-bodystructure.c, with its expected output.
  const msg =
    'From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\nContent-Type: multipart/mixed; boundary="foo\n bar"\n\nRoot MIME prologue\n\n--foo bar\n' +
    'Content-Type: text/x-myown; charset=us-ascii; foo="quoted\\"string"\nContent-ID: <foo@example.com>\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\nContent-Disposition: inline; foo=bar\nContent-Description: hellodescription\nContent-Language: en, fi, se\nContent-Location: http://example.com/test.txt\n\nhello\n\n--foo bar\n' +
    'Content-Type: message/rfc822\n\nFrom: sub@domain.org\nTo: sub-to1@domain.org, sub-to2@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\nContent-Type: multipart/alternative; boundary="sub1"\n\nSub MIME prologue\n--sub1\nContent-Type: text/html\nContent-Transfer-Encoding: 8bit\n\n<p>Hello world</p>\n\n--sub1\nContent-Type: text/plain\nContent-Transfer-Encoding: ?invalid\n\nHello another world\n\n--sub1--\nSub MIME epilogue\n\n--foo bar--\nRoot MIME epilogue\n';
  const idx = indexMessage(Buffer.from(msg, 'latin1'));
  const expected =
    '("text" "x-myown" ("charset" "us-ascii" "foo" "quoted\\"string") "<foo@example.com>" "hellodescription" "7bit" 7 1 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("inline" ("foo" "bar")) ("en" "fi" "se") "http://example.com/test.txt")' +
    '("message" "rfc822" NIL NIL NIL "7bit" 412 ("Sun, 12 Aug 2012 12:34:56 +0300" "submsg" ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub-to1" "domain.org")(NIL NIL "sub-to2" "domain.org")) NIL NIL NIL NIL) ' +
    '(("text" "html" ("charset" "us-ascii") NIL NIL "8bit" 20 1 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 21 1 NIL NIL NIL NIL) "alternative" ("boundary" "sub1") NIL NIL NIL) 21 NIL NIL NIL NIL) "mixed" ("boundary" "foo bar") NIL NIL NIL';
  assert.equal(renderBodyStructure(idx), `(${expected})`);
});

test('ENVELOPE: sender and reply-to default to from; groups; literals', () => {
  const idx = indexMessage(crlf('From: "A B" <a@b.test>\nTo: g: x@y.test;\nSubject: say "hi"\nMessage-ID: <m@b.test>\n\n'));
  assert.equal(
    renderEnvelope(idx.envelope),
    '(NIL {8}\r\nsay "hi" (("A B" NIL "a" "b.test")) (("A B" NIL "a" "b.test")) (("A B" NIL "a" "b.test")) ((NIL NIL "g" NIL)(NIL NIL "x" "y.test")(NIL NIL NIL NIL)) NIL NIL NIL "<m@b.test>")',
  );
  assert.equal(renderEnvelope({}), '(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)');
});

test('section spec parsing', () => {
  assert.deepEqual(parseSection(''), { path: [], kind: '' });
  assert.deepEqual(parseSection('1.2'), { path: [1, 2], kind: '' });
  assert.deepEqual(parseSection('1.2.MIME'), { path: [1, 2], kind: 'MIME' });
  assert.deepEqual(parseSection('2.text'), { path: [2], kind: 'TEXT' });
  assert.deepEqual(parseSection('HEADER.FIELDS (From "To")'), { path: [], kind: 'HEADER.FIELDS', fields: ['FROM', 'TO'] });
  assert.deepEqual(parseSection('1.HEADER.FIELDS.NOT (A)'), { path: [1], kind: 'HEADER.FIELDS.NOT', fields: ['A'] });
  assert.equal(parseSection('MIME'), null);
  assert.equal(parseSection('0'), null);
  assert.equal(parseSection('1.X'), null);
  assert.equal(parseSection('HEADER.FIELDS ()'), null);
});

test('section bytes: parts, MIME headers, embedded HEADER/TEXT, partial', () => {
  const raw = fixture('006');
  const idx = indexMessage(raw);
  assert.equal(sectionBytes(raw, idx, '1')?.toString(), 'See attached.');
  assert.equal(sectionBytes(raw, idx, '1.MIME')?.toString(), 'Content-Type: text/plain\r\n\r\n');
  assert.match(sectionBytes(raw, idx, '2.HEADER')!.toString(), /^From: Carol <carol@example.test>\r\n[\s\S]*\r\n\r\n$/);
  assert.equal(sectionBytes(raw, idx, '2.TEXT')?.toString(), 'inner body\r\nline 2');
  assert.equal(sectionBytes(raw, idx, '2.1')?.toString(), 'inner body\r\nline 2');
  assert.equal(sectionBytes(raw, idx, '2.TEXT', { offset: 6, length: 4 })?.toString(), 'body');
  assert.equal(sectionBytes(raw, idx, '2.TEXT', { offset: 1000 })?.length, 0);
  assert.equal(sectionBytes(raw, idx, '')?.length, raw.length);
  assert.equal(sectionBytes(raw, idx, '3'), null);
  assert.equal(sectionBytes(raw, idx, '1.HEADER'), null);
  assert.equal(sectionBytes(raw, idx, 'HEADER.FIELDS (SUBJECT TO)')?.toString(), 'To: Bob <bob@example.test>\r\nSubject: fixture\r\n\r\n');
  const not = sectionBytes(raw, idx, 'HEADER.FIELDS.NOT (FROM TO DATE SUBJECT MESSAGE-ID)')!.toString();
  assert.equal(not, 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b6"\r\n\r\n');
});

test('section bytes of a bare-LF message come out with CRLF', () => {
  const raw = fixture('020');
  const idx = indexMessage(raw);
  assert.equal(sectionBytes(raw, idx, '1')?.toString(), 'unix\r\nline endings');
  assert.equal(sectionBytes(raw, idx, '')?.length, idx.vsize);
  assert.equal(toCrlf(Buffer.from('a\nb\r\nc\n')).toString(), 'a\r\nb\r\nc\r\n');
});

test('non-multipart message: part 1 is the body, 1.MIME its header', () => {
  const raw = crlf('Subject: s\n\nbody\n');
  const idx = indexMessage(raw);
  assert.equal(sectionBytes(raw, idx, '1')?.toString(), 'body\r\n');
  assert.equal(sectionBytes(raw, idx, 'TEXT')?.toString(), 'body\r\n');
  assert.equal(sectionBytes(raw, idx, 'HEADER')?.toString(), 'Subject: s\r\n\r\n');
  assert.equal(sectionBytes(raw, idx, '2'), null);
});
