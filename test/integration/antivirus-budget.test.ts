// A clamd that accepts and never answers (a stalled socket of the test's
// own), behind a real `postino serve` with a 4 s budget and one scanner slot:
// the message in the slot gets 451 4.7.1 within its budget; one that arrives
// while the slot is taken waits at most half the budget, then 451 (busy).
// Never a hung client, nothing stored.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startMx, sendTo, type ServedMx } from '../support/clamd.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';

const BUDGET_MS = 4_000;
/** Generous slack on a loaded 2-core machine: the bound checked is "answered, and not much later than the budget". */
const SLACK_MS = 4_000;
const message = (subject: string) => `From: <sender@remote.test>\r\nTo: <bob@example.test>\r\nSubject: ${subject}\r\n\r\nhello\r\n`;

describe('a clamd slower than the budget, and a full scanner pool', { timeout: 120_000 }, () => {
  let stalled: net.Server;
  const sockets = new Set<net.Socket>();
  /** Connections that sent zINSTREAM (VERSION connections are not counted). */
  let streams = 0;
  let dns: DnsFixture;
  let mx: ServedMx;

  before(async () => {
    stalled = net.createServer((s) => {
      sockets.add(s);
      s.once('data', (d: Buffer) => {
        if (d.toString('latin1').startsWith('zINSTREAM')) streams++;
      });
      s.on('data', () => {});
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', r));
    dns = await startDnsFixture({});
    const port = (stalled.address() as net.AddressInfo).port;
    mx = await startMx({ host: '127.0.0.1', port, timeoutMs: BUDGET_MS, maxConcurrent: 1, selfTestMinutes: 0 }, dns.servers);
  });

  after(async () => {
    await mx?.stop();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => stalled.close(() => r()));
    await dns?.close();
  });

  test('a stalled clamd: 451 4.7.1 within the budget, nothing stored', async () => {
    const r = await sendTo(mx.smtp, message('stalled'));
    assert.match(r.end[0]!, /^451 4\.7\.1 Virus scanner unavailable \(timeout\)/);
    assert.ok(r.ms >= BUDGET_MS - 100 && r.ms < BUDGET_MS + SLACK_MS, `answered after ${r.ms} ms`);
    assert.deepEqual(mx.stored(), []);
  });

  test('the pool full: the next message waits a bounded time, then 451 (busy); the first still gets its answer', async () => {
    const before = streams;
    const first = sendTo(mx.smtp, message('holds the slot'));
    // The first message is in clamd's hands once its stream connection is open.
    const deadline = Date.now() + 30_000;
    while (streams === before) {
      assert.ok(Date.now() < deadline, 'the first message never reached clamd');
      await new Promise((r) => setTimeout(r, 20));
    }
    const second = await sendTo(mx.smtp, message('finds the pool full'));
    assert.match(second.end[0]!, /^451 4\.7\.1 Virus scanner unavailable \(scanner busy\)/);
    assert.ok(second.ms < BUDGET_MS / 2 + SLACK_MS, `answered after ${second.ms} ms`);
    assert.equal(streams, before + 1, 'the waiting message never reached clamd');
    assert.match((await first).end[0]!, /^451 4\.7\.1 Virus scanner unavailable \(timeout\)/);
    assert.deepEqual(mx.stored(), []);
  });
});
