// The message model's header view (mime/header.ts) and decoders, from the
// RFCs: RFC 5322 2.2 (fields) and 2.2.3 (folding), RFC 2047 section 8
// (encoded words and the white space between them), RFC 2045 6.7
// (quoted-printable). LF-only input must read exactly as CRLF input does,
// and hostile input must stay linear.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MessageHeader,
  addrSpecs,
  applyHeaderEdits,
  decodeHeader,
  decodeWords,
  parseMessage,
  parsedAddrSpecs,
  simpleAddrSpecs,
  prependFields,
  splitHeader,
  unfold,
  withoutFields,
} from '../../../mime/index.js';
import { decodeQuotedPrintable, decodeTransfer } from '../../../mime/transfer-encoding.js';
import { fast, MB } from '../../support/hostile.js';
import { prng } from '../../support/prng.js';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'latin1');
const lf = (s: string): Buffer => Buffer.from(s.replace(/\r\n/g, '\n'), 'latin1');

/** What a header view says, without offsets (which differ between CRLF and LF). */
function summary(h: MessageHeader): Array<[string, string]> {
  return h.fields.map((f) => [f.name, h.value(f)]);
}

const SAMPLE = [
  'From John Doe Mon Jan  1 00:00:00 2024', // an mbox line: no field
  'Received: from a.example',
  '  by b.example; Mon, 1 Jan 2024 00:00:00 +0000',
  'Subject: This',
  ' is a test',
  'X-Blank-Name :  spaced value  ',
  'To: a@example.org,',
  '\tb@example.org',
  '',
  'Body: not a field',
  '',
].join('\n');

test('RFC 5322 2.2: fields in order, names as written, values after the colon', () => {
  const h = new MessageHeader(crlf(SAMPLE));
  assert.deepEqual(summary(h), [
    ['Received', 'from a.example  by b.example; Mon, 1 Jan 2024 00:00:00 +0000'],
    ['Subject', 'This is a test'],
    ['X-Blank-Name', 'spaced value'],
    ['To', 'a@example.org,\tb@example.org'],
  ]);
  assert.equal(h.first('subject'), 'This is a test');
  assert.deepEqual(h.values('SUBJECT'), ['This is a test']);
  assert.equal(h.has('body'), false, 'the body is not header');
  assert.equal(h.raw.toString('latin1', h.bodyStart), 'Body: not a field\r\n');
});

test('RFC 5322 2.2.3: unfolding removes the line break before the blank, nothing else', () => {
  assert.equal(unfold(' This\r\n is a test'), 'This is a test');
  assert.equal(unfold('a\r\n\tb'), 'a\tb');
  assert.equal(unfold('a\n b\n  c'), 'a b  c');
  assert.equal(unfold('  trimmed \t'), 'trimmed');
});

test('LF-only input reads exactly as CRLF input', () => {
  const a = new MessageHeader(crlf(SAMPLE));
  const b = new MessageHeader(lf(SAMPLE));
  assert.deepEqual(summary(b), summary(a));
  assert.equal(b.raw.toString('latin1', b.bodyStart), 'Body: not a field\n');
  for (const h of [a, b]) {
    // Offsets point at the bytes as written.
    for (const f of h.fields) assert.match(h.bytes(f).toString('latin1'), new RegExp(`^${f.name}`));
    assert.equal(h.raw[h.headerEnd] === 0x0d ? h.raw[h.headerEnd + 1] : h.raw[h.headerEnd], 0x0a, 'headerEnd is at the empty line');
  }
  // Mixed line ends in one message.
  const mixed = new MessageHeader(Buffer.from('A: 1\nB: 2\r\n continued\n\r\nbody'));
  assert.deepEqual(summary(mixed), [['A', '1'], ['B', '2 continued']]);
  assert.equal(mixed.raw.toString('latin1', mixed.bodyStart), 'body');
});

test('offsets: field bytes, raw folded value, the end of the header', () => {
  const raw = crlf('A: one\nB:two\n  three\n\nbody');
  const h = new MessageHeader(raw);
  const [a, b] = h.fields;
  assert.equal(h.bytes(a!).toString(), 'A: one\r\n');
  assert.equal(h.bytes(b!).toString(), 'B:two\r\n  three\r\n');
  assert.equal(h.rawValue(b!).toString(), 'two\r\n  three');
  assert.equal(h.headerEnd, 'A: one\r\nB:two\r\n  three\r\n'.length);
  assert.equal(h.bodyStart, h.headerEnd + 2);
  assert.equal(h.section().toString(), 'A: one\r\nB:two\r\n  three\r\n');
});

