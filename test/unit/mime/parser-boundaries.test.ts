// Multipart boundaries as RFC 2046 5.1.1 defines them, resolved the way
// Dovecot 2.3 does (mime/parser.ts, mime/boundaries.ts):
// boundaries that contain or end with "--", transport padding, nested
// boundaries that are prefixes of each other, multipart/digest defaults,
// boundary lengths, missing delimiters, the parser's limits, and hostile
// input. The fixtures named here are also compared with a real Dovecot by
// test/conformance/imap-structure-dovecot.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fixturesDir } from '../../support/paths.js';
import { indexMessage } from '../../../mime/index.js';
import type { MimePart } from '../../../mime/types.js';
import { renderBodyStructure, sectionBytes } from '../../../src/protocol/imap/fetch-structure.js';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1');
const fixture = (n: string): Buffer => fs.readFileSync(path.join(fixturesDir, 'imap', `${n}.eml`));
const HEAD = 'From: a@example.test\nSubject: boundaries\nMIME-Version: 1.0\n';

/**
 * The part tree in one line: multiparts as subtype(children), embedded
 * messages as msg{...}, leaves as type/subtype:"body bytes".
 */
function shapeOf(raw: Buffer, p: MimePart): string {
  if (p.kind === 'multipart') return `${p.subtype ?? ''}(${(p.parts ?? []).map((c) => shapeOf(raw, c)).join(' ')})`;
  if (p.kind === 'message') return `msg{${p.parts?.[0] === undefined ? '' : shapeOf(raw, p.parts[0])}}`;
  const type = p.type === undefined ? 'text/plain' : `${p.type}/${p.subtype ?? ''}`;
  const start = p.hdrOff + p.hdrLen;
  return `${type}:${JSON.stringify(raw.toString('latin1', start, start + p.bodyLen))}`;
}

function shape(raw: Buffer): string {
  return shapeOf(raw, indexMessage(raw).body);
}

function section(raw: Buffer, spec: string): string | null {
  return sectionBytes(raw, indexMessage(raw), spec)?.toString('latin1') ?? null;
}

test('a multipart/digest inside a multipart/mixed whose boundary ends in "--" (issue 11)', () => {
  const raw = fixture('093');
  assert.equal(shape(raw), 'mixed(text/plain:"intro" digest(msg{text/plain:"body one"} msg{text/plain:"body two"}))');
  assert.equal(section(raw, '1'), 'intro');
  assert.equal(section(raw, '2.MIME'), 'Content-Type: multipart/digest; boundary="__--__--__"\r\n\r\n');
  assert.equal(section(raw, '2.1.HEADER'), 'From: one@example.test\r\nSubject: one\r\n\r\n');
  assert.equal(section(raw, '2.2.TEXT'), 'body two');
  assert.match(renderBodyStructure(indexMessage(raw)), /"digest" \("boundary" "__--__--__"\) NIL NIL NIL\) "mixed" \("boundary" "__--__--"\)/);
});

test('a boundary that ends in "--": "--b--" opens a part, "--b----" closes the multipart', () => {
  assert.equal(shape(fixture('094')), 'mixed(text/plain:"one" text/plain:"two")');
  assert.equal(section(fixture('094'), 'TEXT'), 'preamble\r\n--__--__--\r\nContent-Type: text/plain\r\n\r\none\r\n--__--__--\r\nContent-Type: text/plain\r\n\r\ntwo\r\n--__--__----\r\nepilogue\r\n');
  // with transport padding and bare LF line ends
  assert.equal(shape(fixture('098')), 'mixed(text/plain:"one" text/plain:"two")');
  // 78 characters plus "--"
  assert.equal(shape(fixture('111')), 'mixed(text/plain:"one")');
});

test('a boundary containing "--", and boundaries made of dashes only', () => {
  // "--a--" is not a delimiter of "a--b": it stays in the part's body
  assert.equal(shape(fixture('095')), 'mixed(text/plain:"one\\r\\n--a--" text/plain:"two")');
  // outer "----", inner "--": the line "------" first closes the inner one
  // ("--" followed by "--"), then delimits the outer one
  assert.equal(shape(fixture('096')), 'mixed(alternative(text/plain:"inner") text/plain:"outer")');
  const onlyDashes = crlf(HEAD + 'Content-Type: multipart/mixed; boundary="--"\n\n----\nContent-Type: text/plain\n\none\n----\n\ntwo\n------\n');
  assert.equal(shape(onlyDashes), 'mixed(text/plain:"one" text/plain:"two")');
});

