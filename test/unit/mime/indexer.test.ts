// Unit tests of the MIME indexer (mime/): structure, offsets, sizes,
// envelope data, RFC 2231, search fields, robustness on broken input.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fixturesDir } from '../../support/paths.js';
import { hasDotLine, indexMessage, indexMessageJson, parseMessageIndex, MIME_INDEX_VERSION } from '../../../mime/index.js';
import type { MimePart } from '../../../mime/types.js';
import { parseAddressList } from '../../../mime/address.js';
import { Rfc822Parser, parseMimeParams } from '../../../mime/rfc822.js';
import { decodeHeader, parseDate } from '../../../mime/decode.js';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1');
const fixture = (n: string): Buffer => fs.readFileSync(path.join(fixturesDir, 'imap', `${n}.eml`));

function params(value: string): string[] {
  const p = new Rfc822Parser(value);
  return parseMimeParams(p);
}

test('simple text message: sizes, lines and offsets', () => {
  const raw = crlf('From: a@example.test\nSubject: hi\n\nline 1\nline 2\n');
  const idx = indexMessage(raw);
  assert.equal(idx.size, raw.length);
  assert.equal(idx.vsize, raw.length);
  assert.equal(idx.bareLf, false);
  const b = idx.body;
  assert.equal(b.kind, 'text');
  assert.equal(b.type, undefined);
  assert.equal(b.hdrOff, 0);
  assert.equal(raw.toString('latin1', b.hdrOff, b.hdrOff + b.hdrLen), 'From: a@example.test\r\nSubject: hi\r\n\r\n');
  assert.equal(raw.toString('latin1', b.hdrLen, b.hdrLen + b.bodyLen), 'line 1\r\nline 2\r\n');
  assert.equal(b.bodySize, 16);
  assert.equal(b.lines, 2);
});

test('dotLines: whether any line starts with "." (POP3 dot-stuffs those)', () => {
  const cases: Array<[string, boolean]> = [
    ['Subject: x\r\n\r\nno dot. at a line start.\r\n', false],
    ['.Subject: x\r\n\r\nbody\r\n', true],
    ['Subject: x\r\n\r\nbody\r\n.\r\n', true],
    ['Subject: x\r\n\r\nbody\r\n..two\r\n', true],
    ['Subject: x\n\n.after a bare LF\n', true],
    ['Subject: x\r\n.in the header\r\n\r\nbody\r\n', true],
    ['Subject: x\r\n\r\nends with a dot line\r\n.', true],
    ['', false],
  ];
  for (const [text, expected] of cases) {
    const raw = Buffer.from(text, 'latin1');
    assert.equal(indexMessage(raw).dotLines, expected, JSON.stringify(text));
    assert.ok(indexMessageJson(raw).includes(`"dotLines":${expected}`), JSON.stringify(text));
  }
  // NULs and bare LFs: said all the same.
  assert.equal(indexMessage(Buffer.from('\0\0\n.\n')).dotLines, true);
});

test('hasDotLine on long hostile input: one linear search, bounded by the test timeout', { timeout: 30_000 }, () => {
  assert.equal(hasDotLine(Buffer.alloc(32 * 1024 * 1024, '\r\n')), false);
  assert.equal(hasDotLine(Buffer.alloc(32 * 1024 * 1024, '\n')), false);
  const lateDot = Buffer.alloc(32 * 1024 * 1024, '\n');
  lateDot[lateDot.length - 1] = 0x2e;
  assert.equal(hasDotLine(lateDot), true);
  assert.equal(hasDotLine(Buffer.alloc(32 * 1024 * 1024, '.')), true);
});

test('bare LF: sizes are counted as CRLF, physical offsets stay raw', () => {
  const raw = Buffer.from('Subject: x\n\na\nb\n', 'latin1');
  const idx = indexMessage(raw);
  assert.equal(idx.bareLf, true);
  assert.equal(idx.size, raw.length);
  assert.equal(idx.vsize, raw.length + 4);
  assert.equal(idx.body.bodyLen, 4);
  assert.equal(idx.body.bodySize, 6);
  assert.equal(idx.body.hdrLen, 12);
  assert.equal(idx.body.hdrSize, 14);
});

