// SRS0 addresses: made and reversed with the secret, refused when forged,
// expired or malformed, whatever the case of the letters; the secret file
// made once; the rewriter's choice of sender; the MX hook's verdicts and
// the delivery route of a valid SRS address; hostile addresses answered
// quickly and without a throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { loadOrCreateSrsSecret, MAX_SRS_ADDRESS, SRS_VALID_DAYS, SrsCodec, SrsRewriter, srsSecretPath } from '../../../src/outbound/srs.js';
import { srsAliases, srsRecipientHook } from '../../../src/mx/hooks/srs-recipient.js';
import { AliasResolver } from '../../../src/delivery/alias-resolver.js';
import { HookChain, type SessionInfo } from '../../../src/mx/chain.js';
import { endpointHooks } from '../../../src/mx/hooks/index.js';
import { resolveConfig } from '../../../src/config.js';
import { openMemoryStorage } from '../../../storage/memory/index.js';
import { scratchDir } from '../../support/tmp.js';
import { fast, MB } from '../../support/hostile.js';
import { prng } from '../../support/prng.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 11, 6, 12);
const secret = Buffer.alloc(32, 7);
const codecAt = (t: number) => new SrsCodec(secret, () => t);

test('SRS0: made with the hash and the day, reversed to the original address, case-insensitively', () => {
  const codec = codecAt(T0);
  const srs = codec.encode('Alice.Smith@Remote.test', 'example.test')!;
  assert.match(srs, /^SRS0=[A-Z2-7]{8}=[A-Z2-7]{2}=Remote\.test=Alice\.Smith@example\.test$/);
  assert.deepEqual(codec.reverse(srs), { kind: 'valid', original: 'Alice.Smith@Remote.test' });
  // Hops may change the case of an address, all or part of it.
  assert.deepEqual(codec.reverse(srs.toLowerCase()), { kind: 'valid', original: 'alice.smith@remote.test' });
  assert.deepEqual(codec.reverse(srs.toUpperCase()), { kind: 'valid', original: 'ALICE.SMITH@REMOTE.TEST' });
  // A local part holding '=' and an SRS0 sender of another forwarder survive the round trip.
  for (const sender of ['a=b=c@remote.test', 'SRS0=abcd=XY=orig.test=bob@forwarder.test', "o'brien+tag@remote.test"]) {
    assert.deepEqual(codec.reverse(codec.encode(sender, 'example.test')!), { kind: 'valid', original: sender });
  }
  // Another secret did not make it.
  assert.equal(new SrsCodec(Buffer.alloc(32, 8), () => T0).reverse(srs).kind, 'forged');
});

test('SRS0 with older secrets: addresses made with them still reverse, new ones are made with the current secret only', () => {
  const older = Buffer.alloc(32, 9);
  const codec = new SrsCodec(secret, () => T0, [older]);
  const made = codec.encode('alice@remote.test', 'example.test')!;
  assert.equal(made, codecAt(T0).encode('alice@remote.test', 'example.test'), 'signed with the current secret');
  const byOlder = new SrsCodec(older, () => T0).encode('bob@remote.test', 'example.test')!;
  assert.deepEqual(codec.reverse(byOlder), { kind: 'valid', original: 'bob@remote.test' });
  assert.equal(codecAt(T0).reverse(byOlder).kind, 'forged', 'without the older secret: not ours');
  assert.equal(codec.reverse(byOlder.replace('=bob@', '=mallory@')).kind, 'forged');
  assert.throws(() => new SrsCodec(secret, () => T0, [Buffer.alloc(8)]), /too short/);
});

test('SRS0: a changed hash, day, domain or local part is forged; old addresses expire after the validity period', () => {
  const codec = codecAt(T0);
  const srs = codec.encode('alice@remote.test', 'example.test')!;
  const [, hash, tt] = srs.split('=') as [string, string, string];
  const flip = (c: string) => (c === 'A' ? 'B' : 'A');
  assert.equal(codec.reverse(srs.replace(hash, flip(hash[0]!) + hash.slice(1))).kind, 'forged');
  assert.equal(codec.reverse(srs.replace(`=${tt}=`, `=${flip(tt[0]!)}${tt[1]}=`)).kind, 'forged');
  assert.equal(codec.reverse(srs.replace('remote.test', 'evil.test')).kind, 'forged');
  assert.equal(codec.reverse(srs.replace('=alice@', '=mallory@')).kind, 'forged');
  // The SRS domain is not signed: any of our domains takes it back.
  assert.equal(codec.reverse(srs.replace('@example.test', '@example.org')).kind, 'valid');

  assert.equal(codecAt(T0 + SRS_VALID_DAYS * DAY).reverse(srs).kind, 'valid');
  assert.equal(codecAt(T0 + (SRS_VALID_DAYS + 1) * DAY).reverse(srs).kind, 'expired');
  assert.equal(codecAt(T0 + 500 * DAY).reverse(srs).kind, 'expired');
  // A clock a day behind the one that made it still accepts; further behind does not.
  assert.equal(codecAt(T0 - DAY).reverse(srs).kind, 'valid');
  assert.equal(codecAt(T0 - 3 * DAY).reverse(srs).kind, 'expired');
});

