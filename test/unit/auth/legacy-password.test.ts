// Dovecot password hashes, made by the real `doveadm pw -s SCHEME -p 'S3cret pass'`
// (Dovecot 2.3, Debian), checked by src/auth/legacy-password.ts (bcrypt.ts,
// argon2.ts, blake2b.ts for BLF-CRYPT and ARGON2ID/ARGON2I), plus the
// published vectors; and the rehash to scrypt at the next successful login.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { importableHash, isLegacyHash, sha512Crypt, verifyLegacyPassword } from '../../../src/auth/legacy-password.js';
import { bcryptHash, verifyBcrypt } from '../../../src/auth/bcrypt.js';
import { argon2, verifyArgon2 } from '../../../src/auth/argon2.js';
import { blake2b } from '../../../src/auth/blake2b.js';
import { createHash } from 'node:crypto';
import { verifyPassword } from '../../../src/auth/password.js';
import { Authenticator } from '../../../src/auth/authenticator.js';
import { AuthPenalty } from '../../../src/auth/penalty.js';
import { openMemoryStorage } from '../../../storage/memory/index.js';

const PASSWORD = 'S3cret pass';
const DOVEADM = {
  sha512Crypt: '{SHA512-CRYPT}$6$lLRty5TlZxxdMz.v$CAswusyxaru98vs23EG07PnOc4Kjw5DYGBJcGBnrrUKcizSSUhjzWIkeMIqi9UgLr95oozT8Mhqd0seO808Yr.',
  sha512CryptRounds: '{SHA512-CRYPT}$6$rounds=10000$thVWmtXXbC41spC6$YJm254Qx8IdavSRJl.g9tgTkhQeQIZZtLu737IpWaQ4D2d6TfbNjP/.T8EiRzv/O5Zh8Q1Li80BuFfHMdLgti1',
  ssha512: '{SSHA512}MwWoOMbXd7pxXByON1jNccehHUBiOadSm2yLtnFMAe+qxsL8LE1yVHEt4K2k/Gy/8yy3itwz3iP/GBMpC6sM0Li6qcM=',
  plain: '{PLAIN}S3cret pass',
  blfCrypt: '{BLF-CRYPT}$2y$05$7wSPOXi7kqcRMAV9r1AmH.yRRbaSzA5zycFL5pEhDFJry8JNluUBy',
  cryptBlowfish: '{CRYPT}$2y$05$1o7TzT8tjl7c695TTnnyl.yv.wK3ctNS3AGedRl3dZ0SJeJ69VXVe',
  blfCryptCost8: '{BLF-CRYPT}$2y$08$7JqJesvMhj8/oj2Pkiy9I.peBAYDVR/2pT8iQpEhyt01E1GQjN6we', // doveadm pw -r 8
  blfCryptCost10: '{BLF-CRYPT}$2y$10$TdGY/KMbnAlYQFzsXAIzM.Q.v.QCe6j9Je958kmlVGLPrqe2gpGqW', // doveadm pw -r 10
  argon2id: '{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$19g5ebp5EVaYeJUlvGuLtA$jE2H/E+eN6JKLg6vIuxjZC1UTbkPUjgjtjIzBwjMOIg',
  argon2i: '{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$IxZn3AiYqy10eyFurHjFRA$g6173H0/+fhMso0c44vpu1UCt5W+ZIGxpDXvofbjaCM',
};

