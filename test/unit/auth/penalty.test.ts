// The auth penalty: growing delays per client address (IPv6 by /64), no
// lockout of accounts, bounded memory; and the Authenticator using it for
// every mechanism, logging each failure without the password.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openStorage, type Storage } from '../../../storage/index.js';
import { Authenticator } from '../../../src/auth/authenticator.js';
import { AuthPenalty, penaltySource, DEFAULT_PENALTY } from '../../../src/auth/penalty.js';
import { startSasl } from '../../../src/auth/sasl.js';
import { passwordRecords } from '../../../src/auth/password.js';
import { scratchDir } from '../../support/tmp.js';

const PASSWORD = 'correct horse battery staple';

describe('penalty arithmetic', () => {
  test('addresses are counted per IPv4 address, per IPv6 /64, IPv4-mapped as IPv4', () => {
    assert.equal(penaltySource('203.0.113.9'), '203.0.113.9');
    assert.equal(penaltySource('::ffff:203.0.113.9'), '203.0.113.9');
    assert.equal(penaltySource('2001:db8:1:2::1'), '2001:db8:1:2::/64');
    assert.equal(penaltySource('2001:0db8:0001:0002:ffff:eeee:dddd:cccc'), '2001:db8:1:2::/64');
    assert.equal(penaltySource('2001:db8:1:2:aaaa::1%eth0'), '2001:db8:1:2::/64');
    assert.notEqual(penaltySource('2001:db8:1:3::1'), penaltySource('2001:db8:1:2::1'));
    assert.equal(penaltySource('::1'), '0:0:0:0::/64');
    assert.equal(penaltySource('2001:db8::'), '2001:db8:0:0::/64');
    assert.equal(penaltySource('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64');
    assert.equal(penaltySource('1:2:3:4:5:6:192.0.2.1'), '1:2:3:4::/64');
    assert.equal(penaltySource(undefined), 'unknown');
  });

  test('delays start at 2 s, double per failure, stop at 15 s; other addresses wait for nothing', () => {
    let now = 1_000_000;
    const p = new AuthPenalty({}, () => now);
    assert.equal(p.waitBefore('192.0.2.1'), 0);
    const delays = [];
    for (let i = 0; i < 6; i++) {
      delays.push(p.recordFailure('192.0.2.1'));
      assert.equal(p.waitBefore('192.0.2.1'), delays[i], 'a new attempt waits as long as the failure reply');
      now += delays[i]!; // the next attempt comes when the reply has come
    }
    assert.deepEqual(delays, [2000, 4000, 8000, 15000, 15000, 15000]);
    assert.equal(p.waitBefore('192.0.2.2'), 0);
    assert.equal(p.waitBefore('192.0.2.1'), 0, 'once the delay is over, an attempt is checked at once');
  });

  test('parallel failures from one address do not shorten the wait', () => {
    let now = 0;
    const p = new AuthPenalty({}, () => now);
    p.recordFailure('192.0.2.1');
    p.recordFailure('192.0.2.1');
    p.recordFailure('192.0.2.1');
    assert.equal(p.waitBefore('192.0.2.1'), 8000);
    now += 1000;
    assert.equal(p.recordFailure('192.0.2.1'), 15000);
  });

  test('an address that stops failing is forgotten after an hour', () => {
    let now = 0;
    const p = new AuthPenalty({}, () => now);
    for (let i = 0; i < 5; i++) p.recordFailure('2001:db8::1');
    assert.equal(p.failures('2001:db8::2'), 5, 'same /64');
    now += DEFAULT_PENALTY.forgetAfterMs + 1;
    assert.equal(p.failures('2001:db8::1'), 0);
    assert.equal(p.recordFailure('2001:db8::1'), 2000);
  });

  test('memory is bounded: a spray of addresses keeps at most maxSources, the most recent', () => {
    const p = new AuthPenalty({ maxSources: 1000 }, () => 0);
    for (let i = 0; i < 20_000; i++) p.recordFailure(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    assert.equal(p.size, 1000);
    assert.equal(p.failures('10.0.78.31'), 1, 'the last one is kept');
    assert.equal(p.failures('10.0.0.1'), 0, 'the first ones are gone');
  });

  test('expired addresses are dropped as new ones come', () => {
    let now = 0;
    const p = new AuthPenalty({ forgetAfterMs: 1000 }, () => now);
    for (let i = 0; i < 100; i++) p.recordFailure(`10.0.0.${i}`);
    now += 2000;
    p.recordFailure('10.0.1.1');
    assert.equal(p.size, 1);
  });
});

describe('the authenticator under a penalty (short delays, real timers)', () => {
  const scratch = scratchDir();
  let storage: Storage;
  // The penalty's timers do not hold the process open (serve can exit); this does, for the tests.
  const keepAlive = setInterval(() => {}, 1000);
  const FIRST = 300;
  const MAX = 1200;
  const lines: Array<Record<string, unknown>> = [];
  const log = { warn: (e: Record<string, unknown>) => void lines.push(e) };

  before(async () => {
    storage = openStorage(scratch.dir);
    await storage.directory.addDomain('example.test');
    await storage.directory.addAccount({ address: 'alice@example.test', ...(await passwordRecords(PASSWORD)), quota: null });
    await storage.directory.addAccount({ address: 'off@example.test', ...(await passwordRecords(PASSWORD)), quota: null });
    await storage.directory.setDisabled('off@example.test', true);
  });
  after(() => {
    clearInterval(keepAlive);
    storage.close();
    scratch.cleanup();
  });

  const timed = async <T>(p: Promise<T>): Promise<[number, T | Error]> => {
    const t0 = Date.now();
    const r = await p.catch((e: Error) => e);
    return [Date.now() - t0, r];
  };

  test('failure replies grow; the right password from another address is never refused nor held', async () => {
    const auth = new Authenticator(storage.directory, { penalty: new AuthPenalty({ firstDelayMs: FIRST, maxDelayMs: MAX }), log });
    await auth.login('alice@example.test', PASSWORD, { ip: '192.0.2.50' }); // warm the login cache: no scrypt below
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [ms, r] = await timed(auth.login('alice@example.test', `guess ${i}`, { ip: '192.0.2.66', service: 'imap' }));
      assert.equal((r as { code?: string }).code, 'AUTHFAILED');
      times.push(ms);
    }
    // 300, 600, 1200, 1200 ms (generous: timers may fire late on a busy machine, never early).
    assert.ok(times[0]! >= FIRST - 20 && times[1]! >= 2 * FIRST - 20 && times[2]! >= MAX - 20 && times[3]! >= MAX - 20, `${times}`);
    assert.ok(times[1]! > times[0]! && times[2]! > times[1]!, `growing: ${times}`);

    // Many more failures for alice from the attacker; meanwhile the owner logs in from elsewhere.
    const attack = Promise.all(Array.from({ length: 20 }, (_, i) => auth.login('alice@example.test', `x${i}`, { ip: '192.0.2.66' }).catch(() => undefined)));
    const [ms, account] = await timed(auth.login('alice@example.test', PASSWORD, { ip: '198.51.100.1' }));
    assert.equal((account as { address: string }).address, 'alice@example.test');
    assert.ok(ms < 250, `the owner waited ${ms} ms`);
    await attack;
  });

  test('the right password from the failing address waits out the delay (no free "wrong" answers), then works at once', async () => {
    const auth = new Authenticator(storage.directory, { penalty: new AuthPenalty({ firstDelayMs: FIRST, maxDelayMs: MAX }), log });
    await auth.login('alice@example.test', PASSWORD, { ip: '192.0.2.50' });
    const failing = auth.login('alice@example.test', 'wrong', { ip: '192.0.2.77' }).catch((e: unknown) => e);
    // Once the failure is counted (after its password check), the address is held.
    while (auth.penalty.failures('192.0.2.77') === 0) await new Promise((r) => setTimeout(r, 5));
    const [held] = await timed(auth.login('alice@example.test', PASSWORD, { ip: '192.0.2.77' }));
    assert.ok(held >= FIRST - 60, `held ${held} ms`);
    await failing;
    const [quick] = await timed(auth.login('alice@example.test', PASSWORD, { ip: '192.0.2.77' }));
    assert.ok(quick < 250, `after the delay: ${quick} ms`);
  });

  test('every failure is logged with service, address, user and mechanism, never the password; SASL failures too', async () => {
    lines.length = 0;
    const auth = new Authenticator(storage.directory, { penalty: new AuthPenalty({ firstDelayMs: 0, maxDelayMs: 0 }), log });
    const ctx = { ip: '203.0.113.9', service: 'imap' };
    await assert.rejects(auth.login('alice@example.test', 'secret-guess-1', { ...ctx, mechanism: 'PLAIN' }));
    await assert.rejects(auth.login('nobody@example.test', 'secret-guess-2', ctx));
    const plain = await startSasl('PLAIN', auth, ctx).step(Buffer.from('\0alice@example.test\0secret-guess-3'));
    assert.equal(plain.kind, 'failure');
    const login = startSasl('LOGIN', auth, ctx);
    await login.step(undefined);
    await login.step(Buffer.from('alice@example.test'));
    assert.equal((await login.step(Buffer.from('secret-guess-4'))).kind, 'failure');
    const garbage = await startSasl('PLAIN', auth, ctx).step(Buffer.from('garbage'));
    assert.equal(garbage.kind === 'failure' && garbage.error.code, 'BADINPUT');
    const long = 'a'.repeat(1000);
    await assert.rejects(auth.login(long, 'secret-guess-5', ctx));

    assert.equal(lines.length, 6, JSON.stringify(lines));
    for (const l of lines) {
      assert.deepEqual(Object.keys(l), ['event', 'service', 'ip', 'user', 'mechanism', 'reason']);
      assert.equal(l.event, 'auth-failed');
      assert.equal(l.service, 'imap');
      assert.equal(l.ip, '203.0.113.9');
      assert.ok(!JSON.stringify(l).includes('secret-guess'), 'no password in the log');
    }
    assert.deepEqual(
      lines.map((l) => [l.user, l.mechanism, l.reason]),
      [
        ['alice@example.test', 'PLAIN', 'wrong password'],
        ['nobody@example.test', 'PLAIN', 'unknown user'],
        ['alice@example.test', 'PLAIN', 'wrong password'],
        ['alice@example.test', 'LOGIN', 'wrong password'],
        ['', 'PLAIN', 'malformed'],
        [`${'a'.repeat(256)}...`, 'PLAIN', 'unknown user'],
      ],
    );
  });

  test('the right password for a disabled account is logged apart (auth-refused) and not penalised', async () => {
    lines.length = 0;
    const auth = new Authenticator(storage.directory, { log });
    await assert.rejects(auth.login('off@example.test', PASSWORD, { ip: '203.0.113.10', service: 'imap' }), { code: 'DISABLED' });
    assert.deepEqual(lines, [{ event: 'auth-refused', service: 'imap', ip: '203.0.113.10', user: 'off@example.test', mechanism: 'PLAIN', reason: 'account disabled' }]);
    assert.equal(auth.penalty.failures('203.0.113.10'), 0);
  });
});
