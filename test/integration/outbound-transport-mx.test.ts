// Direct MX delivery, over real TCP: the DNS fixture names MX hosts at
// 127.0.0.x and the transport's MX port is a sink's port. Shows: preference
// order, the next host after a refused connection or a 421 greeting, the
// implicit MX (A record, no MX), null MX failing at once (556 5.1.10),
// NXDOMAIN failing and SERVFAIL deferring, per-recipient RCPT replies in one
// transaction (4xx defers only that one, 5xx fails only that one), the
// end-of-data reply for the accepted ones, "451 then 250" on the next try,
// STARTTLS taken when offered, connection reuse and the per-destination
// connection limit, and a silent server timing out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createTransport, type TransportOptions } from '../../src/outbound/smtp-transport.js';
import type { OutboundTransport } from '../../src/outbound/transport.js';
import { createDnsResolver } from '../../src/net/dns.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';
import { startSink, type Sink, type SinkOptions } from '../support/sink-smtp.js';
import { captureLog, message } from './outbound-transport-harness.js';

interface World {
  dns: DnsFixture;
  sink: Sink;
  transport: OutboundTransport;
  lines: Array<Record<string, unknown>>;
}

/** A DNS fixture, a sink on 127.0.0.1 and an MX transport aimed at the sink's port. */
async function world(
  t: { after(fn: () => unknown): void },
  sinkOptions: SinkOptions = {},
  maxConnectionsPerDestination?: number,
  options: TransportOptions = {},
): Promise<World> {
  const dns = await startDnsFixture({});
  const sink = await startSink(sinkOptions);
  const { log, lines } = captureLog();
  const transport = createTransport(
    {
      hostname: 'out.example.test',
      relay: { mxPort: sink.port, ...(maxConnectionsPerDestination ? { maxConnectionsPerDestination } : {}) },
    },
    createDnsResolver(dns.servers, { timeoutMs: 1500, cacheTtlMs: 0 }),
    log,
    options,
  );
  t.after(async () => {
    await transport.close();
    await sink.stop();
    await dns.close();
  });
  return { dns, sink, transport, lines };
}

test('MX hosts in preference order; the next host when one refuses the connection or greets with 421', async (t) => {
  const w = await world(t);
  // A second sink on 127.0.0.2, same port: a second MX host.
  const second = await startSink({ listenHost: '127.0.0.2', port: w.sink.port });
  t.after(() => second.stop());
  w.dns.load({
    'order.test': { MX: [{ exchange: 'mx-b.order.test', priority: 20 }, { exchange: 'mx-a.order.test', priority: 10 }] },
    'mx-a.order.test': { A: ['127.0.0.2'] },
    'mx-b.order.test': { A: ['127.0.0.1'] },
    // The preferred host has nothing listening (127.0.0.3): the backup takes it.
    'fallback.test': { MX: [{ exchange: 'dead.fallback.test', priority: 5 }, { exchange: 'live.fallback.test', priority: 50 }] },
    'dead.fallback.test': { A: ['127.0.0.3'] },
    'live.fallback.test': { A: ['127.0.0.1'] },
  });

  const first = await w.transport.send(message('pref1', ['bob@order.test']));
  assert.equal(first[0]?.status, 'sent', first[0]?.reply);
  assert.equal(first[0]?.destination, `mx-a.order.test[127.0.0.2]:${w.sink.port}`);
  assert.equal(second.messages.length, 1, 'the lower preference value is tried first');
  assert.equal(w.sink.messages.length, 0);

  const fallback = await w.transport.send(message('fb1', ['carol@fallback.test']));
  assert.equal(fallback[0]?.status, 'sent', fallback[0]?.reply);
  assert.equal(fallback[0]?.destination, `live.fallback.test[127.0.0.1]:${w.sink.port}`);
  assert.equal(w.sink.messages.length, 1);
  assert.ok(w.lines.some((l) => l.event === 'relay-connect-failed' && String(l.destination).includes('127.0.0.3')));
});

test('a 421 greeting from the preferred MX: the next one takes the message', async (t) => {
  const w = await world(t);
  const busy = await startSink({ listenHost: '127.0.0.2', port: w.sink.port, connectReplies: ['421 4.3.2 too busy, try later'] });
  t.after(() => busy.stop());
  w.dns.load({
    'busy.test': { MX: [{ exchange: 'mx1.busy.test', priority: 10 }, { exchange: 'mx2.busy.test', priority: 20 }] },
    'mx1.busy.test': { A: ['127.0.0.2'] },
    'mx2.busy.test': { A: ['127.0.0.1'] },
  });
  const outcomes = await w.transport.send(message('busy1', ['dan@busy.test']));
  assert.equal(outcomes[0]?.status, 'sent', outcomes[0]?.reply);
  assert.equal(busy.connections, 1);
  assert.equal(busy.messages.length, 0);
  assert.equal(w.sink.messages.length, 1);
});

