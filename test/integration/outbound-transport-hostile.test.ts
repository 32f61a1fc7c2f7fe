// Next hops that misbehave, over real TCP: a reply line that never ends, a
// connection dropped in the middle of DATA, a message over the server's SIZE.
// Each ends in a bounded time with the right outcome, and nothing is counted
// as sent that the server did not take.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createTransport } from '../../src/outbound/smtp-transport.js';
import { createDnsResolver } from '../../src/net/dns.js';
import { startDnsFixture } from '../support/dns-fixture.js';
import { startSink } from '../support/sink-smtp.js';
import { captureLog, message } from './outbound-transport-harness.js';

/** A raw TCP server on 127.0.0.1 whose behaviour per connection is the handler. */
async function rawServer(t: { after(fn: () => unknown): void }, handler: (socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    handler(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as net.AddressInfo).port;
}

/** A transport whose every MX is 127.0.0.1:port. */
async function transportTo(t: { after(fn: () => unknown): void }, port: number) {
  const dns = await startDnsFixture({ 'hostile.test': { A: ['127.0.0.1'] } });
  const transport = createTransport(
    { hostname: 'out.example.test', relay: { mxPort: port } },
    createDnsResolver(dns.servers, { timeoutMs: 1500 }),
    captureLog().log,
    { timeouts: { connectMs: 5000, greetingMs: 5000, idleSocketMs: 5000, operationMs: 10_000 } },
  );
  t.after(async () => {
    await transport.close();
    await dns.close();
  });
  return transport;
}

test('a greeting that never ends (megabytes of continuation lines) is cut off: deferred, memory bounded', async (t) => {
  let written = 0;
  const port = await rawServer(t, (socket) => {
    const line = Buffer.from(`220-${'x'.repeat(1000)}\r\n`);
    const pump = (): void => {
      while (!socket.destroyed && written < 64 * 1024 * 1024) {
        written += line.length;
        if (!socket.write(line)) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
  const transport = await transportTo(t, port);
  const outcomes = await transport.send(message('h1', ['a@hostile.test']));
  assert.equal(outcomes[0]?.status, 'deferred');
  assert.equal(outcomes[0]?.deferral, 'connection');
  assert.ok(written < 16 * 1024 * 1024, `the client stopped reading early (${written} bytes written)`);
});

test('a connection dropped during DATA: deferred (never counted as sent)', async (t) => {
  const port = await rawServer(t, (socket) => {
    socket.write('220 drop.test ESMTP\r\n');
    let inData = false;
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      if (inData) {
        socket.destroy(); // mid-message
        return;
      }
      buffered += chunk.toString('latin1');
      let nl: number;
      while ((nl = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, nl).toUpperCase();
        buffered = buffered.slice(nl + 2);
        if (line.startsWith('EHLO')) socket.write('250-drop.test\r\n250 8BITMIME\r\n');
        else if (line.startsWith('MAIL') || line.startsWith('RCPT') || line.startsWith('RSET')) socket.write('250 ok\r\n');
        else if (line.startsWith('DATA')) {
          socket.write('354 go on\r\n');
          inData = true;
          if (buffered.length > 0) socket.destroy();
          return;
        } else if (line.startsWith('QUIT')) socket.end('221 bye\r\n');
        else socket.write('502 no\r\n');
      }
    });
  });
  const transport = await transportTo(t, port);
  const outcomes = await transport.send(message('drop1', ['a@hostile.test', 'b@hostile.test']));
  assert.deepEqual(outcomes.map((o) => o.status), ['deferred', 'deferred']);
  assert.equal(outcomes[0]?.deferral, 'connection');
});

test('a message larger than the SIZE the server announces fails at once (552 5.3.4) and is not sent', async (t) => {
  const sink = await startSink({ size: 1000 });
  t.after(() => sink.stop());
  const transport = await transportTo(t, sink.port);
  const big = message('big1', ['a@hostile.test']);
  big.raw = Buffer.concat([big.raw, Buffer.alloc(5000, 'z')]);
  const outcomes = await transport.send(big);
  assert.equal(outcomes[0]?.status, 'failed');
  assert.match(outcomes[0]?.reply ?? '', /^552 5\.3\.4 /);
  assert.equal(sink.messages.length, 0);
  // The session is still good for a message that fits.
  const small = await transport.send(message('small1', ['a@hostile.test']));
  assert.equal(small[0]?.status, 'sent', small[0]?.reply);
});
