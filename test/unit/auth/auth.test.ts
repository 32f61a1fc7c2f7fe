import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2Sync, createHmac, createHash, randomBytes } from 'node:crypto';
import { openStorage, type Storage } from '../../../storage/index.js';
import { Authenticator } from '../../../src/auth/authenticator.js';
import { AuthPenalty } from '../../../src/auth/penalty.js';
import { startSasl } from '../../../src/auth/sasl.js';
import { hashPassword, verifyPassword, passwordRecords } from '../../../src/auth/password.js';
import { passwordWeakness } from '../../../src/auth/password-policy.js';
import { scratchDir } from '../../support/tmp.js';

const PASSWORD = 'correct horse battery staple';

describe('password hashing and policy', () => {
  test('scrypt hashes verify and never hold the password', async () => {
    const h = await hashPassword(PASSWORD);
    assert.match(h, /^\$scrypt\$N=16384,r=8,p=1\$/);
    assert.ok(!h.includes(PASSWORD));
    assert.equal(await verifyPassword(PASSWORD, h), true);
    assert.equal(await verifyPassword(PASSWORD + 'x', h), false);
    assert.equal(await verifyPassword(PASSWORD, 'plain:' + PASSWORD), false);
    assert.notEqual(await hashPassword(PASSWORD), h, 'salted');
  });

  test('weak passwords are named', () => {
    assert.match(passwordWeakness('short')!, /shorter/);
    assert.match(passwordWeakness('password123')!, /common/);
    assert.match(passwordWeakness('Qwertyuiop!!')!, /common/);
    assert.match(passwordWeakness('aaaaaaaaaaaa')!, /different/);
    assert.match(passwordWeakness('alice-is-great-2026', 'alice@example.test')!, /account name/);
    assert.equal(passwordWeakness('tangerine-otter-42', 'bob@example.test'), undefined);
  });
});

function scramClient(user: string, password: string) {
  const cnonce = randomBytes(12).toString('base64');
  const first = `n,,n=${user},r=${cnonce}`;
  return {
    first: Buffer.from(first),
    final(serverFirst: string, tamper = false) {
      const attrs = new Map(serverFirst.split(',').map((p) => [p[0], p.slice(2)]));
      const salted = pbkdf2Sync(password, Buffer.from(attrs.get('s')!, 'base64'), Number(attrs.get('i')), 32, 'sha256');
      const clientKey = createHmac('sha256', salted).update('Client Key').digest();
      const storedKey = createHash('sha256').update(clientKey).digest();
      const withoutProof = `c=biws,r=${attrs.get('r')}`;
      const authMessage = `${first.slice(3)},${serverFirst},${withoutProof}`;
      const sig = createHmac('sha256', storedKey).update(authMessage).digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]!));
      if (tamper) proof[0]! ^= 1;
      const serverKey = createHmac('sha256', salted).update('Server Key').digest();
      return {
        message: Buffer.from(`${withoutProof},p=${proof.toString('base64')}`),
        expectedServer: `v=${createHmac('sha256', serverKey).update(authMessage).digest('base64')}`,
      };
    },
  };
}

describe('SASL and the authenticator', () => {
  const scratch = scratchDir();
  let storage: Storage;
  let auth: Authenticator;

  before(async () => {
    storage = openStorage(scratch.dir);
    await storage.directory.addDomain('example.test');
    await storage.directory.addAccount({ address: 'alice@example.test', ...(await passwordRecords(PASSWORD)), quota: null });
    await storage.directory.addAccount({ address: 'off@example.test', ...(await passwordRecords(PASSWORD)), quota: null });
    await storage.directory.setDisabled('off@example.test', true);
    // No delays here: penalty.test.ts covers them.
    auth = new Authenticator(storage.directory, { penalty: new AuthPenalty({ firstDelayMs: 0, maxDelayMs: 0 }) });
  });
  after(() => {
    storage.close();
    scratch.cleanup();
  });

  test('PLAIN with an initial response', async () => {
    const step = await startSasl('PLAIN', auth).step(Buffer.from(`\0alice@example.test\0${PASSWORD}`));
    assert.equal(step.kind, 'success');
    assert.equal(step.kind === 'success' && step.account.address, 'alice@example.test');
  });

  test('PLAIN without initial response asks with an empty challenge; wrong password fails', async () => {
    const ex = startSasl('plain', auth);
    assert.deepEqual(await ex.step(undefined), { kind: 'challenge', data: Buffer.alloc(0) });
    const step = await ex.step(Buffer.from(`\0alice@example.test\0wrong`));
    assert.equal(step.kind, 'failure');
    assert.equal(step.kind === 'failure' && step.error.code, 'AUTHFAILED');
  });

  test('PLAIN refuses a different authorization identity and malformed input', async () => {
    const s1 = await startSasl('PLAIN', auth).step(Buffer.from(`bob@example.test\0alice@example.test\0${PASSWORD}`));
    assert.equal(s1.kind === 'failure' && s1.error.code, 'AUTHFAILED');
    const s2 = await startSasl('PLAIN', auth).step(Buffer.from('garbage'));
    assert.equal(s2.kind === 'failure' && s2.error.code, 'BADINPUT');
  });

  test('LOGIN asks for user name then password', async () => {
    const ex = startSasl('LOGIN', auth);
    const c1 = await ex.step(undefined);
    assert.equal(c1.kind === 'challenge' && c1.data.toString(), 'Username:');
    const c2 = await ex.step(Buffer.from('ALICE@example.test'));
    assert.equal(c2.kind === 'challenge' && c2.data.toString(), 'Password:');
    const done = await ex.step(Buffer.from(PASSWORD));
    assert.equal(done.kind, 'success');
  });

  test('SCRAM-SHA-256 full exchange with server signature', async () => {
    const client = scramClient('alice@example.test', PASSWORD);
    const ex = startSasl('SCRAM-SHA-256', auth);
    const serverFirst = await ex.step(client.first);
    assert.equal(serverFirst.kind, 'challenge');
    const fin = client.final(serverFirst.kind === 'challenge' ? serverFirst.data.toString() : '');
    const done = await ex.step(fin.message);
    assert.equal(done.kind, 'success');
    assert.equal(done.kind === 'success' && done.data?.toString(), fin.expectedServer);
  });

  test('SCRAM-SHA-256 with a bad proof or an unknown user fails only at the end', async () => {
    for (const [user, tamper] of [['alice@example.test', true], ['nobody@example.test', false]] as const) {
      const client = scramClient(user, PASSWORD);
      const ex = startSasl('SCRAM-SHA-256', auth);
      const serverFirst = await ex.step(client.first);
      assert.equal(serverFirst.kind, 'challenge');
      const done = await ex.step(client.final(serverFirst.kind === 'challenge' ? serverFirst.data.toString() : '', tamper).message);
      assert.equal(done.kind === 'failure' && done.error.code, 'AUTHFAILED');
    }
  });

  test('a disabled account cannot log in, with any mechanism', async () => {
    await assert.rejects(auth.login('off@example.test', PASSWORD), { code: 'DISABLED' });
    const s = await startSasl('PLAIN', auth).step(Buffer.from(`\0off@example.test\0${PASSWORD}`));
    assert.equal(s.kind === 'failure' && s.error.code, 'DISABLED');
    const client = scramClient('off@example.test', PASSWORD);
    const ex = startSasl('SCRAM-SHA-256', auth);
    const first = await ex.step(client.first);
    const done = await ex.step(client.final(first.kind === 'challenge' ? first.data.toString() : '').message);
    assert.equal(done.kind === 'failure' && done.error.code, 'DISABLED');
  });
});
