// ClamAV in the SMTP dialogue, with a real clamd (a scratch database holding
// the EICAR test signature) and real `postino serve` children: infected mail
// refused 554 5.7.1 at the end of DATA and never stored, clean mail delivered
// with X-Virus-Scanned, a message over clamd's StreamMaxLength marked
// skipped-size, LMTP scanned too, a unix socket as well as TCP, and once clamd
// is stopped: 451 4.7.1 within 2 s (nothing stored), or with failOpen the
// message delivered marked unscanned. Also `postino scan` and `postino deliver`
// with antivirus.scanLocal.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startClamd, startMx, sendTo, type Clamd, type ServedMx } from '../support/clamd.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';
import { postino } from '../support/cli.js';
import { eicar, messageForwarding, messageWithAttachment } from '../../src/scan/eicar.js';

const HEAD = 'From: <sender@remote.test>\r\nTo: <bob@example.test>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0000\r\nMessage-ID: <av-test@remote.test>\r\n';
const clean = (subject: string) => `${HEAD}Subject: ${subject}\r\nX-Virus-Scanned: clean (forged by the sender)\r\n\r\nNothing to see here.\r\n`;
const eicarInBody = () => Buffer.concat([Buffer.from(`${HEAD}Subject: eicar in the body\r\n\r\n`), eicar(), Buffer.from('\r\n')]);
const eicarNested = () => messageForwarding('fwd: eicar', messageWithAttachment('inner', 'eicar.com', 'application/octet-stream', eicar()));
const SIGNATURE = 'Test.EICAR.UNOFFICIAL';