test('edge shapes: no empty line, an empty header, a last line without line end, bare CR', () => {
  const all = splitHeader(Buffer.from('A: 1\r\nB: 2'));
  assert.equal(all.fields.length, 2);
  assert.equal(all.headerEnd, 10);
  assert.equal(all.bodyStart, 10);
  for (const start of ['\r\n', '\n']) {
    const empty = splitHeader(Buffer.from(`${start}A: not a field`));
    assert.deepEqual([empty.fields.length, empty.headerEnd, empty.bodyStart], [0, 0, start.length]);
  }
  // A bare CR is an ordinary byte inside a line (RFC 5322 2.2: it is not a line end).
  const cr = new MessageHeader(Buffer.from('A: x\rB: y\r\nC: z\r\n\r\n'));
  assert.deepEqual(summary(cr), [['A', 'x\rB: y'], ['C', 'z']]);
  // A continuation line with no field above it, a line without a colon, an empty name: no fields.
  assert.deepEqual(summary(new MessageHeader(Buffer.from(' lead: x\r\nno colon\r\n : empty name\r\n: x\r\nD: 4\r\n\r\n'))), [['D', '4']]);
  // A name is ftext: no blank, control or 8-bit byte inside it.
  assert.deepEqual(summary(new MessageHeader(Buffer.from('Two words: x\r\nCtl\x01: y\r\n\xe9: z\r\nOk-1: w\r\n\r\n', 'latin1'))), [['Ok-1', 'w']]);
  // A NUL ends the name for lookups, whatever follows it (Dovecot and Pigeonhole read names as C strings); the name stays as written.
  const nul = new MessageHeader(Buffer.from('Subject\0: one\r\nSubject\0 x\xe9: two\r\n\0: none\r\nX\x01\0: bad\r\n\r\n', 'latin1'));
  assert.deepEqual(nul.values('subject'), ['one', 'two']);
  assert.deepEqual(nul.fields.map((f) => [f.name, f.key]), [['Subject\0', 'subject'], ['Subject\0 x\xe9', 'subject'], ['\0', '']]);
});

test('8-bit values: UTF-8 read as such, anything else as latin1', () => {
  const h = new MessageHeader(Buffer.concat([Buffer.from('A: Grüße\r\nB: '), Buffer.from([0xe9, 0x74, 0xe9]), Buffer.from('\r\n\r\n')]));
  assert.deepEqual(summary(h), [['A', 'Grüße'], ['B', 'été']]);
});

test('RFC 2047 section 8: encoded words and the white space between them', () => {
  const cases: Array<[string, string]> = [
    ['(=?ISO-8859-1?Q?a?=)', '(a)'],
    ['(=?ISO-8859-1?Q?a?= b)', '(a b)'],
    ['(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)', '(ab)'],
    ['(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)', '(ab)'],
    ['(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)', '(ab)'],
    ['(=?ISO-8859-1?Q?a_b?=)', '(a b)'],
    ['(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)', '(a b)'],
    ['=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>', 'Keith Moore <moore@cs.utk.edu>'],
    ['=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>', 'André Pirard <PIRARD@vm1.ulg.ac.be>'],
    ['=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=', 'If you can read this you understand the example.'],
    // A language tag (RFC 2231 section 5) is ignored; an unknown charset is read as UTF-8.
    ['=?utf-8*en?q?caf=C3=A9?=', 'café'],
    ['=?x-unknown?q?caf=C3=A9?=', 'café'],
    ['no =? encoded', 'no =? encoded'],
  ];
  for (const [input, want] of cases) assert.equal(decodeHeader(input), want, input);
  assert.equal(decodeWords('=?UTF-8?B?SGVsbG8=?= =?UTF-8?B?IFdvcmxk?='), 'Hello World');
  const h = new MessageHeader(crlf('Subject: =?ISO-8859-1?Q?a?=\n =?ISO-8859-1?Q?b?= c\n\n'));
  assert.deepEqual(h.decoded('subject'), ['ab c']);
});