test('no MX: the domain itself (A record) is the host; null MX fails at once; NXDOMAIN fails; SERVFAIL defers', async (t) => {
  const w = await world(t);
  w.dns.load({
    'implicit.test': { A: ['127.0.0.1'] },
    'null.test': { MX: [{ exchange: '.', priority: 0 }], A: ['127.0.0.1'] },
    'broken.test': { SERVFAIL: true },
    'nomail.test': { TXT: ['v=spf1 -all'] },
  });
  const outcomes = await w.transport.send(
    message('dns1', ['a@implicit.test', 'b@null.test', 'c@nonexistent.test', 'd@broken.test', 'e@nomail.test']),
  );
  const byAddress = new Map(outcomes.map((o) => [o.address, o]));
  assert.equal(byAddress.get('a@implicit.test')?.status, 'sent');
  assert.equal(byAddress.get('a@implicit.test')?.destination, `implicit.test[127.0.0.1]:${w.sink.port}`);
  assert.equal(byAddress.get('b@null.test')?.status, 'failed');
  assert.match(byAddress.get('b@null.test')?.reply ?? '', /^556 5\.1\.10 /);
  assert.equal(byAddress.get('c@nonexistent.test')?.status, 'failed');
  assert.match(byAddress.get('c@nonexistent.test')?.reply ?? '', /^550 5\.1\.2 /);
  assert.equal(byAddress.get('d@broken.test')?.status, 'deferred');
  assert.equal(byAddress.get('d@broken.test')?.deferral, 'dns');
  assert.equal(byAddress.get('e@nomail.test')?.status, 'failed', 'no MX and no address');
  assert.deepEqual(outcomes.map((o) => o.address), ['a@implicit.test', 'b@null.test', 'c@nonexistent.test', 'd@broken.test', 'e@nomail.test']);
  assert.equal(w.sink.messages.length, 1);
  assert.deepEqual(w.sink.messages[0]?.to, ['a@implicit.test'], 'only the deliverable recipient reached the sink');
});

test('per-recipient replies in one transaction; the end-of-data reply applies to the accepted ones; 451 then 250 on retry', async (t) => {
  const w = await world(t, {
    rcptReplies: {
      'grey@mixed.test': ['451 4.7.1 Greylisted, please try again later', '250'],
      'full@mixed.test': ['452 4.2.2 mailbox full'],
      'gone@mixed.test': ['550 5.1.1 no such user'],
      'busy@other-mixed.test': ['450 4.3.2 try again'],
    },
    dataReplies: ['250 2.0.0 queued as A1', '554 5.7.1 message refused as spam', '250 2.0.0 queued as A3'],
  });
  // Two domains with the same MX host: one destination, one transaction.
  w.dns.load({
    'mixed.test': { MX: [{ exchange: 'mx.shared.test', priority: 10 }] },
    'other-mixed.test': { MX: [{ exchange: 'mx.shared.test', priority: 10 }] },
    'mx.shared.test': { A: ['127.0.0.1'] },
  });
  const recipients = ['ok@mixed.test', 'grey@mixed.test', 'full@mixed.test', 'gone@mixed.test', 'ok2@other-mixed.test', 'busy@other-mixed.test'];
  const outcomes = await w.transport.send(message('rcpt1', recipients));
  assert.deepEqual(
    outcomes.map((o) => [o.address, o.status, o.deferral ?? null]),
    [
      ['ok@mixed.test', 'sent', null],
      ['grey@mixed.test', 'deferred', 'greylist'],
      ['full@mixed.test', 'deferred', 'mailbox-full'],
      ['gone@mixed.test', 'failed', null],
      ['ok2@other-mixed.test', 'sent', null],
      ['busy@other-mixed.test', 'deferred', 'remote-4xx'],
    ],
  );
  assert.match(outcomes[0]?.reply ?? '', /^250 2\.0\.0 queued as A1/);
  assert.equal(outcomes[3]?.reply, '550 5.1.1 no such user');
  assert.equal(w.sink.messages.length, 1);
  assert.deepEqual(w.sink.messages[0]?.to, ['ok@mixed.test', 'ok2@other-mixed.test']);

  // The second transaction: RCPT accepts both, the end of DATA refuses: both fail with that reply.
  const refused = await w.transport.send(message('rcpt2', ['ok@mixed.test', 'gone@mixed.test']));
  assert.deepEqual(refused.map((o) => [o.status, o.reply]), [
    ['failed', '554 5.7.1 message refused as spam'],
    ['failed', '550 5.1.1 no such user'],
  ]);

  // The greylisted recipient, tried again: 250.
  const retry = await w.transport.send(message('rcpt1', ['grey@mixed.test']));
  assert.equal(retry[0]?.status, 'sent', retry[0]?.reply);
  assert.equal(w.sink.messages.length, 2);
  assert.deepEqual(w.sink.messages[1]?.to, ['grey@mixed.test']);
  assert.equal(w.sink.connections, 1, 'all three transactions went over one connection');
});

