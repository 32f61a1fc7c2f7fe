// BINARY (RFC 3516) content and the transfer-encoding decoders. The expected
// bytes are what Dovecot 2.3 answered for the same messages (checked by hand
// against dovecot-imapd; see test/integration/imap-binary-dovecot.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { indexMessage } from '../../../mime/index.js';
import { binaryContent, UnknownCteError } from '../../../src/protocol/imap/binary.js';
import { decodeQuotedPrintable, decodeTransfer, transferEncoding } from '../../../mime/transfer-encoding.js';
import { compileResponse, untagged } from '../../../src/protocol/imap/response.js';
import { parseFetchItem } from '../../../src/protocol/imap/commands/fetch.js';
import { ImapParseError } from '../../../src/protocol/imap/parser.js';

const bin = (s: string) => Buffer.from(s, 'latin1');
const content = (raw: Buffer, path: number[]) => binaryContent(raw, indexMessage(raw), path)?.toString('latin1');

const NULS = 'hello\0world\r\n'.repeat(3);
const B64 = bin(
  'From: a@b\r\nSubject: b64\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
    Buffer.from(NULS, 'latin1').toString('base64').replace(/(.{76})/g, '$1\r\n') +
    '\r\n',
);

const MULTI = bin(
  'From: a@b\r\nSubject: multi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="XX"\r\n\r\npre\r\n--XX\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 trailing   \r\nsoft=\r\nbreak =3D ok\r\n--XX\r\n' +
    'Content-Type: application/x-foo\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 foo\r\nend\r\n--XX\r\n' +
    'Content-Type: text/plain\r\n\r\nplain 7bit\r\n--XX\r\n' +
    'Content-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Transfer-Encoding: base64\r\n\r\naW5uZXI=\r\n--XX--\r\n',
);

test('BINARY[] of a base64 message: decoded, with Content-Transfer-Encoding: binary in place', () => {
  assert.equal(
    content(B64, []),
    'From: a@b\r\nSubject: b64\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n' + NULS,
  );
  assert.equal(content(B64, [1]), NULS);
});

test('parts of a multipart: quoted-printable, 7bit, an embedded message as a whole, a missing part', () => {
  // The CRLF before a boundary belongs to the boundary.
  assert.equal(content(MULTI, [1]), 'caf\xc3\xa9 trailing\r\nsoftbreak = ok');
  assert.equal(content(MULTI, [3]), 'plain 7bit');
  assert.equal(content(MULTI, [4]), 'Subject: inner\r\nContent-Transfer-Encoding: binary\r\n\r\ninner');
  assert.equal(content(MULTI, [4, 1]), 'inner');
  assert.equal(content(MULTI, [9]), undefined);
});

test('an encoding that cannot be undone is UNKNOWN-CTE, also when it is inside the section', () => {
  assert.throws(() => content(MULTI, [2]), UnknownCteError);
  assert.throws(() => content(MULTI, []), UnknownCteError);
});

test('a message stored with bare LFs comes out with CRLF', () => {
  const raw = bin('From: a@b\nSubject: lf\nContent-Transfer-Encoding: quoted-printable\n\nline1=\nline2\nx=00y\n');
  assert.equal(content(raw, [1]), 'line1line2\r\nx\0y\r\n');
  assert.equal(content(raw, []), 'From: a@b\r\nSubject: lf\r\nContent-Transfer-Encoding: binary\r\n\r\nline1line2\r\nx\0y\r\n');
});

test('quoted-printable: soft breaks, trailing blanks, lower-case hex, broken escapes pass through', () => {
  assert.equal(decodeQuotedPrintable(bin('a=3d=3D \t\r\nb=\r\nc')).toString('latin1'), 'a== \r\nbc'.replace(' \r\n', '\r\n'));
  assert.equal(decodeQuotedPrintable(bin('=ZZ=4')).toString('latin1'), '=ZZ=4');
  assert.equal(decodeQuotedPrintable(bin('x=\n')).toString('latin1'), 'x');
  assert.equal(transferEncoding(' BASE64 '), 'base64');
  assert.equal(transferEncoding(undefined), 'identity');
  assert.equal(transferEncoding('x-uuencode'), undefined);
  assert.equal(decodeTransfer(bin('aGVs\r\nbG8=\r\n'), 'base64')?.toString(), 'hello');
});

test('FETCH items: BINARY, BINARY.PEEK with a partial, BINARY.SIZE; only part numbers in the section', () => {
  assert.deepEqual(parseFetchItem('BINARY[1.2]'), { kind: 'binary', label: 'BINARY[1.2]', path: [1, 2], peek: false });
  assert.deepEqual(parseFetchItem('binary.peek[]<5.10>'), { kind: 'binary', label: 'BINARY[]<5>', path: [], peek: true, partial: { offset: 5, length: 10 } });
  assert.deepEqual(parseFetchItem('BINARY.SIZE[3]'), { kind: 'binary-size', label: 'BINARY.SIZE[3]', path: [3] });
  for (const bad of ['BINARY[TEXT]', 'BINARY[1.MIME]', 'BINARY[0]', 'BINARY.SIZE[1]<0.5>', 'BINARY[1]<0.0>']) {
    assert.throws(() => parseFetchItem(bad), ImapParseError, bad);
  }
});

test('literal8 on the wire', () => {
  const wire = Buffer.concat(compileResponse(untagged(1, 'FETCH', ['BINARY[1]', { literal8: bin('a\0b') }]))).toString('latin1');
  assert.equal(wire, '* 1 FETCH (BINARY[1] ~{3}\r\na\0b)\r\n');
});