test('transport padding: spaces and tabs after a delimiter and after the closing "--"', () => {
  const raw = fixture('097');
  assert.equal(shape(raw), 'mixed(text/plain:"one" text/plain:"two")');
  // the padding belongs to the multipart's body, not to a part
  assert.equal(section(raw, '1.MIME'), 'Content-Type: text/plain\r\n\r\n');
  assert.equal(section(raw, '2'), 'two');
});

test('nested boundaries that are prefixes of each other', () => {
  // outer "abc", inner "abcdef": "--abc" is not taken as "--abcdef"
  assert.equal(shape(fixture('035')), 'mixed(alternative(text/plain:"inner one" text/plain:"inner two") text/plain:"outer two")');
  // outer "abcdef", inner "abc" left open: "--abcdef" is the outer delimiter (the longest match)
  assert.equal(shape(fixture('099')), 'mixed(alternative(text/plain:"i1" text/plain:"i2") text/plain:"outer2")');
  // outer "abcd-", inner "ab": on "--abcd--" the longer outer boundary wins
  assert.equal(shape(fixture('101')), 'mixed(alternative(text/plain:"i1") text/plain:"x2\\r\\n--ab--")');
});

test('"--foo--" closes "foo" or opens "foo--": the newest boundary equal to either wins', () => {
  // outer "abc--", inner "abc": "--abc--" closes the inner, the next one opens an outer part
  assert.equal(shape(fixture('100')), 'mixed(alternative(text/plain:"i1") text/plain:"outer2")');
  // outer "ab--", inner "ab": "--ab--" closes the inner
  assert.equal(shape(fixture('102')), 'mixed(alternative(text/plain:"i1"))');
  // outer "ab", inner "ab--": "--ab--" is the inner delimiter
  assert.equal(shape(fixture('103')), 'mixed(alternative(text/plain:"i1" text/plain:"x2"))');
  // boundary "ab-": "--ab--" is a delimiter, "--ab---" the closing one
  assert.equal(shape(fixture('104')), 'mixed(text/plain:"i1" text/plain:"x2")');
});

test('multipart/digest parts default to message/rfc822 (RFC 2046 5.1.5)', () => {
  assert.equal(
    shape(fixture('105')),
    'digest(msg{text/plain:"A"} msg{text/plain:"B"} text/plain:"C" msg{text/plain:"Z"} msg{text/plain:""})',
  );
  assert.equal(shape(fixture('106')), 'mixed(text/plain:"hi" digest(msg{alternative(text/plain:"A")} msg{text/plain:"B"}))');
  assert.equal(section(fixture('106'), '2.1.1.1'), 'A');
});

test('boundary lengths: 70 and 80 characters, longer ones cut to 80 as Dovecot does', () => {
  assert.equal(shape(fixture('107')), 'mixed(text/plain:"one" text/plain:"two")');
  assert.equal(shape(fixture('108')), 'mixed(text/plain:"one" text/plain:"two")');
  // 81 characters: a line with the first 80 of them (and anything after) is a delimiter
  assert.equal(shape(fixture('109')), 'mixed(text/plain:"one" text/plain:"two")');
  assert.equal(shape(fixture('110')), 'mixed(text/plain:"one")');
  // the parameter itself is reported whole
  assert.match(renderBodyStructure(indexMessage(fixture('110'))), new RegExp(`"boundary" "${'F'.repeat(100)}"`));
});

test('missing, unterminated or cut closing delimiters: the parts run to the end', () => {
  assert.equal(shape(fixture('112')), 'mixed(alternative(text/plain:"x\\r\\n"))');
  assert.equal(shape(fixture('113')), 'mixed(text/plain:"x")');
  assert.equal(shape(fixture('114')), 'mixed(text/plain:"x\\r\\n--m")');
  assert.equal(shape(fixture('017')), 'mixed(text/plain:"first" text/plain:"second and it just ends\\r\\n")');
});

test('preamble and epilogue belong to the multipart, not to a part', () => {
  const raw = fixture('115');
  assert.equal(shape(raw), 'alternative(text/plain:"x\\r\\n")');
  const idx = indexMessage(raw);
  assert.equal(idx.body.hdrLen + idx.body.bodyLen, raw.length);
  assert.match(section(raw, 'TEXT') ?? '', /^This is a preamble\.\r\n\r\n--not-it\r\n--pe\r\n[^]*\r\n--pe\r\nstill epilogue\r\n$/);
});

