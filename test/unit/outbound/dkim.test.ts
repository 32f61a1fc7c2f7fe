// DKIM: the key store (files, modes, the active selector, rotation), the
// TXT record as printed, and the signer: mailauth's verifier passes what it
// signs (RSA and Ed25519, relaxed/relaxed, From oversigned), a From added
// afterwards breaks it, and what is not ours to sign leaves unchanged.
// Hostile messages are signed in bounded time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dkimVerify } from 'mailauth';
import { createPublicKey } from 'node:crypto';
import { DkimKeyStore, dkimRecordMatches, dkimRecordValue, dkimTxtRecord, defaultSelector } from '../../../src/outbound/dkim-keys.js';
import { DkimSigner, authorDomain } from '../../../src/outbound/dkim.js';
import { parseMessage } from '../../../mime/index.js';
import { isMailError } from '../../../storage/errors.js';
import { scratchDir } from '../../support/tmp.js';
import { fast } from '../../support/hostile.js';

const MESSAGE = [
  'From: Bob <bob@example.test>',
  'To: alice@remote.test',
  'Subject: signed',
  'Date: Sun, 06 Dec 2026 12:00:00 +0000',
  'Message-ID: <1@example.test>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  'X-Not-Signed: whatever',
  '',
  'Hello  Alice,   ',
  'a body with trailing blanks\t',
  '',
  '',
].join('\r\n');

