// Sieve's virustest (RFC 5235) reads the antivirus verdict, over real SMTP
// against a real clamd and a real `postino serve`: a clean message carries
// X-Virus-Score: 0 (virustest "1", tested and no virus) and a user script
// files it; a sender's own X-Virus-Score is replaced; with failOpen and clamd
// down the message is unscanned, carries no score (virustest "0") and stays in
// the INBOX.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startClamd, startMx, sendTo, type Clamd, type ServedMx } from '../support/clamd.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';
import { postino } from '../support/cli.js';

const SCRIPT = `require ["virustest","relational","comparator-i;ascii-numeric","fileinto","mailbox"];
if virustest :value "eq" :comparator "i;ascii-numeric" "1" { fileinto :create "Scanned"; }
`;
const message = (subject: string, extra = '') =>
  `From: <sender@remote.test>\r\nTo: <bob@example.test>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '-')}@remote.test>\r\nSubject: ${subject}\r\n${extra}\r\nNothing to see here.\r\n`;

describe('virustest reads the antivirus verdict', { timeout: 120_000 }, () => {
  let clamd: Clamd;
  let dns: DnsFixture;
  let mx: ServedMx;
  const folder = (name: string) => {
    const dir = path.join(mx.dir, 'mail', 'example.test', 'bob', name === 'INBOX' ? '' : `.${name}`);
    return ['new', 'cur'].flatMap((d) => (existsSync(path.join(dir, d)) ? readdirSync(path.join(dir, d)).map((f) => readFileSync(path.join(dir, d, f), 'latin1')) : []));
  };

  before(async () => {
    clamd = await startClamd({});
    dns = await startDnsFixture({});
    mx = await startMx({ host: '127.0.0.1', port: clamd.port, failOpen: true, timeoutMs: 10_000, selfTestMinutes: 0 }, dns.servers);
    const file = path.join(mx.dir, 'virus.sieve');
    writeFileSync(file, SCRIPT);
    const r = postino(mx.dir, ['sieve', 'put', 'bob@example.test', 'virus', file, '--activate']);
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    await mx?.stop();
    await clamd?.cleanup();
    await dns?.close();
  });

  test('clean: X-Virus-Score: 0, virustest "1", filed into Scanned; a sender\'s own score is replaced', async () => {
    assert.match((await sendTo(mx.smtp, message('clean one', 'X-Virus-Score: 5\r\n'))).end[0]!, /^250 /);
    const [stored] = folder('Scanned').filter((m) => m.includes('clean one'));
    assert.ok(stored, 'in Scanned');
    assert.match(stored, /^X-Virus-Scanned: clean \(ClamAV /m);
    assert.match(stored, /^X-Virus-Score: 0\r$/m);
    assert.equal(stored.match(/^X-Virus-Score:/gim)?.length, 1, 'only our score');
    assert.equal(folder('INBOX').filter((m) => m.includes('clean one')).length, 0);
  });

  test('failOpen with clamd down: unscanned, no score (virustest "0"), stays in the INBOX', async () => {
    await clamd.stop();
    assert.match((await sendTo(mx.smtp, message('unscanned one', 'X-Virus-Score: 0\r\n'))).end[0]!, /^250 /);
    const [stored] = folder('INBOX').filter((m) => m.includes('unscanned one'));
    assert.ok(stored, 'in the INBOX');
    assert.match(stored, /^X-Virus-Scanned: unscanned \(unreachable\)\r$/m);
    assert.doesNotMatch(stored, /^X-Virus-Score:/im, 'the sender\'s score is removed, none of ours');
    assert.equal(folder('Scanned').filter((m) => m.includes('unscanned one')).length, 0);
  });
});
