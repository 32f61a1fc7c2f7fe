// The antivirus self-test against a real clamd: EICAR plain, zipped and
// nested pushed through the scanning stage every few hundred milliseconds.
// clamd restarted with a database that no longer knows EICAR: the self-test
// logs a clear error, and the MX (fail closed) answers 451 4.7.1 to new mail;
// once clamd detects EICAR again, mail flows again.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startClamd, startMx, sendTo, type Clamd, type ServedMx } from '../support/clamd.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';

const message = (subject: string) => `From: <sender@remote.test>\r\nTo: <bob@example.test>\r\nSubject: ${subject}\r\n\r\nhello\r\n`;
/** 0.005 minutes: every 300 ms. */
const SELF_TEST_MINUTES = 0.005;

describe('the antivirus self-test', { timeout: 180_000 }, () => {
  let clamd: Clamd;
  let dns: DnsFixture;
  let mx: ServedMx;

  before(async () => {
    clamd = await startClamd();
    dns = await startDnsFixture({});
    mx = await startMx({ host: '127.0.0.1', port: clamd.port, timeoutMs: 10_000, selfTestMinutes: SELF_TEST_MINUTES }, dns.servers);
  });

  after(async () => {
    await mx?.stop();
    await clamd?.cleanup();
    await dns?.close();
  });

  const selfTest = (state: string, after = 0) =>
    mx.served.waitFor((e) => e.event === 'antivirus-self-test' && e.state === state && mx.served.events.indexOf(e) >= after, 60_000);

  test('passes against a clamd that detects EICAR; mail flows', async () => {
    await selfTest('passed');
    assert.match((await sendTo(mx.smtp, message('before'))).end[0]!, /^250 /);
  });

  test('clamd that stops detecting EICAR: a clear error, and 451 4.7.1 for new mail until it detects again', async () => {
    await clamd.stop();
    await clamd.start('other');
    const from = mx.served.events.length;
    const failed = await selfTest('missed', from);
    assert.match(String(failed.msg), /no longer detects the EICAR test file/);
    assert.deepEqual(
      (failed.cases as Array<{ name: string; verdict: string }>).map((c) => [c.name, c.verdict]),
      [['plain', 'clean'], ['zipped', 'clean'], ['nested', 'clean']],
    );
    const stored = mx.stored().length;
    const r = await sendTo(mx.smtp, message('while the self-test fails'));
    assert.match(r.mail, /^451 4\.7\.1 Virus scanner unavailable \(self-test failing\)/);
    const lmtp = await sendTo(mx.lmtp, message('while the self-test fails'), true);
    assert.match(lmtp.mail, /^451 4\.7\.1 /);
    assert.equal(mx.stored().length, stored);

    await clamd.stop();
    await clamd.start('eicar');
    await selfTest('passed', mx.served.events.length);
    assert.match((await sendTo(mx.smtp, message('after'))).end[0]!, /^250 /);
  });
});