/** The record of each key as a resolver answers TXT: one record of several strings, cut as the printed line is. */
function resolverFor(keys: DkimKeyStore, domain: string): (name: string, type: string) => Promise<string[][]> {
  return async (name, type) => {
    const key = keys.list(domain).find((k) => k.name === name.toLowerCase());
    if (type !== 'TXT' || !key) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
    return [[...key.record.matchAll(/"([^"]*)"/g)].map((m) => m[1]!)];
  };
}

async function verify(raw: Buffer, keys: DkimKeyStore, domain: string) {
  const r = await dkimVerify(raw, { resolver: resolverFor(keys, domain) as never });
  return r.results.map((x) => ({ status: x.status.result, domain: x.signingDomain, selector: x.selector }));
}

const errorCode = (err: unknown) => (isMailError(err) ? err.code : String(err));

test('key store: the first key is active, the next waits for activate; files 600 in directories 700; selectors and domains checked', () => {
  const s = scratchDir();
  try {
    const keys = new DkimKeyStore(s.dir);
    const first = keys.generate('example.test', 's1', 'rsa');
    assert.equal(first.active, true);
    assert.equal(first.bits, 2048);
    assert.equal(statSync(path.join(s.dir, 'dkim', 'example.test', 's1.key')).mode & 0o777, 0o600);
    assert.equal(statSync(path.join(s.dir, 'dkim', 'example.test')).mode & 0o777, 0o700);
    assert.equal(statSync(path.join(s.dir, 'dkim')).mode & 0o777, 0o700);
    const second = keys.generate('example.test', 's2', 'ed25519');
    assert.equal(second.active, false);
    assert.equal(second.bits, undefined);
    assert.equal(keys.activeKey('example.test')?.selector, 's1');
    keys.activate('example.test', 's2');
    assert.equal(keys.activeKey('example.test')?.selector, 's2');
    assert.equal(keys.activeKey('example.test')?.type, 'ed25519');
    assert.deepEqual(keys.list().map((k) => `${k.selector}:${k.active}`), ['s1:false', 's2:true']);
    assert.deepEqual(keys.list('other.test'), []);
    assert.throws(() => keys.generate('example.test', 's1', 'rsa'), (e) => errorCode(e) === 'ALREADYEXISTS');
    assert.throws(() => keys.activate('example.test', 's9'), (e) => errorCode(e) === 'NONEXISTENT');
    for (const selector of ['../x', 'a.b', '', '-a', 'a'.repeat(64), 'a/b']) {
      assert.throws(() => keys.generate('example.test', selector, 'rsa'), (e) => errorCode(e) === 'BADINPUT', selector);
    }
    for (const domain of ['..', '../../etc', 'a/b.test', 'nodot', `${'a'.repeat(64)}.test`]) {
      assert.throws(() => keys.generate(domain, 's1', 'rsa'), (e) => errorCode(e) === 'BADINPUT', domain);
      assert.equal(keys.activeKey(domain), undefined);
    }
    assert.equal(keys.activeKey('unknown.test'), undefined);
    assert.equal(defaultSelector(new Date(Date.UTC(2026, 11, 6)), () => false), 's202612');
    assert.equal(defaultSelector(new Date(Date.UTC(2027, 0, 1)), (s) => s === 's202701' || s === 's202701-2'), 's202701-3');
  } finally {
    s.cleanup();
  }
});

test('the TXT record: NAME IN TXT with the value in quoted strings of at most 255 characters, which join to the value', () => {
  const s = scratchDir();
  try {
    const keys = new DkimKeyStore(s.dir);
    const rsa = keys.generate('example.test', 'sel', 'rsa');
    assert.match(rsa.record, /^sel\._domainkey\.example\.test IN TXT "v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+" "[A-Za-z0-9+/=]+"$/);
    const strings = [...rsa.record.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
    assert.ok(strings.every((x) => x.length <= 255));
    assert.equal(strings.join(''), rsa.value);
    const ed = keys.generate('example.test', 'ed', 'ed25519');
    assert.match(ed.record, /^ed\._domainkey\.example\.test IN TXT "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}="$/);
    assert.equal(dkimTxtRecord('a', 'b.test', 'x'.repeat(510)), `a._domainkey.b.test IN TXT "${'x'.repeat(255)}" "${'x'.repeat(255)}"`);
    // What activate compares: key type and p=, whitespace and tag case aside.
    assert.ok(dkimRecordMatches(rsa.value.replace('; p=', ';  P= ').replace(/(.{60})/, '$1 '), rsa.value));
    assert.ok(dkimRecordMatches(rsa.value.replace('v=DKIM1; k=rsa; ', ''), rsa.value), 'k= defaults to rsa');
    assert.ok(!dkimRecordMatches(ed.value, rsa.value));
    assert.ok(!dkimRecordMatches(rsa.value.replace('k=rsa', 'k=ed25519'), rsa.value));
    assert.ok(!dkimRecordMatches('v=DKIM1; p=', 'v=DKIM1; k=rsa; p='));
    assert.ok(!dkimRecordMatches('v=spf1 -all', rsa.value));
    assert.equal(dkimRecordValue(createPublicKey(keys.activeKey('example.test')!.privateKey)), rsa.value);
  } finally {
    s.cleanup();
  }
});

test('signing: mailauth verifies RSA and Ed25519 signatures, relaxed/relaxed, with From oversigned; a From added afterwards fails', async () => {
  const s = scratchDir();
  try {
    const keys = new DkimKeyStore(s.dir);
    keys.generate('example.test', 'rsa1', 'rsa');
    keys.generate('example.test', 'ed1', 'ed25519');
    const signer = new DkimSigner(keys, async (d) => d === 'example.test');
    const signed = await signer.sign(Buffer.from(MESSAGE));
    const field = signed.toString('latin1').split(/\r\n(?![ \t])/)[0]!;
    assert.match(field, /^DKIM-Signature: /);
    const tags = field.replace(/\r\n[ \t]+/g, ' ');
    assert.match(tags, /c=relaxed\/relaxed/);
    assert.match(tags, /a=rsa-sha256/);
    assert.match(tags, /d=example\.test/);
    assert.match(tags, /s=rsa1/);
    const h = /h=([^;]+)/.exec(tags)![1]!.replace(/\s+/g, '').toLowerCase().split(':');
    assert.deepEqual(h.filter((x) => x === 'from'), ['from', 'from'], 'From signed once more than it occurs');
    for (const name of ['to', 'subject', 'date', 'message-id', 'mime-version', 'content-type']) assert.ok(h.includes(name), name);
    assert.ok(!h.includes('x-not-signed'));
    assert.ok(signed.subarray(field.length + 2).equals(Buffer.from(MESSAGE)), 'the message itself is unchanged below the signature');
    assert.deepEqual(await verify(signed, keys, 'example.test'), [{ status: 'pass', domain: 'example.test', selector: 'rsa1' }]);

    // A second From on top (the attack oversigning stops) and a changed body both fail.
    const forged = Buffer.concat([Buffer.from('From: Mallory <bob@example.test>\r\n'), signed]);
    assert.equal((await verify(forged, keys, 'example.test'))[0]!.status, 'fail');
    const changed = Buffer.from(signed.toString('latin1').replace('Hello  Alice', 'Hello Mallory'), 'latin1');
    // mailauth words a body hash mismatch as "neutral" (RFC 6376 6.3 lets a verifier say either).
    assert.equal((await verify(changed, keys, 'example.test'))[0]!.status, 'neutral');
    // Relaxed: refolded header fields and trailing blanks still verify.
    const refolded = Buffer.from(signed.toString('latin1').replace('Subject: signed', 'Subject:   signed  ').replace('a body with trailing blanks\t', 'a body with trailing blanks'), 'latin1');
    assert.equal((await verify(refolded, keys, 'example.test'))[0]!.status, 'pass');

    keys.activate('example.test', 'ed1');
    const edSigned = await new DkimSigner(keys, async () => true).sign(Buffer.from(MESSAGE));
    assert.deepEqual(await verify(edSigned, keys, 'example.test'), [{ status: 'pass', domain: 'example.test', selector: 'ed1' }]);
    assert.match(edSigned.toString('latin1'), /a=ed25519-sha256/);
  } finally {
    s.cleanup();
  }
});

test('not signed: a foreign From domain, a domain without a key, several From fields or authors of several domains, no From', async () => {
  const s = scratchDir();
  try {
    const keys = new DkimKeyStore(s.dir);
    keys.generate('example.test', 'k', 'ed25519');
    const signer = new DkimSigner(keys, async (d) => d === 'example.test' || d === 'nokey.test');
    const same = async (text: string) => {
      const raw = Buffer.from(text);
      assert.equal(await signer.sign(raw), raw, text.slice(0, 60));
    };
    await same(MESSAGE.replace('bob@example.test', 'bob@remote.test'));
    await same(MESSAGE.replace('bob@example.test', 'bob@nokey.test'));
    await same(`From: a@example.test\r\n${MESSAGE}`);
    await same(MESSAGE.replace('Bob <bob@example.test>', 'bob@example.test, eve@remote.test'));
    await same(MESSAGE.replace(/^From: .*\r\n/, ''));
    // Several authors of the one domain are signed.
    assert.match((await signer.sign(Buffer.from(MESSAGE.replace('Bob <bob@example.test>', 'bob@example.test, eve@Example.Test')))).toString(), /^DKIM-Signature: /);
    assert.equal(authorDomain(parseMessage(Buffer.from(MESSAGE.replace('Bob <bob@example.test>', 'bob@example.test, eve@Example.Test')))), 'example.test');
    assert.equal(authorDomain(parseMessage(Buffer.from('From: "x@evil.test" <bob@example.test>\r\n\r\n'))), 'example.test');
  } finally {
    s.cleanup();
  }
});

test('hostile messages: thousands of signed fields, a huge From, no body: signed (or left) quickly, and what is signed verifies', async () => {
  const s = scratchDir();
  try {
    const keys = new DkimKeyStore(s.dir);
    keys.generate('example.test', 'k', 'ed25519');
    const signer = new DkimSigner(keys, async () => true);
    const manyTo = `From: bob@example.test\r\n${'To: a@remote.test\r\n'.repeat(20_000)}Subject: x\r\n\r\nbody\r\n`;
    const started = performance.now();
    const signed = await signer.sign(Buffer.from(manyTo));
    assert.ok(performance.now() - started < 5000, 'signed in bounded time');
    assert.equal((await verify(signed, keys, 'example.test'))[0]!.status, 'pass');
    const hugeFrom = `From: ${'x'.repeat(200_000)} <bob@example.test>\r\n\r\n`;
    await fast('huge From', () => signer.sign(Buffer.from(hugeFrom)), 5000);
    // A header with no empty line after it gets one, so that verifiers read it as a header.
    for (const text of ['From: bob@example.test\r\nSubject: no body', 'From: bob@example.test\r\nSubject: no body\r\n', 'From: bob@example.test\nSubject: bare LF\n\nbody\n']) {
      const signed = await signer.sign(Buffer.from(text));
      assert.equal((await verify(signed, keys, 'example.test'))[0]!.status, 'pass', JSON.stringify(text));
    }
  } finally {
    s.cleanup();
  }
});

test('a damaged active key is a temporary failure (the runner defers), never unsigned mail', async () => {
  const s = scratchDir();
  try {
    const keys = new DkimKeyStore(s.dir);
    keys.generate('example.test', 'k', 'rsa');
    writeFileSync(path.join(s.dir, 'dkim', 'example.test', 'k.key'), '-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n');
    const signer = new DkimSigner(keys, async () => true);
    await assert.rejects(signer.sign(Buffer.from(MESSAGE)), (e) => errorCode(e) === 'TEMPFAIL' && /DKIM key of example\.test cannot be read/.test((e as Error).message));
    // A garbled "active" file names no key: unsigned, as for a domain without one.
    writeFileSync(path.join(s.dir, 'dkim', 'example.test', 'active'), '../../etc/passwd\n');
    assert.equal(keys.activeKey('example.test'), undefined);
  } finally {
    s.cleanup();
  }
});