test('RFC 2045 6.7: quoted-printable', () => {
  const qp = (s: string): string => decodeQuotedPrintable(Buffer.from(s, 'latin1')).toString('latin1');
  assert.equal(qp('caf=E9 =3D=3d'), 'caf\xe9 ==', 'rule 1: =XX, either case of hex');
  assert.equal(qp('soft=\r\nbreak'), 'softbreak', 'rule 5: soft line break');
  assert.equal(qp('soft=\nbreak'), 'softbreak', 'soft line break with LF only');
  assert.equal(qp('trailing   \r\nnext'), 'trailing\r\nnext', 'rule 3: trailing blanks are dropped');
  assert.equal(qp('line\nnext'), 'line\r\nnext', 'line breaks come out as CRLF');
  assert.equal(qp('=ZZ =4'), '=ZZ =4', 'a bad escape passes through');
  assert.equal(decodeTransfer(Buffer.from('aGVs\r\nbG8='), 'BASE64')!.toString(), 'hello');
  assert.equal(decodeTransfer(Buffer.from('x'), 'x-uuencode'), undefined);
});

test('header edits change only the header section, byte for byte elsewhere', () => {
  const body = Buffer.from([0x0d, 0x0a, 0xff, 0xfe, 0x0a]); // the empty line, then non-UTF-8 body bytes
  const raw = Buffer.concat([Buffer.from('A: 1\r\nX: \xe9\r\nB: 2\r\n  folded\r\nA: 3\r\n', 'latin1'), body]);
  const h = new MessageHeader(raw);
  const out = applyHeaderEdits(h, [
    { type: 'addheader', name: 'First', value: 'f', last: false },
    { type: 'addheader', name: 'Last', value: 'multi\nline', last: true },
    { type: 'deleteheader', name: 'a', occurrence: 2 },
    { type: 'deleteheader', name: 'B', occurrence: 1 },
  ]);
  assert.equal(out.toString('latin1'), 'First: f\r\nA: 1\r\nX: \xe9\r\nLast: multi\r\n line\r\n' + body.toString('latin1'));
  assert.equal(applyHeaderEdits(h, []), raw);
  // A message that is all header, without a last line end, still gets a well-formed result.
  const bare = new MessageHeader(Buffer.from('A: 1'));
  assert.equal(applyHeaderEdits(bare, [{ type: 'addheader', name: 'B', value: '2', last: true }]).toString(), 'A: 1\r\nB: 2\r\n\r\n');
  // LF-only input: the bytes it has stay as they are.
  const lfOnly = new MessageHeader(Buffer.from('A: 1\nB: 2\n\nbody\n'));
  assert.equal(applyHeaderEdits(lfOnly, [{ type: 'deleteheader', name: 'a', occurrence: 1 }]).toString(), 'B: 2\n\nbody\n');
  assert.equal(withoutFields(lfOnly, (f) => f.key === 'b').toString(), 'A: 1\n\nbody\n');
  assert.equal(withoutFields(lfOnly, () => false), lfOnly.raw);
  assert.equal(prependFields(lfOnly.raw, ['R: x']).toString(), 'R: x\r\nA: 1\nB: 2\n\nbody\n');
});

test('prepend: the layout moved from the old header is what splitting the result gives', () => {
  const messages = [
    'From: a@b\r\nSubject: x\r\n\r\nbody\r\n',
    'From: a@b\nSubject: folded\n more\n\nbody\n',
    '\r\nbody only',
    '\nbody only',
    '',
    'no empty line: x',
    ' continuation first\r\nFrom: a@b\r\n\r\nb',
    '\tcontinuation first\nX: y\n\nb',
    'From junk line\r\nX : spaced\r\nY:\r\n',
    'X: a\r\r\nY: b\rc\r\n\r\n',
  ];
  const tops = [
    ['Received: from x\r\n\tby y; Mon, 1 Jan 2026 00:00:00 +0000'],
    ['Return-Path: <a@b>', 'Delivered-To: c@d'],
    ['X: empty line inside\r\n\r\nrest'],
    ['no colon here'],
    ['Trailing-CR: v\r'],
    ['X: \u00e9t\u00e9'],
  ];
  for (const m of messages) {
    for (const top of tops) {
      const old = parseMessage(Buffer.from(m, 'latin1'));
      const got = old.prepend(top);
      assert.deepEqual(got.raw, prependFields(old.raw, top));
      const want = splitHeader(got.raw);
      assert.deepEqual({ fields: got.header.fields, headerEnd: got.header.headerEnd, bodyStart: got.header.bodyStart }, want, JSON.stringify([m, top]));
    }
  }
});

