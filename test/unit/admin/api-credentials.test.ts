// The admin API's secrets: only hashes are stored, a CSRF token belongs to
// one session, and a session ends when idle or too old.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  csrfTokenFor,
  csrfTokenMatches,
  hashSecret,
  looksLikeSecret,
  newCredentialId,
  newSecret,
  SESSION_IDLE_MS,
  SESSION_MAX_MS,
  sessionExpiry,
} from '../../../src/admin/api/credentials.js';

test('secrets: 256 random bits with a kind prefix, never the same twice; the stored hash is SHA-256 hex and not the secret', () => {
  const a = newSecret('token');
  const b = newSecret('token');
  assert.match(a, /^pt_[A-Za-z0-9_-]{43}$/);
  assert.match(newSecret('session'), /^ps_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, b);
  assert.ok(looksLikeSecret(a));
  assert.equal(hashSecret(a), hashSecret(a));
  assert.match(hashSecret(a), /^[0-9a-f]{64}$/);
  assert.notEqual(hashSecret(a), hashSecret(b));
  assert.ok(!hashSecret(a).includes(a.slice(3, 20)));
  assert.notEqual(newCredentialId(), newCredentialId());
});

test('looksLikeSecret bounds what is looked up: wrong prefix, length or characters are refused before any hashing', () => {
  for (const bad of ['', 'pt_', 'pt_short', `xx_${'A'.repeat(43)}`, `pt_${'A'.repeat(44)}`, `pt_${'A'.repeat(42)}=`, `pt_${'A'.repeat(10_000)}`, `pt_${'A'.repeat(42)}\n`]) {
    assert.equal(looksLikeSecret(bad), false, JSON.stringify(bad.slice(0, 50)));
  }
});

test('CSRF token: derived from the session secret, differs per session, compared exactly', () => {
  const s1 = newSecret('session');
  const s2 = newSecret('session');
  const t1 = csrfTokenFor(s1);
  assert.equal(csrfTokenFor(s1), t1);
  assert.notEqual(csrfTokenFor(s2), t1);
  assert.notEqual(t1, s1);
  assert.ok(csrfTokenMatches(s1, t1));
  assert.ok(!csrfTokenMatches(s2, t1), "another session's token");
  assert.ok(!csrfTokenMatches(s1, undefined));
  assert.ok(!csrfTokenMatches(s1, ''));
  assert.ok(!csrfTokenMatches(s1, t1.slice(0, -1)));
  assert.ok(!csrfTokenMatches(s1, `${t1}x`));
});

test('session expiry: idle timeout from the last use, never past the maximum age from the login', () => {
  const created = 1_000_000;
  assert.equal(sessionExpiry(created, created), created + SESSION_IDLE_MS);
  assert.equal(sessionExpiry(created, created + 60_000), created + 60_000 + SESSION_IDLE_MS);
  assert.equal(sessionExpiry(created, created + SESSION_MAX_MS - 1000), created + SESSION_MAX_MS);
  assert.equal(sessionExpiry(created, created + SESSION_MAX_MS + 5000), created + SESSION_MAX_MS);
});
