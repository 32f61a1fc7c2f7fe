// ManageSieve AUTHENTICATE against a real `postino serve`, with the shared
// SASL mechanisms and authenticator: SCRAM-SHA-256 (the server signature in
// OK (SASL ...)), LOGIN's two challenges, a disabled account refused, and
// failures logged (service "managesieve") and slowed down as IMAP's are,
// the third in a session ending it with BYE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { scratchDir } from '../support/tmp.js';
import { startServe } from '../support/serve.js';
import { postino } from '../support/cli.js';
import { cliPath } from '../support/paths.js';
import { SERVICES } from '../../src/config.js';
import { SieveClient, quoted } from '../support/managesieve-client.js';

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const PASSWORD = 'a long enough passphrase 77';
const USER = 'bob@example.test';
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s.replace(/^"|"$/g, ''), 'base64').toString();

/** SCRAM-SHA-256 (RFC 5802, RFC 7677) over AUTHENTICATE; returns the final response and whether the server signature was right. */
async function scram(c: SieveClient, user: string, password: string) {
  const cnonce = randomBytes(18).toString('base64');
  const clientFirstBare = `n=${user},r=${cnonce}`;
  c.send(`AUTHENTICATE "SCRAM-SHA-256" ${quoted(b64(`n,,${clientFirstBare}`))}\r\n`);
  const serverFirst = unb64((await c.readLine())!);
  const attrs = new Map(serverFirst.split(',').map((p) => [p[0]!, p.slice(2)]));
  const nonce = attrs.get('r')!;
  assert.ok(nonce.startsWith(cnonce));
  const salted = pbkdf2Sync(password, Buffer.from(attrs.get('s')!, 'base64'), Number(attrs.get('i')), 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const withoutProof = `c=${b64('n,,')},r=${nonce}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = createHmac('sha256', storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
  const final = await c.cmd(quoted(b64(`${withoutProof},p=${proof.toString('base64')}`)));
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  const expected = `v=${createHmac('sha256', serverKey).update(authMessage).digest('base64')}`;
  const m = /^SASL "(.*)"$/.exec(final.code ?? '');
  return { final, signatureOk: m !== null && unb64(m[1]!) === expected };
}

test('ManageSieve AUTHENTICATE: SCRAM-SHA-256, LOGIN, disabled accounts, failures logged and throttled', { timeout: 120_000 }, async (t) => {
  const s = scratchDir();
  try {
    assert.equal(postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', USER, '--password-stdin'], `${PASSWORD}\n`).code, 0);
    assert.equal(postino(s.dir, ['user', 'add', 'carol@example.test', '--password-stdin'], `${PASSWORD}\n`).code, 0);
    assert.equal(postino(s.dir, ['user', 'disable', 'carol@example.test']).code, 0);
    const served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], { ...freePorts, POSTINO_DEMO: '0' });
    try {
      const port = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'managesieve')).port);

      await t.test('SCRAM-SHA-256: the server proves it knows the password', async () => {
        const c = await SieveClient.connect(port);
        await c.startTls();
        const { final, signatureOk } = await scram(c, USER, PASSWORD);
        assert.equal(final.status, 'OK', final.raw);
        assert.ok(signatureOk, `server signature: ${final.raw}`);
        assert.equal((await c.cmd('LISTSCRIPTS')).status, 'OK');
        c.close();
      });

      await t.test('LOGIN: two challenges, answered with literals', async () => {
        const c = await SieveClient.connect(port);
        await c.startTls();
        c.send('AUTHENTICATE "LOGIN"\r\n');
        assert.equal(unb64((await c.readLine())!), 'Username:');
        c.send(`{${b64(USER).length}+}\r\n${b64(USER)}\r\n`);
        assert.equal(unb64((await c.readLine())!), 'Password:');
        const r = await c.cmd(quoted(b64(PASSWORD)));
        assert.equal(r.status, 'OK', r.raw);
        c.close();
      });

      await t.test('a disabled account cannot log in', async () => {
        const c = await SieveClient.connect(port);
        await c.startTls();
        assert.equal((await c.login('carol@example.test', PASSWORD)).status, 'NO');
        await served.waitFor((e) => e.event === 'auth-refused' && e.service === 'managesieve');
        c.close();
      });

      await t.test('failures: logged, slower each time, and the third ends the session', async () => {
        const c = await SieveClient.connect(port);
        await c.startTls();
        const times: number[] = [];
        const statuses: string[] = [];
        for (let i = 0; i < 3; i++) {
          const t0 = Date.now();
          statuses.push((await c.login(USER, `wrong password ${i}`)).status);
          times.push(Date.now() - t0);
        }
        assert.deepEqual(statuses, ['NO', 'NO', 'BYE']);
        await c.waitClosed();
        // The penalty grows (2 s, 4 s, 8 s); measured generously.
        assert.ok(times[0]! >= 1500 && times[1]! >= 3000 && times[2]! >= 6000, `delays ${times.join(', ')} ms`);
        const failed = served.events.filter((e) => e.event === 'auth-failed' && e.service === 'managesieve');
        assert.equal(failed.length, 3);
        assert.ok(failed.every((e) => e.ip === '127.0.0.1' && e.user === USER && e.mechanism === 'PLAIN'));
      });
    } finally {
      assert.equal(await served.stop(), 0);
    }
  } finally {
    s.cleanup();
  }
});