test('ParsedMessage: parsed once, the index made on first use, edits give a new model', () => {
  const m = parseMessage(crlf('Subject: hi\nMIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\ncaf=E9\n'));
  assert.equal(m.header.first('subject'), 'hi');
  assert.equal(m.index(), m.index(), 'the index is made once');
  assert.deepEqual(m.textParts(), [{ contentType: 'text/plain', text: 'café\r\n' }]);
  const e = m.prepend(['Delivered-To: a@example.org']).edit([{ type: 'deleteheader', name: 'subject', occurrence: 1 }]);
  assert.equal(e.header.first('delivered-to'), 'a@example.org');
  assert.equal(e.header.has('subject'), false);
  assert.equal(m.header.first('subject'), 'hi', 'the original is unchanged');
  assert.deepEqual(e.body(), m.body());
});

test('text parts: multipart containers carry prologue and epilogue, leaves their decoded text', () => {
  const m = parseMessage(
    crlf(
      [
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b"',
        '',
        'prologue',
        '--b',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from('Grüße').toString('base64'),
        '--b',
        'Content-Type: application/octet-stream',
        '',
        'bin',
        '--b--',
        'epilogue',
        '',
      ].join('\n'),
    ),
  );
  assert.deepEqual(m.textParts(), [
    { contentType: 'multipart/mixed', text: 'prologueepilogue\r\n', pieces: ['prologue', 'epilogue\r\n'] },
    { contentType: 'text/plain', text: 'Grüße' },
    { contentType: 'application/octet-stream', text: 'bin' },
  ]);
});

test('hostile input: the header view, edits and decoders stay linear', () => {
  const body = Buffer.from('\r\nbody\r\n');
  const shapes: Record<string, Buffer> = {
    'a megabyte of bare CR': Buffer.concat([Buffer.from('X: a'), Buffer.alloc(MB, 0x0d), body]),
    'CR-only lines': Buffer.from(`X: a${'\r\r\n'.repeat(MB / 3)}\r\n`),
    'one huge folded field': Buffer.from(`X: a${'\r\n x'.repeat(MB / 4)}\r\n\r\n`),
    'many fields': Buffer.from(`${'A: 1\r\n'.repeat(MB / 6)}\r\n`),
    'many lines without a colon': Buffer.from(`${'abc\r\n'.repeat(MB / 5)}X: y\r\n\r\n`),
    'a megabyte line with colons': Buffer.from(`X${':'.repeat(MB)}\r\n\r\n`),
    'a megabyte of LF': Buffer.alloc(MB, 0x0a),
  };
  for (const [label, raw] of Object.entries(shapes)) {
    const m = fast(`split: ${label}`, () => parseMessage(raw));
    fast(`values: ${label}`, () => m.header.fields.slice(0, 1000).map((f) => m.header.value(f)));
    fast(`decoded: ${label}`, () => m.header.decoded('x'));
    fast(`edit: ${label}`, () => m.edit([{ type: 'deleteheader', name: 'x', occurrence: 1 }, { type: 'addheader', name: 'Y', value: 'z', last: true }]));
    fast(`index: ${label}`, () => m.index());
  }
  assert.equal(parseMessage(shapes['many fields']!).header.all('a').length, Math.floor(MB / 6));
  fast('QP: a megabyte of blanks inside a line', () => decodeQuotedPrintable(Buffer.from(`a${' '.repeat(MB)}b=`)));
  fast('QP: a megabyte of "="', () => decodeQuotedPrintable(Buffer.alloc(MB, 0x3d)));
  fast('RFC 2047: "=?" repeated', () => decodeHeader('=?'.repeat(MB / 2)));
  fast('RFC 2047: words with long runs of blanks between', () => decodeHeader(`=?a?q?x?=${' '.repeat(MB / 4)}`.repeat(4)));
  fast('RFC 2047: many encoded words', () => decodeHeader('=?utf-8?q?a?= '.repeat(MB / 16)));
  for (const [label, value] of Object.entries({
    'open angles': '<'.repeat(MB),
    'open quotes and escapes': '"\\'.repeat(MB / 2),
    'open comments': '('.repeat(MB),
    'at signs': 'a@'.repeat(MB / 2),
    'group starts': 'g:'.repeat(MB / 2),
    'many addresses': 'a@b.example, '.repeat(MB / 13),
    'routes': '<@a,'.repeat(MB / 4),
  })) {
    fast(`address list: ${label}`, () => addrSpecs(value));
  }
});