test('a refused sender (MAIL FROM 5xx) fails every recipient; a 4xx defers them; the null sender is sent as <>', async (t) => {
  const w = await world(t, { mailReplies: ['553 5.7.1 sender refused', '421 4.3.2 shutting down', '250'] });
  w.dns.load({ 'mail.test': { MX: [{ exchange: 'mx.mail.test', priority: 1 }] }, 'mx.mail.test': { A: ['127.0.0.1'] } });
  const refused = await w.transport.send(message('m1', ['a@mail.test', 'b@mail.test']));
  assert.deepEqual(refused.map((o) => o.status), ['failed', 'failed']);
  assert.equal(refused[0]?.reply, '553 5.7.1 sender refused');
  const later = await w.transport.send(message('m2', ['a@mail.test']));
  assert.equal(later[0]?.status, 'deferred');
  assert.match(later[0]?.reply ?? '', /421/);
  const bounce = await w.transport.send(message('m3', ['a@mail.test'], ''));
  assert.equal(bounce[0]?.status, 'sent', bounce[0]?.reply);
  assert.equal(w.sink.messages[0]?.from, '');
});

test('STARTTLS whenever offered (certificate not checked); plain when the MX offers none', async (t) => {
  const w = await world(t, { tls: 'starttls' });
  const plain = await startSink({ tls: 'none', listenHost: '127.0.0.2', port: w.sink.port });
  t.after(() => plain.stop());
  w.dns.load({
    'tls.test': { MX: [{ exchange: 'mx.tls.test', priority: 10 }] },
    'mx.tls.test': { A: ['127.0.0.1'] },
    'plain.test': { MX: [{ exchange: 'mx.plain.test', priority: 10 }] },
    'mx.plain.test': { A: ['127.0.0.2'] },
  });
  const secure = await w.transport.send(message('tls1', ['a@tls.test']));
  assert.equal(secure[0]?.status, 'sent', secure[0]?.reply);
  assert.match(secure[0]?.tls ?? '', /^TLSv1\.[23]$/);
  assert.equal(w.sink.messages[0]?.secure, true);
  assert.ok(w.lines.some((l) => l.event === 'relay-attempt' && /^TLSv1/.test(String(l.tls))), 'the TLS version is logged');
  const clear = await w.transport.send(message('plain1', ['a@plain.test']));
  assert.equal(clear[0]?.status, 'sent', clear[0]?.reply);
  assert.equal(clear[0]?.tls, undefined);
  assert.equal(plain.messages[0]?.secure, false);
});

test('an MX whose TLS handshake fails: delivered in the clear on a second connection (Postfix "may")', async (t) => {
  const w = await world(t, { tls: 'starttls', tlsMaxVersion: 'TLSv1.1' });
  w.dns.load({ 'oldtls.test': { MX: [{ exchange: 'mx.oldtls.test', priority: 10 }] }, 'mx.oldtls.test': { A: ['127.0.0.1'] } });
  const outcomes = await w.transport.send(message('old1', ['a@oldtls.test']));
  assert.equal(outcomes[0]?.status, 'sent', outcomes[0]?.reply);
  assert.equal(outcomes[0]?.tls, undefined);
  assert.equal(w.sink.connections, 2, 'one failed handshake, one plain session');
  assert.equal(w.sink.messages[0]?.secure, false);
  assert.ok(w.lines.some((l) => l.event === 'relay-connect-failed' && l.deferral === 'tls'));
});

test('one connection carries several messages; at most maxConnectionsPerDestination at once', async (t) => {
  const w = await world(t, {}, 2);
  w.dns.load({ 'reuse.test': { MX: [{ exchange: 'mx.reuse.test', priority: 10 }] }, 'mx.reuse.test': { A: ['127.0.0.1'] } });
  for (let i = 0; i < 5; i++) {
    const o = await w.transport.send(message(`seq${i}`, [`u${i}@reuse.test`]));
    assert.equal(o[0]?.status, 'sent', o[0]?.reply);
  }
  assert.equal(w.sink.connections, 1, 'five messages in a row over one connection');
  assert.deepEqual(new Set(w.sink.messages.map((m) => m.connection)), new Set([1]));

  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => w.transport.send(message(`par${i}`, [`p${i}@reuse.test`]))));
  assert.ok(many.every((o) => o[0]?.status === 'sent'));
  assert.equal(w.sink.messages.length, 25);
  assert.ok(w.sink.maxConcurrent <= 2, `at most 2 connections at once (saw ${w.sink.maxConcurrent})`);
  assert.ok(w.sink.connections <= 2, `connections reused (opened ${w.sink.connections})`);
});