test('SRS0: what is not ours in shape is malformed or not SRS at all; what cannot be put in one is left alone', () => {
  const codec = codecAt(T0);
  assert.deepEqual(codec.reverse('bob@example.test'), { kind: 'not-srs' });
  assert.deepEqual(codec.reverse('srs0@example.test'), { kind: 'not-srs' });
  assert.deepEqual(codec.reverse('SRS0=nope'), { kind: 'not-srs' }, 'no domain');
  for (const bad of [
    'SRS0=@example.test',
    'SRS0=AAAAAAAA=AA@example.test',
    'SRS0=AAAAAAAA=AA=remote.test@example.test',
    'SRS0=AAAAAAAA=AA=remote.test=@example.test',
    'SRS0=AAAA=AA=remote.test=bob@example.test',
    'SRS0=AAAAAAA1=AA=remote.test=bob@example.test',
    'SRS0=AAAAAAAA=A=remote.test=bob@example.test',
    'SRS0=AAAAAAAA=AA=remote_test=bob@example.test',
    'SRS0=AAAAAAAA=AA=remote.test=a..b@example.test',
    'SRS0=AAAAAAAA=AA=remote.test=a"b@example.test',
    'SRS0+AAAAAAAA=AA=remote.test=bob@example.test',
    'SRS1=AAAA=forwarder.test==AAAAAAAA=AA=remote.test=bob@example.test',
    `SRS0=AAAAAAAA=AA=remote.test=${'a'.repeat(MAX_SRS_ADDRESS)}@example.test`,
  ]) {
    assert.deepEqual(codec.reverse(bad), { kind: 'malformed' }, bad);
  }
  for (const sender of ['"quoted local"@remote.test', 'bob@[192.0.2.1]', 'no-at-sign', '@remote.test', `${'a'.repeat(260)}@remote.test`, 'a b@remote.test']) {
    assert.equal(codec.encode(sender, 'example.test'), undefined, sender);
  }
});

test('SRS0 hostile inputs: megabytes of address, of "=" and of "@" are answered in linear time, never thrown', () => {
  const codec = codecAt(T0);
  const inputs = [
    `SRS0=${'='.repeat(MB)}@example.test`,
    `SRS0=${'A'.repeat(MB)}=AA=remote.test=bob@example.test`,
    `SRS0=AAAAAAAA=AA=${'a.'.repeat(MB / 2)}test=bob@example.test`,
    `SRS0=${'@'.repeat(MB)}`,
    `srs0=${'a-'.repeat(MB / 2)}@${'b'.repeat(MB)}`,
  ];
  for (const input of inputs) assert.equal(fast('reverse', () => codec.reverse(input)).kind, 'malformed');
  // The bounded patterns themselves, just under the size cut: still quick.
  const nearCap = `SRS0=AAAAAAAA=AA=${'a1-'.repeat(90)}!=bob@example.test`.slice(0, MAX_SRS_ADDRESS);
  fast('reverse near the cap', () => codec.reverse(nearCap));
  fast('encode', () => codec.encode(`${'a.'.repeat(MB)}@remote.test`, 'example.test'));
  fast('encode domain', () => codec.encode(`a@${'a-'.repeat(120)}!`, 'example.test'));
  // Random addresses: a verdict every time, never a throw, and nothing random passes.
  const rand = prng(13);
  const alphabet = 'SRS0srs=+-@.aAzZ27!"\\ \u00e9';
  for (let i = 0; i < 20_000; i++) {
    let s = 'SRS0=';
    const n = Math.floor(rand() * 60);
    for (let j = 0; j < n; j++) s += alphabet[Math.floor(rand() * alphabet.length)];
    const r = codec.reverse(s);
    assert.notEqual(r.kind, 'valid', s);
  }
});

