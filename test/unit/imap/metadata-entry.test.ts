// METADATA entry names (RFC 5464 3.2) as Dovecot 2.3 checks them, plus
// Postino's bounds on length and levels; and which entries DEPTH 1 and
// infinity reach.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkEntryName, isBelow } from '../../../src/protocol/imap/metadata-entry.js';
import { IMAP_LIMITS } from '../../../src/protocol/imap/limits.js';

const check = (name: string) => checkEntryName(name, IMAP_LIMITS);

test('valid names start with /private or /shared and come back lower-cased', () => {
  for (const [raw, name] of [
    ['/private/comment', '/private/comment'],
    ['/shared/comment', '/shared/comment'],
    ['/PRIVATE/Comment', '/private/comment'],
    ['/private', '/private'],
    ['/shared', '/shared'],
    ['/private/vendor/vendor.example/a b', '/private/vendor/vendor.example/a b'],
    ['/shared/filters/values/boss', '/shared/filters/values/boss'],
  ] as const) {
    assert.deepEqual(check(raw), { ok: true, name }, raw);
  }
});

test('RFC 5464 3.2 rules: each broken one is a syntax error (BAD), with Dovecot\'s reason', () => {
  for (const [raw, text] of [
    ['comment', "Entry name must begin with '/'"],
    ['', "Entry name must begin with '/'"],
    ['NIL', "Entry name must begin with '/'"],
    ['/private/*', "Entry name can't contain '*'"],
    ['/private/%', "Entry name can't contain '%'"],
    ['/private//comment', "Entry name can't contain consecutive '/'"],
    ['//private', "Entry name can't contain consecutive '/'"],
    ['/private/comment/', "Entry name can't end with '/'"],
    ['/', "Entry name can't end with '/'"],
    ['/foo/comment', 'Entry name must begin with /private or /shared'],
    ['/privatex', 'Entry name must begin with /private or /shared'],
    ['/sharedcomment', 'Entry name must begin with /private or /shared'],
    ['/private/caf\u00e9', "Entry name can't contain control chars"],
    ['/private/a\tb', "Entry name can't contain control chars"],
    ['/private/a\x7f', "Entry name can't contain control chars"],
  ] as const) {
    assert.deepEqual(check(raw), { ok: false, kind: 'syntax', text }, JSON.stringify(raw));
  }
});

test('bounds: length and levels past IMAP_LIMITS are a limit (NO [LIMIT]), not a syntax error', () => {
  const longest = '/private/' + 'k'.repeat(IMAP_LIMITS.metadataMaxEntryNameLength - '/private/'.length);
  assert.equal(check(longest).ok, true);
  assert.equal((check(longest + 'k') as { kind: string }).kind, 'limit');
  const deepest = '/private' + '/x'.repeat(IMAP_LIMITS.metadataMaxEntryDepth);
  assert.equal(check(deepest).ok, true);
  assert.equal((check(deepest + '/x') as { kind: string }).kind, 'limit');
  // A hostile name is scanned once: 60,000 levels answer at once.
  const huge = '/private' + '/x'.repeat(30_000);
  const started = process.hrtime.bigint();
  assert.equal((check(huge) as { kind: string }).kind, 'limit');
  assert.ok(process.hrtime.bigint() - started < 2_000_000_000n);
});

test('isBelow: DEPTH 1 reaches children, infinity every descendant, never a sibling that shares the prefix', () => {
  assert.equal(isBelow('/private/a', '/private/a/b', false), true);
  assert.equal(isBelow('/private/a', '/private/a/b/c', false), false);
  assert.equal(isBelow('/private/a', '/private/a/b/c', true), true);
  assert.equal(isBelow('/private/a', '/private/ab', true), false);
  assert.equal(isBelow('/private/a', '/private/a', true), false);
  assert.equal(isBelow('/private', '/private/comment', false), true);
  assert.equal(isBelow('/private', '/shared/comment', true), false);
});
