import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMutf7, decodeMutf7 } from '../../../src/protocol/imap/mutf7.js';

test('RFC 3501 examples and round trips', () => {
  assert.equal(encodeMutf7('~peter/mail/台北/日本語'), '~peter/mail/&U,BTFw-/&ZeVnLIqe-');
  assert.equal(decodeMutf7('~peter/mail/&U,BTFw-/&ZeVnLIqe-'), '~peter/mail/台北/日本語');
  assert.equal(encodeMutf7('Entwürfe'), 'Entw&APw-rfe');
  assert.equal(encodeMutf7('A&B'), 'A&-B');
  assert.equal(decodeMutf7('A&-B'), 'A&B');
  for (const s of ['INBOX', 'Äpfel & Birnen', '😀 emoji', 'a/b/c', '']) assert.equal(decodeMutf7(encodeMutf7(s)), s);
});

test('malformed names are refused', () => {
  for (const bad of ['&', '&Jjo', '&Jjo!-', 'ä', '&AGE-', '&U,B-']) assert.throws(() => decodeMutf7(bad), Error, bad);
});