test('multipart: the CRLF before a boundary belongs to the boundary', () => {
  const raw = crlf('Content-Type: multipart/mixed; boundary=b\n\npre\n--b\nContent-Type: text/plain\n\nhello\n--b\n\nsecond\n\n--b--\nepi\n');
  const idx = indexMessage(raw);
  const parts = idx.body.parts!;
  assert.equal(idx.body.kind, 'multipart');
  assert.equal(parts.length, 2);
  const body = (p: MimePart): string => raw.toString('latin1', p.hdrOff + p.hdrLen, p.hdrOff + p.hdrLen + p.bodyLen);
  const mime = (p: MimePart): string => raw.toString('latin1', p.hdrOff, p.hdrOff + p.hdrLen);
  assert.equal(mime(parts[0]!), 'Content-Type: text/plain\r\n\r\n');
  assert.equal(body(parts[0]!), 'hello');
  assert.equal(parts[0]!.lines, 0);
  assert.equal(mime(parts[1]!), '\r\n');
  assert.equal(body(parts[1]!), 'second\r\n');
  assert.equal(parts[1]!.lines, 1);
  assert.equal(parts[1]!.kind, 'text');
  // the root body spans everything after its header, epilogue included
  assert.equal(idx.body.hdrLen + idx.body.bodyLen, raw.length);
});

test('nested message/rfc822 twice: envelopes and offsets of embedded messages', () => {
  const raw = fixture('007');
  const idx = indexMessage(raw);
  const rfc = idx.body.parts![1]!;
  assert.equal(rfc.kind, 'message');
  const inner = rfc.parts![0]!;
  assert.equal(inner.kind, 'multipart');
  assert.equal(inner.env?.subject, 'level 2');
  assert.deepEqual(inner.env?.from, [[null, null, 'level2', 'example.test']]);
  const rfc2 = inner.parts![1]!;
  assert.equal(rfc2.kind, 'message');
  const inner2 = rfc2.parts![0]!;
  assert.equal(inner2.env?.subject, 'level 3');
  assert.equal(inner2.env?.inReplyTo, '<l2@example.test>');
  assert.equal(raw.toString('latin1', inner2.hdrOff + inner2.hdrLen, inner2.hdrOff + inner2.hdrLen + inner2.bodyLen), 'deepest body');
  // an embedded message's bytes are exactly the message/rfc822 part's body
  assert.equal(inner.hdrOff, rfc.hdrOff + rfc.hdrLen);
  assert.equal(inner.hdrLen + inner.bodyLen, rfc.bodyLen);
});

test('RFC 2231 continuations, charsets and broken parameters (Dovecot rules)', () => {
  assert.deepEqual(params('; name*0="a "; name*1=b; name*2="c.txt"'), ['name', 'a bc.txt']);
  assert.deepEqual(params("; name*=utf-8''%E2%82%AC.txt"), ['name*', "utf-8''%E2%82%AC.txt"]);
  assert.deepEqual(params("; t*0*=us-ascii'en'a%20b; t*1=\"50%\""), ['t*', "us-ascii'en'a%20b50%25"]);
  // a gap in the indexes: kept apart
  assert.deepEqual(params('; n*0=a; n*2=c'), ['n*0', 'a', 'n*2', 'c']);
  // plain parameters first, merged ones after
  assert.deepEqual(params('; x*1=b; a=1; x*0=a'), ['a', '1', 'x', 'ab']);
  assert.deepEqual(params('; a="q\\"uote"; b=""; c=tok.en'), ['a', 'q"uote', 'b', '', 'c', 'tok.en']);
  // a parameter without "=" swallows the one after it (Dovecot resyncs char by char)
  assert.deepEqual(params('; junk; lost=1; =v; x==?utf-8?b?w6k=?='), ['', 'v', 'x', '=?utf-8?b?w6k=?=']);
  assert.deepEqual(params('; u="unterminated'), []);
});

test('Content-* fields and defaults', () => {
  const idx = indexMessage(fixture('028'));
  const p = idx.body.parts![0]!;
  assert.equal(p.type, 'text');
  assert.equal(p.subtype, 'plain');
  assert.deepEqual(p.params, ['charset', 'utf-8', 'format', 'flowed']);
  assert.equal(p.id, '<part1@example.test>');
  assert.equal(p.desc, 'The first part');
  assert.equal(p.md5, 'Q2hlY2sgSW50ZWdyaXR5IQ==');
  assert.equal(p.disp, 'inline');
  assert.deepEqual(p.dispParams, ['filename', 'a.txt', 'creation-date', 'Wed, 12 Feb 1997 16:29:51 -0500']);
  assert.deepEqual(p.lang, ['en-US', 'fr', 'de']);
  assert.equal(p.loc, 'a.txt');
  // Content-* without MIME-Version or Content-Type does not count
  const plain = indexMessage(fixture('038'));
  assert.equal(plain.body.enc, undefined);
  assert.equal(plain.body.desc, undefined);
});