test('empty parts: no header, no body, a blank line only', () => {
  assert.equal(shape(fixture('116')), 'mixed(text/plain:"" text/plain:"" text/plain:"" text/plain:"")');
});

test('boundary parameter quoted, unquoted, escaped, RFC 2231 continued, ending in a space', () => {
  for (const n of ['117', '118', '119', '120', '121']) assert.equal(shape(fixture(n)), 'mixed(text/plain:"x")', n);
});

test('CRLF and bare LF line ends give the same structure', () => {
  for (let n = 93; n <= 121; n++) {
    const name = String(n).padStart(3, '0');
    const raw = fixture(name);
    const lf = Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    assert.equal(shape(lf), shape(raw).replace(/\\r\\n/g, '\\n'), name);
  }
});

/** Multiparts nested `depth` deep under the root (boundaries n0..n<depth>), then `inner`. */
function chain(depth: number, innerType: (i: number) => string, inner: string): Buffer {
  let m = HEAD + 'Content-Type: multipart/mixed; boundary=n0\n\n';
  for (let i = 0; i < depth; i++) m += `--n${i}\nContent-Type: ${innerType(i)}; boundary=n${i + 1}\n\n`;
  return crlf(m + `--n${depth}\n${inner}`);
}

/** The part reached by always taking the first child, `depth` levels down. */
function descend(p: MimePart, depth: number): MimePart {
  for (let i = 0; i < depth; i++) p = p.parts![0]!;
  return p;
}

test('a multipart or message/rfc822 at depth 99 is not opened: an application/octet-stream leaf, parameters kept', () => {
  const mixed = (): string => 'multipart/mixed';
  // depth 98 still opens
  assert.equal(descend(indexMessage(chain(98, mixed, 'Content-Type: text/plain\n\ndeep\n')).body, 99).type, 'text');
  const at99 = descend(indexMessage(chain(99, mixed, 'Content-Type: image/png\n\npng\n')).body, 99);
  assert.equal(at99.kind, 'other');
  assert.equal(at99.parts, undefined);
  assert.deepEqual([at99.type, at99.subtype, at99.params], ['application', 'octet-stream', ['boundary', 'n99']]);
  // message/rfc822 at depth 99, and a digest entry (message/rfc822 by default) there
  const rfc = descend(indexMessage(chain(98, mixed, 'Content-Type: message/rfc822; name=x\n\nSubject: inner\n\nbody\n')).body, 99);
  assert.deepEqual([rfc.kind, rfc.type, rfc.subtype, rfc.params], ['other', 'application', 'octet-stream', ['name', 'x']]);
  const digest = descend(indexMessage(chain(98, (i) => (i === 97 ? 'multipart/digest' : 'multipart/mixed'), '\nSubject: deep\n\nbody\n')).body, 99);
  assert.deepEqual([digest.kind, digest.type, digest.subtype], ['other', 'application', 'octet-stream']);
  // a chain of embedded messages stops at the same depth
  const msgs = crlf(HEAD + 'Content-Type: message/rfc822\n\n' + 'Content-Type: message/rfc822\n\n'.repeat(120) + 'end\n');
  const last = descend(indexMessage(msgs).body, 99);
  assert.equal(last.kind, 'other');
  assert.equal(last.type, 'application');
});

test('past 10000 parts no boundary is matched: the last part holds the rest of the message', () => {
  const head = HEAD + 'Content-Type: multipart/mixed; boundary=m\n\n';
  const raw = crlf(head + '--m\n\nx\n'.repeat(10001) + '--m--\nepilogue\n');
  const parts = indexMessage(raw).body.parts!;
  assert.equal(parts.length, 9999); // with the root, 10000 parts
  assert.equal(shapeOf(raw, parts[9997]!), 'text/plain:"x"');
  assert.equal(shapeOf(raw, parts[9998]!), 'text/plain:"x\\r\\n--m\\r\\n\\r\\nx\\r\\n--m\\r\\n\\r\\nx\\r\\n--m--\\r\\nepilogue\\r\\n"');
  // a message/rfc822 as the 10000th part is not opened
  const rfc = indexMessage(crlf(head + '--m\n\nx\n'.repeat(9998) + '--m\nContent-Type: message/rfc822\n\nSubject: s\n\nb\n--m--\n'));
  const lastRfc = rfc.body.parts![9998]!;
  assert.deepEqual([lastRfc.kind, lastRfc.type], ['other', 'application']);
  // a multipart as the 10000th part opens but finds no parts
  const mp = indexMessage(crlf(head + '--m\n\nx\n'.repeat(9998) + '--m\nContent-Type: multipart/mixed; boundary=in\n\n--in\n\na\n--in--\n--m--\n'));
  const lastMp = mp.body.parts![9998]!;
  assert.equal(lastMp.kind, 'multipart');
  assert.deepEqual(lastMp.parts, []);
});