test('a server that accepts the connection and never greets: deferred with class timeout', async (t) => {
  const silent = net.createServer(() => {
    /* holds the socket, says nothing */
  });
  const sockets = new Set<net.Socket>();
  silent.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });
  const dns = await startDnsFixture({ 'silent.test': { A: ['127.0.0.1'] } });
  t.after(() => dns.close());
  const transport = createTransport(
    { hostname: 'out.example.test', relay: { mxPort: (silent.address() as net.AddressInfo).port } },
    createDnsResolver(dns.servers, { timeoutMs: 1500 }),
    captureLog().log,
    { timeouts: { connectMs: 800, greetingMs: 800 } },
  );
  t.after(() => transport.close());
  const outcomes = await transport.send(message('silent1', ['a@silent.test']));
  assert.equal(outcomes[0]?.status, 'deferred');
  assert.equal(outcomes[0]?.deferral, 'timeout');
});

test('addresses that cannot go on the wire fail at once; a domain literal goes to that address', async (t) => {
  const w = await world(t);
  const outcomes = await w.transport.send(message('bad1', ['no-at-sign', 'a b@x.test', 'lit@[127.0.0.1]']));
  assert.deepEqual(outcomes.map((o) => o.status), ['failed', 'failed', 'sent']);
  assert.match(outcomes[0]?.reply ?? '', /^553 5\.1\.3/);
  const badSender = await w.transport.send(message('bad2', ['lit@[127.0.0.1]'], 'x\r\nRCPT TO:<evil@x>'));
  assert.equal(badSender[0]?.status, 'failed');
  assert.equal(w.sink.messages.length, 1);
});

test('a message to twenty domains with twenty MX hosts: every recipient answered, in order', async (t) => {
  const w = await world(t);
  const zone: Record<string, { MX?: Array<{ exchange: string; priority: number }>; A?: string[] }> = {};
  const recipients: string[] = [];
  for (let i = 0; i < 20; i++) {
    zone[`d${i}.test`] = { MX: [{ exchange: `mx.d${i}.test`, priority: 10 }] };
    zone[`mx.d${i}.test`] = { A: ['127.0.0.1'] };
    recipients.push(`user${i}@d${i}.test`);
  }
  w.dns.load(zone);
  const outcomes = await w.transport.send(message('wide1', recipients));
  assert.deepEqual(outcomes.map((o) => o.address), recipients);
  assert.ok(outcomes.every((o) => o.status === 'sent'), JSON.stringify(outcomes.filter((o) => o.status !== 'sent')));
  assert.equal(w.sink.messages.length, 20, 'one transaction per MX host');
});

test('a message to two destinations: the recipients one takes are told (onSent) while the other is still under way; a lone destination is not told apart', async (t) => {
  const w = await world(t);
  // d2's MX greets slowly, and with a 421: its recipient is deferred, long after d1's was taken.
  const slow = net.createServer((socket) => {
    socket.on('error', () => {});
    setTimeout(() => socket.end('421 4.3.2 busy\r\n'), 600);
  });
  await new Promise<void>((resolve) => slow.listen(w.sink.port, '127.0.0.2', resolve));
  t.after(() => new Promise<void>((resolve) => slow.close(() => resolve())));
  w.dns.load({
    'd1.test': { MX: [{ exchange: 'mx.d1.test', priority: 10 }] },
    'mx.d1.test': { A: ['127.0.0.1'] },
    'd2.test': { MX: [{ exchange: 'mx.d2.test', priority: 10 }] },
    'mx.d2.test': { A: ['127.0.0.2'] },
  });
  const told: Array<{ addresses: string[]; pending: boolean }> = [];
  let done = false;
  const outcomes = await w.transport.send({ ...message('early1', ['a@d1.test', 'b@d2.test']), onSent: (addresses) => told.push({ addresses, pending: !done }) });
  done = true;
  assert.deepEqual(outcomes.map((o) => o.status), ['sent', 'deferred']);
  assert.deepEqual(told, [{ addresses: ['a@d1.test'], pending: true }], 'told of a@d1.test before the send was over, and of nothing else');
  const alone: string[][] = [];
  const one = await w.transport.send({ ...message('early2', ['c@d1.test']), onSent: (a) => alone.push(a) });
  assert.deepEqual(one.map((o) => o.status), ['sent']);
  assert.deepEqual(alone, [], 'the last destination is recorded with the whole outcome');
});