test('envelope: defaults, groups, repeated headers, encoded words left encoded', () => {
  const groups = indexMessage(fixture('014')).envelope;
  assert.deepEqual(groups.to, [[null, null, 'undisclosed-recipients', null], [null, null, null, null]]);
  assert.deepEqual(groups.cc, [
    [null, null, 'Friends', null],
    [null, null, 'joe', 'example.test'],
    ['Sam Q', null, 'sam', 'example.test'],
    [null, null, null, null],
    [null, null, 'solo', 'example.test'],
  ]);
  const enc = indexMessage(fixture('012')).envelope;
  assert.equal(enc.subject, '=?UTF-8?B?SGVsbG8g8J+MjSB3b3JsZA==?=');
  assert.equal(enc.from?.[0]?.[0], '=?UTF-8?B?w4lsb2TDrWUgTcO8bGxlcg==?=');
  const dup = indexMessage(fixture('041')).envelope;
  assert.equal(dup.subject, 'second subject');
  assert.equal(dup.from?.length, 2);
  const none = indexMessage(fixture('015')).envelope;
  assert.deepEqual(none, {});
});

test('address parser fills in what is missing like Dovecot', () => {
  assert.deepEqual(parseAddressList('user'), [[null, null, 'user', 'MISSING_DOMAIN']]);
  assert.deepEqual(parseAddressList('Name Only'), [['Name Only', null, 'MISSING_MAILBOX', 'MISSING_DOMAIN']]);
  assert.deepEqual(parseAddressList('<>'), [[null, null, 'MISSING_MAILBOX', 'MISSING_DOMAIN']]);
  assert.deepEqual(parseAddressList('<@a,@b:c@d>'), [[null, '@a,@b', 'c', 'd']]);
  assert.deepEqual(parseAddressList('a@b (Comment Name)'), [['Comment Name', null, 'a', 'b']]);
  assert.deepEqual(parseAddressList('"Joe Q. Public" <john@x.test>'), [['Joe Q. Public', null, 'john', 'x.test']]);
  assert.deepEqual(parseAddressList('broken <a@'), [['broken', null, 'a', 'SYNTAX_ERROR']]);
  assert.deepEqual(parseAddressList(''), []);
});

test('search fields are decoded', () => {
  const idx = indexMessage(fixture('012'));
  assert.equal(idx.search.subject, 'Hello 🌍 world');
  assert.match(idx.search.from, /^Élodíe Müller <elodie@example.test>$/);
  assert.match(idx.search.to, /André <andre@example.test>/);
  assert.equal(idx.search.date, Date.UTC(2026, 10, 24, 7, 15, 0));
  assert.equal(idx.search.messageId, '<enc@example.test>');
  const threaded = indexMessage(fixture('039'));
  assert.deepEqual(threaded.search.references, ['<zero@example.test>', '<one@example.test>', '<two@example.test>']);
  assert.equal(threaded.search.inReplyTo, '<one@example.test>');
  assert.equal(threaded.search.date, Date.UTC(2026, 10, 27, 9, 12, 13));
  assert.equal(decodeHeader('=?iso-8859-1?q?a?=  =?iso-8859-1?q?b?= c'), 'ab c');
  assert.equal(parseDate('not a date'), null);
  assert.equal(parseDate('1 Dec 26 12:00 EST'), Date.UTC(2026, 11, 1, 17, 0, 0));
});

test('JSON round trip and version check', () => {
  const raw = fixture('004');
  const json = indexMessageJson(raw);
  const back = parseMessageIndex(json);
  assert.deepEqual(back, indexMessage(raw));
  assert.equal(back?.v, MIME_INDEX_VERSION);
  assert.equal(parseMessageIndex('{"v":0}'), null);
  assert.equal(parseMessageIndex('not json'), null);
  assert.equal(parseMessageIndex(null), null);
  // 8-bit header bytes survive as byte strings
  const eight = parseMessageIndex(indexMessageJson(fixture('021')))!;
  assert.ok(eight.envelope.subject!.includes('\xe9t\xe9'));
});