// Hostile input. A message may open 99 nested boundaries and then send a
// megabyte of lines that almost match them; the parser must not compare each
// line with each boundary (that took about 2 s of CPU per megabyte). The
// bound is generous (these take 0.05-0.3 s) and counts the CPU time of this
// process, not the wall clock, so a loaded machine does not make it flaky.
const HOSTILE_BOUND_MS = 2000;

function timed(label: string, raw: Buffer): MimePart {
  const before = process.cpuUsage();
  const idx = indexMessage(raw);
  const used = process.cpuUsage(before);
  const ms = (used.user + used.system) / 1000;
  assert.ok(ms < HOSTILE_BOUND_MS, `${label}: ${ms.toFixed(0)} ms of CPU for ${raw.length} bytes`);
  assert.equal(idx.body.hdrLen + idx.body.bodyLen, raw.length, label);
  return idx.body;
}

/** 99 nested multiparts with boundaries name(0..98), then about `bytes` of `line`. */
function nestedThenLines(name: (i: number) => string, line: string, bytes: number): Buffer {
  let m = HEAD.replace(/\n/g, '\r\n') + `Content-Type: multipart/mixed; boundary="${name(0)}"\r\n\r\n`;
  for (let i = 0; i < 98; i++) m += `--${name(i)}\r\nContent-Type: multipart/mixed; boundary="${name(i + 1)}"\r\n\r\n`;
  m += `--${name(98)}\r\nContent-Type: text/plain\r\n\r\n`;
  return Buffer.from(m + line.repeat(Math.ceil(bytes / line.length)), 'latin1');
}

test('hostile: a megabyte of lines that almost match 99 open boundaries is parsed fast', () => {
  const MB = 1 << 20;
  const two = (i: number): string => String(i).padStart(2, '0');
  // 99 boundaries "a00".."a98" and short lines as long as they are, sharing their first bytes
  timed('short near misses', nestedThenLines((i) => 'a' + two(i), '--a9x\r\n', MB));
  timed('bare "--" lines', nestedThenLines((i) => 'b' + two(i), '--\n', MB));
  // 80-byte boundaries sharing 78 bytes, lines matching those 78
  const q = 'Q'.repeat(78);
  timed('long near misses', nestedThenLines((i) => q + String(i).padStart(2, '0'), `--${q}XX--\r\n`, MB));
  // boundaries that are prefixes of each other ("c", "cc", ...) and lines matching all but the last
  timed('prefix chains', nestedThenLines((i) => 'c'.repeat(Math.min(i + 1, 80)), `--${'c'.repeat(79)}d\r\n`, MB));
  // one long line without LF after "--", and a megabyte of dashes
  timed('no line end', Buffer.concat([nestedThenLines((i) => 'e' + i, '', 0), Buffer.from('--' + 'e'.repeat(MB))]));
  timed('dashes', Buffer.concat([nestedThenLines((i) => 'f' + i, '', 0), Buffer.from('-'.repeat(MB))]));
});

test('hostile: a megabyte of nesting and of parts stays within the limits and is parsed fast', () => {
  let nest = HEAD + 'Content-Type: multipart/mixed; boundary=n0\n\n';
  for (let i = 0; nest.length < 1 << 20; i++) nest += `--n${i}\nContent-Type: multipart/mixed; boundary=n${i + 1}\n\n`;
  const deep = timed('nested multiparts', crlf(nest));
  let depth = 0;
  for (let p: MimePart | undefined = deep; p !== undefined; p = p.parts?.[0]) depth++;
  assert.equal(depth, 100); // the root and 99 levels below it
  const rfc = timed('nested messages', crlf(HEAD + 'Content-Type: message/rfc822\n\n' + 'Content-Type: message/rfc822\n\n'.repeat(40000)));
  assert.equal(descend(rfc, 99).kind, 'other');
  const many = timed('delimiters only', crlf(HEAD + 'Content-Type: multipart/mixed; boundary=m\n\n' + '--m\n'.repeat(250000)));
  assert.equal(many.parts!.length, 9999);
});