describe('Dovecot password hashes', () => {
  for (const [name, hash] of Object.entries({ sha512Crypt: DOVEADM.sha512Crypt, sha512CryptRounds: DOVEADM.sha512CryptRounds, ssha512: DOVEADM.ssha512, plain: DOVEADM.plain })) {
    test(`${name}: the right password verifies, a wrong one does not`, async () => {
      assert.equal(importableHash(hash).ok, true);
      assert.equal(verifyLegacyPassword(PASSWORD, hash), true);
      assert.equal(verifyLegacyPassword(PASSWORD + 'x', hash), false);
      assert.equal(verifyLegacyPassword('', hash), false);
      assert.equal(await verifyPassword(PASSWORD, hash), true);
    });
  }

  test('{CRYPT} and a bare $6$ string are SHA512-CRYPT too', () => {
    const bare = DOVEADM.sha512Crypt.slice('{SHA512-CRYPT}'.length);
    assert.equal(verifyLegacyPassword(PASSWORD, bare), true);
    assert.equal(verifyLegacyPassword(PASSWORD, `{CRYPT}${bare}`), true);
  });

  test('SHA-crypt matches the specification test vectors (Drepper, SHA-512)', () => {
    assert.equal(
      sha512Crypt('Hello world!', 'saltstring'),
      '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
    );
    assert.equal(
      sha512Crypt('Hello world!', 'saltstringsaltstring', 10000),
      '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
    );
  });

  for (const name of ['blfCrypt', 'cryptBlowfish', 'blfCryptCost8', 'blfCryptCost10'] as const) {
    test(`bcrypt ${name} (doveadm): the right password verifies, a wrong one does not`, async () => {
      const hash = DOVEADM[name];
      assert.equal(importableHash(hash).ok, true);
      assert.equal(importableHash(hash).scheme, 'BLF-CRYPT');
      assert.equal(verifyLegacyPassword(PASSWORD, hash), true);
      assert.equal(verifyLegacyPassword(PASSWORD + 'x', hash), false);
      assert.equal(verifyLegacyPassword('', hash), false);
      assert.equal(await verifyPassword(PASSWORD, hash), true);
      assert.equal(await verifyPassword('S3cret Pass', hash), false);
    });
  }

  test('bcrypt: a bare $2y$ string, and the same hash as $2a$/$2b$ (same algorithm for such passwords)', () => {
    const bare = DOVEADM.blfCrypt.slice('{BLF-CRYPT}'.length);
    assert.equal(isLegacyHash(bare), true);
    assert.equal(verifyLegacyPassword(PASSWORD, bare), true);
    for (const v of ['$2a$', '$2b$']) assert.equal(verifyLegacyPassword(PASSWORD, `{BLF-CRYPT}${v}${bare.slice(4)}`), true, v);
    // $2x$ (crypt_blowfish's sign-extension bug) is not the same algorithm: refused.
    assert.equal(importableHash(`{BLF-CRYPT}$2x$${bare.slice(4)}`).ok, false);
    assert.equal(verifyLegacyPassword(PASSWORD, `{BLF-CRYPT}$2x$${bare.slice(4)}`), false);
  });

  test('bcrypt: non-ASCII password hashed by doveadm (UTF-8 bytes)', () => {
    const hash = '{BLF-CRYPT}$2y$05$81C3FV4wZlUPv24zE.AR1OLR/iYgJUl/dQerX/pEkqDMnB.Szte/i'; // doveadm pw -p 'ünïcode pässwörd'
    assert.equal(verifyLegacyPassword('ünïcode pässwörd', hash), true);
    assert.equal(verifyLegacyPassword('unicode passwort', hash), false);
  });

  test('bcrypt: published vectors (OpenBSD / jBCrypt test set) and the 72-byte key limit', () => {
    const vectors: Array<[string, string]> = [
      ['', '$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.'],
      ['a', '$2a$06$m0CrhHm10qJ3lXRY.5zDGO3rS2KdeeWLuGmsfGlMfOxih58VYVfxe'],
      ['abc', '$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i'],
      ['abcdefghijklmnopqrstuvwxyz', '$2a$06$.rCVZVOThsIa97pEDOxvGuRRgzG64bvtJ0938xuqzv18d3ZpQhstC'],
      ['~!@#$%^&*()      ~!@#$%^&*()PNBFRD', '$2a$06$fPIsBO8qRqkjj273rfaOI.HtSV9jLDpTbZn782DC6/t7qT67P6FfO'],
    ];
    for (const [password, hash] of vectors) {
      assert.equal(verifyBcrypt(password, hash), true, hash);
      assert.equal(verifyBcrypt(password + '!', hash), false, hash);
    }
    const salt = Buffer.alloc(16, 7);
    const long = 'x'.repeat(72);
    // The key is the password and its NUL, cut to 72 bytes: characters past the 72nd do not count.
    assert.equal(bcryptHash(long, salt, 4), bcryptHash(long + 'tail', salt, 4));
    assert.notEqual(bcryptHash('x'.repeat(71), salt, 4), bcryptHash(long, salt, 4));
  });

  test('bcrypt: malformed hashes are false, a cost above the limit is refused at once (import and login)', () => {
    const body = DOVEADM.blfCrypt.slice('{BLF-CRYPT}$2y$05$'.length);
    for (const h of ['{BLF-CRYPT}$2y$05$short', `{BLF-CRYPT}$2y$05$${body}x`, `{BLF-CRYPT}$2y$5$${body}`, `{BLF-CRYPT}$2y$03$${body}`, `{BLF-CRYPT}$2y$05$${body.slice(0, -1)}!`]) {
      assert.equal(verifyLegacyPassword(PASSWORD, h), false, h);
    }
    const hostile = `{BLF-CRYPT}$2y$31$${body}`;
    const started = Date.now();
    assert.deepEqual(importableHash(hostile), { ok: false, scheme: 'BLF-CRYPT', reason: 'cost 31 is above the limit 16' });
    assert.throws(() => verifyLegacyPassword(PASSWORD, hostile), /cost 31 is above the limit 16/);
    assert.ok(Date.now() - started < 5000); // refused without running 2^31 rounds
  });

  test('BLAKE2b (hand-written, any length) agrees with node:crypto blake2b512 at 64 bytes', () => {
    for (const n of [0, 1, 127, 128, 129, 256, 1000]) {
      const data = Buffer.alloc(n, n & 0xff);
      assert.deepEqual(blake2b(64, data), createHash('blake2b512').update(data).digest(), `length ${n}`);
    }
    // RFC 7693 appendix A: BLAKE2b-512("abc") starts BA 80 A5 3F.
    assert.equal(blake2b(64, Buffer.from('abc')).subarray(0, 4).toString('hex'), 'ba80a53f');
  });

  test('Argon2id and Argon2i match the RFC 9106 section 5 test vectors', () => {
    const inputs = [Buffer.alloc(32, 1), Buffer.alloc(16, 2)] as const;
    const params = { m: 32, t: 3, p: 4, tagLength: 32 };
    assert.equal(
      argon2(...inputs, { type: 'argon2id', ...params }, Buffer.alloc(8, 3), Buffer.alloc(12, 4)).toString('hex'),
      '0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659',
    );
    assert.equal(
      argon2(...inputs, { type: 'argon2i', ...params }, Buffer.alloc(8, 3), Buffer.alloc(12, 4)).toString('hex'),
      'c814d9d1dc7f37aa13f0d77f2494bda1c8de6b016dd388d29952a4c4672b6ce8',
    );
  });

  test('Argon2id (doveadm, m=64 MiB t=3 p=1) and Argon2i (m=32 MiB t=4): right password verifies, wrong one does not, then login works', async () => {
    for (const hash of [DOVEADM.argon2id, DOVEADM.argon2i]) {
      assert.equal(importableHash(hash).ok, true, hash);
      assert.equal(verifyLegacyPassword(PASSWORD, hash), true, hash);
      assert.equal(verifyLegacyPassword(PASSWORD + 'x', hash), false, hash);
      assert.equal(await verifyPassword(PASSWORD, hash), true, hash); // through the worker thread
    }
    assert.equal(importableHash(DOVEADM.argon2id).scheme, 'ARGON2ID');
    assert.equal(isLegacyHash(DOVEADM.argon2id.slice('{ARGON2ID}'.length)), true);
    // A non-ASCII password (doveadm pw -s ARGON2ID -p 'ünïcode pässwörd').
    const unicode = '$argon2id$v=19$m=65536,t=3,p=1$Xbr3GX/bcO1XnbQSrs+fhg$sr6RwT+V1kiWHoXa5V0R4VGhvwq/7gFNtRofpNHvew0';
    assert.equal(verifyArgon2('ünïcode pässwörd', unicode), true);
  });

  test('Argon2: more lanes, a longer tag (H\' past 64 bytes), and parameters are bound into the tag', () => {
    const pw = Buffer.from(PASSWORD);
    const salt = Buffer.from('saltsaltsalt');
    const base = { type: 'argon2id' as const, m: 64, t: 2, p: 2, tagLength: 32 };
    const tag = argon2(pw, salt, base);
    const hash = `$argon2id$v=19$m=64,t=2,p=2$${salt.toString('base64').replace(/=+$/, '')}$${tag.toString('base64').replace(/=+$/, '')}`;
    assert.equal(verifyArgon2(PASSWORD, hash), true);
    assert.equal(verifyArgon2(PASSWORD, hash.replace('t=2', 't=3')), false);
    assert.equal(verifyArgon2(PASSWORD, hash.replace('p=2', 'p=1')), false);
    const long = argon2(pw, salt, { ...base, tagLength: 100 });
    assert.equal(long.length, 100);
    assert.notDeepEqual(long.subarray(0, 32), tag);
  });

  test('Argon2: malformed hashes are false; parameters above the limits are refused at once (import and login)', () => {
    const good = DOVEADM.argon2id;
    for (const h of [
      good.replace('v=19', 'v=16'),
      good.replace('$argon2id$', '$argon2d$'),
      good.replace('{ARGON2ID}$argon2id$', '{ARGON2ID}$argon2i$'),
      good.replace('t=3', 't=0'),
      good.slice(0, -40),
      good + '!',
      '{ARGON2ID}$argon2id$v=19$m=4,t=1,p=1$c2FsdHNhbHQ$' + 'A'.repeat(43), // m below 8p
    ]) {
      assert.equal(importableHash(h).ok, false, h);
      let ok: boolean;
      try {
        ok = verifyLegacyPassword(PASSWORD, h);
      } catch {
        ok = false;
      }
      assert.equal(ok, false, h);
    }
    const started = Date.now();
    for (const [change, message] of [
      ['m=4194304', /memory m=4194304 KiB is outside 8\.\.262144/],
      ['t=100', /passes t=100 is outside 1\.\.10/],
      ['p=255', /parallelism p=255 is outside 1\.\.16/],
      ['m=262144,t=4', /work m×t=1048576 is above the limit 786432/],
    ] as const) {
      const hostile = good.replace(change.startsWith('m=262144,') ? 'm=65536,t=3' : change.startsWith('m') ? 'm=65536' : change.startsWith('t') ? 't=3' : 'p=1', change);
      assert.equal(importableHash(hostile).ok, false, hostile);
      assert.match(importableHash(hostile).reason ?? '', message);
      assert.throws(() => verifyLegacyPassword(PASSWORD, hostile), message);
    }
    assert.ok(Date.now() - started < 5000); // refused before any memory is filled
  });

  test('malformed and hostile hashes are false, fast', () => {
    for (const h of ['{SHA512-CRYPT}$6$x', '{SHA512-CRYPT}$6$rounds=999999999$salt$' + 'a'.repeat(86), '{SSHA512}!!!', '{SSHA512}' + 'QQ=='.repeat(4), '{NOPE}x', '']) {
      assert.equal(verifyLegacyPassword(PASSWORD, h), false, h);
    }
  });

  for (const name of ['sha512Crypt', 'blfCrypt', 'cryptBlowfish', 'argon2id'] as const) test(`a login with a Dovecot ${name} hash succeeds and rehashes it to scrypt (with SCRAM credentials)`, async () => {
    const storage = openMemoryStorage();
    await storage.directory.addDomain('example.test');
    await storage.directory.addAccount({ address: 'ann@example.test', passwordHash: DOVEADM[name], scramSha256: null, quota: null });
    const auth = new Authenticator(storage.directory, { penalty: new AuthPenalty({ firstDelayMs: 0, maxDelayMs: 0 }) });
    await assert.rejects(auth.login('ann@example.test', 'wrong'));
    assert.equal((await storage.directory.getAccount('ann@example.test'))!.passwordHash, DOVEADM[name]);
    await auth.login('ann@example.test', PASSWORD);
    const after = (await storage.directory.getAccount('ann@example.test'))!;
    assert.match(after.passwordHash, /^\$scrypt\$/);
    assert.ok(after.scramSha256);
    await auth.login('ann@example.test', PASSWORD);
  });
});