function checkPart(p: MimePart, size: number): void {
  assert.ok(p.hdrOff >= 0 && p.hdrLen >= 0 && p.bodyLen >= 0, 'non-negative');
  assert.ok(p.hdrOff + p.hdrLen + p.bodyLen <= size, 'inside the message');
  assert.ok(p.bodySize >= p.bodyLen && p.lines >= 0);
  for (const c of p.parts ?? []) checkPart(c, size);
}

test('never throws on broken or random input; offsets stay inside the message', () => {
  const seeds = fs.readdirSync(path.join(fixturesDir, 'imap')).filter((f) => f.endsWith('.eml')).map((f) => fs.readFileSync(path.join(fixturesDir, 'imap', f)));
  let state = 12345;
  const rand = (n: number): number => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state % n;
  };
  const alphabet = Buffer.from('-\r\n:;="\\()<>@,. \tabB0\x80\xff');
  for (let i = 0; i < 1500; i++) {
    const seed = seeds[rand(seeds.length)]!;
    const b = Buffer.from(seed);
    const edits = 1 + rand(12);
    for (let e = 0; e < edits && b.length > 0; e++) b[rand(b.length)] = alphabet[rand(alphabet.length)]!;
    const cut = rand(4) === 0 ? b.subarray(0, rand(b.length + 1)) : b;
    const idx = indexMessage(cut);
    assert.equal(idx.size, cut.length);
    checkPart(idx.body, cut.length);
    JSON.parse(JSON.stringify(idx));
  }
  for (const s of ['', '\n', '\r\n\r\n', ':', '--', 'Content-Type: multipart/mixed; boundary=a\n\n--a\n--a\n--a--', 'a'.repeat(100000)]) {
    checkPart(indexMessage(Buffer.from(s, 'latin1')).body, s.length);
  }
});

test('deep nesting does not overflow and is bounded', () => {
  const depth = 500;
  let m = 'Content-Type: multipart/mixed; boundary=b0\n\n';
  for (let i = 0; i < depth; i++) m += `--b${i}\nContent-Type: multipart/mixed; boundary=b${i + 1}\n\n`;
  m += 'x\n';
  const idx = indexMessage(Buffer.from(m, 'latin1'));
  let d = 0;
  for (let p: MimePart | undefined = idx.body; p !== undefined; p = p.parts?.[0]) d++;
  assert.ok(d <= 102, `depth ${d}`);
  let rfc = '';
  for (let i = 0; i < depth; i++) rfc += 'Content-Type: message/rfc822\n\n';
  checkPart(indexMessage(Buffer.from(rfc + 'end\n', 'latin1')).body, rfc.length + 4);
});

test('the number of parts is capped at 10,000 like Dovecot', () => {
  const raw = Buffer.from('Content-Type: multipart/mixed; boundary=a\n\n' + '--a\n\nx\n'.repeat(20000) + '--a--\n', 'latin1');
  const idx = indexMessage(raw);
  const n = idx.body.parts!.length;
  assert.ok(n < 10000 && n > 9000, `${n} parts`);
  checkPart(idx.body, raw.length);
  assert.equal(idx.body.hdrLen + idx.body.bodyLen, raw.length);
});

test('indexing a 4 KB message is fast', () => {
  const body = 'Hello there, this is a line of text in the body of the message.\r\n'.repeat(25);
  const raw = crlf(
    'From: Alice <alice@example.test>\nTo: Bob <bob@example.test>\nSubject: =?UTF-8?B?SGVsbG8=?=\nDate: Mon, 23 Nov 2026 04:00:00 +0000\nMessage-ID: <x@example.test>\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b1"\n\n--b1\nContent-Type: text/plain; charset=utf-8\n\n' +
      body + '\n--b1\nContent-Type: text/html; charset=utf-8\n\n<p>' + body + '</p>\n--b1--\n',
  );
  for (let i = 0; i < 500; i++) indexMessageJson(raw);
  const n = 2000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) indexMessageJson(raw);
  const us = Number(process.hrtime.bigint() - t0) / n / 1000;
  // About 20 us on an idle machine; the bound leaves room for a loaded CI box
  // and is still well under the 0.5 ms a delivery has at 2,000 deliveries/s.
  assert.ok(us < 400, `${us.toFixed(1)} us per message`);
});