test('the SRS secret: 32 random bytes made once (mode 600), the same ever after; a damaged file is an error, not a new key', () => {
  const s = scratchDir();
  try {
    const first = loadOrCreateSrsSecret(s.dir);
    assert.equal(first.length, 32);
    assert.equal(statSync(srsSecretPath(s.dir)).mode & 0o777, 0o600);
    assert.deepEqual(loadOrCreateSrsSecret(s.dir), first);
    assert.match(readFileSync(path.join(s.dir, 'srs.key'), 'utf8'), /^[A-Za-z0-9+/]{43}=\n$/);
    writeFileSync(srsSecretPath(s.dir), 'short\n');
    assert.throws(() => loadOrCreateSrsSecret(s.dir), /not an SRS secret/);
  } finally {
    s.cleanup();
  }
});

test('SrsRewriter: foreign senders get an SRS0 address in the domain of the hostname; local and null senders stay', async () => {
  const storage = openMemoryStorage();
  await storage.directory.addDomain('example.org');
  await storage.directory.addDomain('example.test');
  const codec = codecAt(T0);
  const rewriter = new SrsRewriter(codec, storage.directory, 'mx.example.test');
  assert.equal(await rewriter.forwardSender(''), '');
  assert.equal(await rewriter.forwardSender('bob@example.org'), 'bob@example.org');
  assert.equal(await rewriter.forwardSender('bob@EXAMPLE.TEST'), 'bob@EXAMPLE.TEST');
  const srs = await rewriter.forwardSender('alice@remote.test');
  assert.match(srs, /^SRS0=[A-Z2-7]{8}=[A-Z2-7]{2}=remote\.test=alice@example\.test$/);
  assert.deepEqual(codec.reverse(srs), { kind: 'valid', original: 'alice@remote.test' });
  assert.equal(await rewriter.forwardSender('"odd one"@remote.test'), '"odd one"@remote.test', 'cannot be rewritten: left as it is');
  // A hostname in none of the domains: the first domain.
  assert.match(await new SrsRewriter(codec, storage.directory, 'host.elsewhere.test').forwardSender('a@remote.test'), /@example\.org$/);
  // No domain at all: nothing to rewrite into.
  assert.equal(await new SrsRewriter(codec, openMemoryStorage().directory, 'h.test').forwardSender('a@remote.test'), 'a@remote.test');
});

test('MX: a bounce to a valid SRS address is accepted and routed to the original sender; forged, expired and non-bounces are refused', async () => {
  const storage = openMemoryStorage();
  await storage.directory.addDomain('example.test');
  await storage.directory.addAccount({ address: 'bob@example.test', passwordHash: 'x', scramSha256: null, quota: null });
  const codec = codecAt(T0);
  const quiet = pino({ level: 'silent' });
  const session: SessionInfo = { id: 's', remoteAddress: '192.0.2.1', helo: 'bounce.remote.test' };
  const chain = new HookChain(endpointHooks('smtp', resolveConfig({}), storage, codec), quiet);
  const rcpt = async (recipient: string, from = '') => {
    const v = await chain.run('rcpt', { session, from, recipient });
    return v.kind === 'accept' ? 'accept' : `${v.code} ${v.enhanced} ${v.text}`;
  };
  const srs = codec.encode('alice@remote.test', 'example.test')!;
  assert.equal(await rcpt(srs), 'accept');
  assert.equal(await rcpt(srs.toLowerCase()), 'accept');
  assert.match(await rcpt(srs, 'someone@remote.test'), /^550 5\.7\.1 SRS addresses accept bounces/);
  assert.match(await rcpt(srs.replace('=alice@', '=mallory@')), /^550 5\.1\.1 Invalid SRS address: bad signature/);
  assert.match(await rcpt(codecAt(T0 - 30 * DAY).encode('alice@remote.test', 'example.test')!), /^550 5\.1\.1 Expired SRS address/);
  assert.match(await rcpt('SRS0=xx@example.test'), /^550 5\.1\.1 Invalid SRS address/);
  // Someone else's SRS address is a relay question.
  assert.match(await rcpt(codec.encode('alice@remote.test', 'other.test')!), /^554 5\.7\.1 Relay access denied/);
  assert.equal(await rcpt('bob@example.test'), 'accept');

  // The delivery agent's route: like an alias whose one target is the original sender.
  const aliases = new AliasResolver(storage.directory, srsAliases(codec));
  assert.deepEqual(await aliases.expand(srs), { local: [], remote: ['alice@remote.test'], dead: [] });
  await assert.rejects(aliases.expand(srs.replace('=alice@', '=mallory@')), /no such user/);
  // Without SRS (no secret) it is an unknown user.
  await assert.rejects(new AliasResolver(storage.directory).expand(srs), /no such user/);
  // The hook alone says nothing about addresses that are not SRS.
  const hook = srsRecipientHook(codec, async () => true);
  assert.deepEqual(await hook.run({ session, from: 'x@y.test', recipient: 'bob@example.test' }), { kind: 'accept' });
});
