// Message-IDs as THREAD=REFERENCES reads them (RFC 5322 msg-id, normalised
// as Dovecot 2.3 does it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allMessageIds, firstMessageId } from '../../../src/protocol/imap/message-id.js';

test('a msg-id loses its brackets and inner whitespace; case is kept', () => {
  assert.equal(firstMessageId('<a@b.example>'), 'a@b.example');
  assert.equal(firstMessageId('  <CaseID@E.example>  (comment)'), 'CaseID@E.example');
  assert.equal(firstMessageId('<a b@c>'), 'ab@c');
  assert.equal(firstMessageId('<a@b\r\n c>'), 'a@bc');
  assert.equal(firstMessageId('Your message of Monday <x@y>'), 'x@y');
  assert.equal(firstMessageId(undefined), null);
  assert.equal(firstMessageId(''), null);
});

test('without "@" it is no Message-ID, and the next one is used', () => {
  assert.equal(firstMessageId('<no-at-sign>'), null);
  assert.equal(firstMessageId('<no-at-sign> <zebra@z.example> (comment)'), 'zebra@z.example');
  assert.deepEqual(allMessageIds('<no-at-sign> <a@x> junk <b@x>'), ['a@x', 'b@x']);
  assert.equal(firstMessageId('<a@b'), null, 'unterminated');
});

test('quoted local parts and comments are normalised away; a plain domain literal passes as it is', () => {
  assert.equal(firstMessageId('<"quoted"@q.example>'), 'quoted@q.example');
  assert.equal(firstMessageId('<"quoted local"@q.example>'), 'quoted local@q.example');
  assert.equal(firstMessageId('<"a\\"b"@q>'), 'a"b@q');
  assert.equal(firstMessageId('<a(comment)@b>'), 'a@b');
  assert.equal(firstMessageId('<a . b @ c . d>'), 'a.b@c.d');
  // Dovecot's quick scan takes "[" for an ordinary character...
  assert.equal(firstMessageId('<a@[127.0.0.1]>'), 'a@[127.0.0.1]');
  // ...but once a quote or comment sends it to the tokenizer, a domain literal is no id.
  assert.equal(firstMessageId('<"a"@[127.0.0.1]> <b@c>'), 'b@c');
});

test('References in order, duplicates kept', () => {
  assert.deepEqual(allMessageIds('<loop-a@l> <loop-b@l>\r\n <loop-a@l>'), ['loop-a@l', 'loop-b@l', 'loop-a@l']);
  assert.deepEqual(allMessageIds(undefined), []);
  // A "<" inside an id is part of it, as Dovecot reads it.
  assert.deepEqual(allMessageIds('<<a@b>'), ['<a@b']);
});

test('hostile values are read in linear time', () => {
  const started = Date.now();
  assert.equal(firstMessageId('<('.repeat(100_000)), null);
  assert.equal(firstMessageId('<'.repeat(200_000)), null);
  assert.equal(firstMessageId('<"'.repeat(100_000)), null);
  assert.equal(allMessageIds('<a@b> '.repeat(50_000)).length, 50_000);
  assert.equal(firstMessageId('<a'.repeat(100_000) + '@b>'), 'a' + '<a'.repeat(99_999) + '@b');
  assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
});