describe('antivirus with a real clamd', { timeout: 180_000 }, () => {
  let clamd: Clamd;
  let dns: DnsFixture;
  /** TCP to clamd, fail closed, scanLocal for `postino deliver`. */
  let mx: ServedMx;
  /** The unix socket, fail open. */
  let open: ServedMx;

  before(async () => {
    clamd = await startClamd({ streamMaxLength: '1M' });
    dns = await startDnsFixture({});
    mx = await startMx({ host: '127.0.0.1', port: clamd.port, timeoutMs: 10_000, selfTestMinutes: 0, scanLocal: true }, dns.servers);
    open = await startMx({ socket: clamd.socket, failOpen: true, timeoutMs: 10_000, selfTestMinutes: 0 }, dns.servers);
  });

  after(async () => {
    await mx?.stop();
    await open?.stop();
    await clamd?.cleanup();
    await dns?.close();
  });

  test('EICAR in the body: 554 5.7.1 naming the signature, nothing stored, one log line saying so', async () => {
    const r = await sendTo(mx.smtp, eicarInBody());
    assert.match(r.rcpt, /^250 /);
    assert.deepEqual(r.end, [`554 5.7.1 Message rejected: virus found: ${SIGNATURE}`]);
    assert.deepEqual(mx.stored(), []);
    // The log line may reach us just after the reply: wait for it, then count.
    await mx.served.waitFor((e) => e.event === 'message-refused', 10_000);
    const lines = mx.served.events.filter((e) => JSON.stringify(e).includes(SIGNATURE));
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0]!.event, 'message-refused');
  });

  test('EICAR base64 in an attachment of a nested message/rfc822: 554 5.7.1', async () => {
    const r = await sendTo(mx.smtp, eicarNested());
    assert.deepEqual(r.end, [`554 5.7.1 Message rejected: virus found: ${SIGNATURE}`]);
    assert.deepEqual(mx.stored(), []);
  });

  test('a clean message is delivered with X-Virus-Scanned naming ClamAV, the sender\'s own field removed', async () => {
    const r = await sendTo(mx.smtp, clean('clean over smtp'));
    assert.match(r.end[0]!, /^250 /);
    const [stored] = mx.inbox().filter((m) => m.includes('clean over smtp'));
    assert.ok(stored);
    assert.match(stored, /^X-Virus-Scanned: clean \(ClamAV [0-9][^)]*\)\r$/m);
    assert.doesNotMatch(stored, /forged by the sender/);
  });

  test('a message over clamd\'s StreamMaxLength is delivered marked skipped-size, never clean', async () => {
    const big = `${HEAD}Subject: big one\r\n\r\n${('x'.repeat(998) + '\r\n').repeat(1500)}`;
    const r = await sendTo(mx.smtp, big);
    assert.match(r.end[0]!, /^250 /);
    const [stored] = mx.inbox().filter((m) => m.includes('Subject: big one'));
    assert.ok(stored);
    assert.match(stored, /^X-Virus-Scanned: skipped-size \(ClamAV [^)]*\)\r$/m);
    assert.doesNotMatch(stored, /X-Virus-Scanned: clean/);
  });

  test('LMTP scans too: EICAR refused per recipient, clean mail delivered with the field', async () => {
    const bad = await sendTo(mx.lmtp, eicarNested(), true);
    assert.deepEqual(bad.end, [`554 5.7.1 Message rejected: virus found: ${SIGNATURE}`]);
    const good = await sendTo(mx.lmtp, clean('clean over lmtp'), true);
    assert.match(good.end[0]!, /^250 /);
    const [stored] = mx.inbox().filter((m) => m.includes('clean over lmtp'));
    assert.match(stored ?? '', /^X-Virus-Scanned: clean \(ClamAV/m);
  });

  test('clamd over its unix socket', async () => {
    const r = await sendTo(open.smtp, clean('clean over the unix socket'));
    assert.match(r.end[0]!, /^250 /);
    assert.match(open.inbox().find((m) => m.includes('unix socket')) ?? '', /^X-Virus-Scanned: clean \(ClamAV/m);
    assert.match((await sendTo(open.smtp, eicarInBody())).end[0]!, /^554 5\.7\.1 .*Test\.EICAR/);
  });

  test('postino scan FILE [--json] prints the verdict; postino deliver with scanLocal refuses EICAR and marks clean mail', () => {
    const file = path.join(mx.dir, 'eicar.eml');
    writeFileSync(file, eicarNested());
    const json = postino(mx.dir, ['scan', file, '--json']);
    assert.equal(json.code, 2, json.stderr);
    const { results } = JSON.parse(json.stdout) as { results: Array<{ scanner: string; verdict: { kind: string; signature?: string } }> };
    assert.deepEqual(results.map((r) => [r.scanner, r.verdict]), [['clamd', { kind: 'infected', signature: SIGNATURE }]]);
    const okFile = path.join(mx.dir, 'clean.eml');
    writeFileSync(okFile, clean('x'));
    const text = postino(mx.dir, ['scan', okFile]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^clamd: clean \[ClamAV [^\]]*\]/);

    const before = mx.stored().length;
    const refused = postino(mx.dir, ['deliver', '--from', 'sender@remote.test', '--to', 'bob@example.test'], eicarInBody().toString('latin1'));
    assert.equal(refused.code, 77, refused.stderr);
    assert.match(refused.stderr, /virus found: Test\.EICAR/);
    assert.equal(mx.stored().length, before);
    const delivered = postino(mx.dir, ['deliver', '--from', 'sender@remote.test', '--to', 'bob@example.test'], clean('delivered locally'));
    assert.equal(delivered.code, 0, delivered.stderr);
    assert.match(mx.inbox().find((m) => m.includes('delivered locally')) ?? '', /^X-Virus-Scanned: clean \(ClamAV/m);
  });

  test('clamd stopped: 451 4.7.1 within 2 s and nothing stored; with failOpen delivered marked unscanned', async () => {
    await clamd.stop();
    const before = mx.stored().length;
    const r = await sendTo(mx.smtp, clean('while clamd is down'));
    assert.match(r.end[0]!, /^451 4\.7\.1 Virus scanner unavailable \(unreachable\)/);
    assert.ok(r.ms < 2_000, `answered after ${r.ms} ms`);
    assert.equal(mx.stored().length, before);
    const lmtp = await sendTo(mx.lmtp, clean('while clamd is down'), true);
    assert.match(lmtp.end[0]!, /^451 4\.7\.1 /);

    const o = await sendTo(open.smtp, clean('fail open'));
    assert.match(o.end[0]!, /^250 /);
    assert.match(open.inbox().find((m) => m.includes('fail open')) ?? '', /^X-Virus-Scanned: unscanned \(unreachable\)\r$/m);

    const deliver = postino(mx.dir, ['deliver', '--from', 'sender@remote.test', '--to', 'bob@example.test'], clean('deliver while down'));
    assert.equal(deliver.code, 75, deliver.stderr);
  });
});
