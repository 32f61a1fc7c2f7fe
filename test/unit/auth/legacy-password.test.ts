// Dovecot password hashes, made by the real `doveadm pw -s SCHEME -p 'S3cret pass'`
// (Dovecot 2.3, Debian), checked by src/auth/legacy-password.ts; and the
// rehash to scrypt at the next successful login.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { importableHash, sha512Crypt, verifyLegacyPassword } from '../../../src/auth/legacy-password.js';
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
  argon2id: '{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$19g5ebp5EVaYeJUlvGuLtA$jE2H/E+eN6JKLg6vIuxjZC1UTbkPUjgjtjIzBwjMOIg',
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

  test('bcrypt and Argon2id are not checked (node:crypto of Node 20 has neither): not importable, never verify', () => {
    for (const h of [DOVEADM.blfCrypt, DOVEADM.cryptBlowfish, DOVEADM.argon2id]) {
      assert.equal(importableHash(h).ok, false);
      assert.equal(verifyLegacyPassword(PASSWORD, h), false);
    }
    assert.equal(importableHash(DOVEADM.argon2id).scheme, 'ARGON2ID');
    assert.equal(importableHash(DOVEADM.blfCrypt).scheme, 'BLF-CRYPT');
  });

  test('malformed and hostile hashes are false, fast', () => {
    for (const h of ['{SHA512-CRYPT}$6$x', '{SHA512-CRYPT}$6$rounds=999999999$salt$' + 'a'.repeat(86), '{SSHA512}!!!', '{SSHA512}' + 'QQ=='.repeat(4), '{NOPE}x', '']) {
      assert.equal(verifyLegacyPassword(PASSWORD, h), false, h);
    }
  });

  test('a login with a Dovecot hash succeeds and rehashes it to scrypt (with SCRAM credentials)', async () => {
    const storage = openMemoryStorage();
    await storage.directory.addDomain('example.test');
    await storage.directory.addAccount({ address: 'ann@example.test', passwordHash: DOVEADM.sha512Crypt, scramSha256: null, quota: null });
    const auth = new Authenticator(storage.directory, { penalty: new AuthPenalty({ firstDelayMs: 0, maxDelayMs: 0 }) });
    await assert.rejects(auth.login('ann@example.test', 'wrong'));
    assert.equal((await storage.directory.getAccount('ann@example.test'))!.passwordHash, DOVEADM.sha512Crypt);
    await auth.login('ann@example.test', PASSWORD);
    const after = (await storage.directory.getAccount('ann@example.test'))!;
    assert.match(after.passwordHash, /^\$scrypt\$/);
    assert.ok(after.scramSha256);
    await auth.login('ann@example.test', PASSWORD);
  });
});