test('address lists: the shortcut for simple lists reads them exactly as the parser does', () => {
  const r = prng(7);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  // Mostly well-formed lists, with a bad piece now and then.
  const locals = ['a', 'b.c', 'x-y', 'q=?x', 'a..b', '.a', 'é', '"q"', ''];
  const domains = ['ex.org', 'x-y.example', 'e_x.org', 'ex..org', 'ex.', '[1.2.3.4]', ''];
  const names = ['', 'Name', 'Two  Words', '=?utf-8?q?J?=', 'a.b', '"Q"', '(c)'];
  const blanks = ['', ' ', '\t', '  '];
  const seps = [',', ', ', ' , ', ',,', ' ', ';'];
  const mailbox = (): string => {
    const addr = `${pick(locals)}@${pick(domains)}`;
    const shape = r();
    const inner = shape < 0.4 ? addr : shape < 0.8 ? `${pick(names)}${pick(blanks)}<${addr}>` : `<${addr}`;
    return `${pick(blanks)}${inner}${pick(blanks)}`;
  };
  let simple = 0;
  for (let i = 0; i < 20_000; i++) {
    let value = mailbox();
    for (let n = Math.floor(r() * 4); n > 0; n--) value += pick(seps) + mailbox();
    const fast = simpleAddrSpecs(value);
    if (fast === undefined) continue;
    simple++;
    assert.deepEqual(fast, parsedAddrSpecs(value), JSON.stringify(value));
  }
  for (const value of ['a@b.example', ' Name  Two <a.b@c-d.example> , x@y.example ', '<a@b.example>', '=?utf-8?q?J?= <j@x.example>', 'a@b..example', 'Name <a@b.example', 'a@b.example c@d.example', 'a@b.example,']) {
    const fast = simpleAddrSpecs(value);
    if (fast !== undefined) simple++;
    assert.deepEqual(fast ?? parsedAddrSpecs(value), parsedAddrSpecs(value), value);
  }
  assert.ok(simple > 300, `the shortcut was taken ${simple} times`);
});

test('address lists: the addr-specs in order, quoted local parts kept quoted, groups opened', () => {
  assert.deepEqual(addrSpecs('"Doe, John" <john@example.com>, jane@example.com (Jane)'), ['john@example.com', 'jane@example.com']);
  assert.deepEqual(addrSpecs('friends: a@x.example, b@y.example;, c@z.example'), ['a@x.example', 'b@y.example', 'c@z.example']);
  assert.deepEqual(addrSpecs('"quoted local"@example.test, "plain"@example.test'), ['"quoted local"@example.test', 'plain@example.test']);
  assert.deepEqual(addrSpecs('Jäger <jäger@example.org>'), ['jäger@example.org']);
  assert.deepEqual(addrSpecs('=?utf-8?q?J=C3=A4ger?= <j@example.org>'), ['j@example.org']);
  assert.deepEqual(addrSpecs('undisclosed-recipients:;'), []);
});

test('decodeCharset: plain ASCII reads the same through the native path as through libmime, in every ASCII-compatible charset', async () => {
  const { decodeCharset } = await import('../../../mime/decode.js');
  const { default: libcharset } = await import('libmime/lib/charset.js');
  const ascii = Buffer.from('Plain text, tabs\tand CRLF\r\n~!@#$%^&*()_+{}|:"<>?`-=[]\\;\',./');
  for (const cs of ['us-ascii', 'UTF-8', 'iso-8859-1', 'ISO-8859-15', 'windows-1252', 'koi8-r', 'gb2312', 'shift_jis']) {
    assert.equal(decodeCharset(ascii, cs), libcharset.decode(ascii, cs), cs);
  }
  // Not ASCII, or a charset whose ASCII bytes mean something else: libmime decides.
  const latin = Buffer.from([0x63, 0x61, 0x66, 0xe9]);
  assert.equal(decodeCharset(latin, 'iso-8859-1'), 'café');
  assert.equal(decodeCharset(Buffer.from('+AOk-'), 'utf-7'), 'é');
});

test('decodeCharset on hostile input: a megabyte charset name, megabytes of high bytes, stay linear', async () => {
  const { decodeCharset } = await import('../../../mime/decode.js');
  const body = Buffer.alloc(4 * MB, 0xe9);
  assert.equal(fast('4 MB of é as latin1', () => decodeCharset(body, 'iso-8859-1')).length, 4 * MB);
  const ascii = Buffer.alloc(4 * MB, 0x61);
  assert.equal(fast('4 MB of ASCII', () => decodeCharset(ascii, 'utf-8')).length, 4 * MB);
  fast('a 1 MB charset name', () => decodeCharset(Buffer.from('text'), 'iso-8859-' + '1'.repeat(MB)));
  fast('a 1 MB near-miss charset name', () => decodeCharset(Buffer.from('text'), 'windows-125' + 'x'.repeat(MB)));
});
