// The outbound transport through a smarthost: the tests' sink SMTP server
// stands in for the provider's relay (STARTTLS or implicit TLS, AUTH
// required), over real TCP on 127.0.0.1. Shows: the message arrives over TLS
// with AUTH, the certificate checked against the configured CA; wrong
// credentials, a relay without STARTTLS and an unverifiable certificate are
// each a deferral of the right class (nothing sent); a password file others
// can read is refused at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTransport, type TransportConfig } from '../../src/outbound/smtp-transport.js';
import { createDnsResolver } from '../../src/net/dns.js';
import { isMailError } from '../../storage/errors.js';
import { startSink } from '../support/sink-smtp.js';
import { startDnsFixture } from '../support/dns-fixture.js';
import { scratchDir } from '../support/tmp.js';
import { captureLog, message } from './outbound-transport-harness.js';

const USER = 'relay-user@provider.test';
const PASSWORD = 'relay-secret-1';

// The system resolver is never asked: the smarthost is an IP address.
const resolver = createDnsResolver(['127.0.0.1:1'], { timeoutMs: 500 });

test('smarthost with STARTTLS and AUTH: one transaction for all recipients, certificate checked against the CA file', async (t) => {
  const sink = await startSink({ tls: 'starttls', requireTls: true, auth: { username: USER, password: PASSWORD } });
  const scratch = scratchDir();
  t.after(async () => {
    await sink.stop();
    scratch.cleanup();
  });
  const caFile = path.join(scratch.dir, 'ca.pem');
  writeFileSync(caFile, sink.cert);
  const passwordFile = path.join(scratch.dir, 'relay-password');
  writeFileSync(passwordFile, `${PASSWORD}\nignored second line\n`, { mode: 0o600 });
  chmodSync(passwordFile, 0o600);

  const config: TransportConfig = {
    hostname: 'out.example.test',
    relay: { smarthost: { host: '127.0.0.1', port: sink.port, tls: 'starttls', username: USER, passwordFile, ca: caFile } },
  };
  const { log, lines } = captureLog();
  const transport = createTransport(config, resolver, log);
  t.after(() => transport.close());

  const outcomes = await transport.send(message('q1', ['bob@remote.test', 'carol@elsewhere.test']));
  assert.deepEqual(outcomes.map((o) => [o.address, o.status]), [
    ['bob@remote.test', 'sent'],
    ['carol@elsewhere.test', 'sent'],
  ]);
  for (const o of outcomes) {
    assert.match(o.reply, /^250/);
    assert.equal(o.destination, `127.0.0.1:${sink.port}`);
    assert.match(o.tls ?? '', /^TLSv1\.[23]$/);
  }
  assert.equal(sink.messages.length, 1, 'one transaction carries both recipients');
  const got = sink.messages[0]!;
  assert.deepEqual(got.to, ['bob@remote.test', 'carol@elsewhere.test']);
  assert.equal(got.from, 'alice@example.test');
  assert.equal(got.user, USER);
  assert.equal(got.secure, true);
  assert.match(got.raw.toString(), /Message-ID: <q1@example\.test>/);
  const attempt = lines.find((l) => l.event === 'relay-attempt');
  assert.ok(attempt, 'one log line per attempt');
  assert.equal(attempt.queueId, 'q1');
  assert.match(String(attempt.tls), /^TLSv1/);
  assert.ok(!JSON.stringify(lines).includes(PASSWORD), 'the password never reaches the log');

  // The null sender goes out as MAIL FROM:<>, over the same (reused) connection.
  const bounce = await transport.send(message('q2', ['bob@remote.test'], ''));
  assert.equal(bounce[0]?.status, 'sent');
  assert.equal(sink.messages[1]?.from, '');
  assert.equal(sink.connections, 1, 'the second message reuses the connection');
});

test('smarthost with implicit TLS (port 465 style) and AUTH', async (t) => {
  const sink = await startSink({ tls: 'implicit', auth: { username: USER, password: PASSWORD } });
  const scratch = scratchDir();
  t.after(async () => {
    await sink.stop();
    scratch.cleanup();
  });
  const caFile = path.join(scratch.dir, 'ca.pem');
  writeFileSync(caFile, sink.cert);
  const transport = createTransport(
    {
      hostname: 'out.example.test',
      relay: { smarthost: { host: '127.0.0.1', port: sink.port, tls: 'implicit', username: USER, password: PASSWORD, ca: caFile } },
    },
    resolver,
    captureLog().log,
  );
  t.after(() => transport.close());
  const outcomes = await transport.send(message('imp1', ['dave@remote.test']));
  assert.equal(outcomes[0]?.status, 'sent', outcomes[0]?.reply);
  assert.equal(sink.messages[0]?.user, USER);
  assert.equal(sink.messages[0]?.secure, true);
});

test('smarthost refusing the credentials: every recipient deferred with class auth, nothing sent', async (t) => {
  const sink = await startSink({ tls: 'starttls', auth: { username: USER, password: PASSWORD } });
  const scratch = scratchDir();
  t.after(async () => {
    await sink.stop();
    scratch.cleanup();
  });
  const caFile = path.join(scratch.dir, 'ca.pem');
  writeFileSync(caFile, sink.cert);
  const transport = createTransport(
    {
      hostname: 'out.example.test',
      relay: { smarthost: { host: '127.0.0.1', port: sink.port, tls: 'starttls', username: USER, password: 'wrong-password', ca: caFile } },
    },
    resolver,
    captureLog().log,
  );
  t.after(() => transport.close());
  const outcomes = await transport.send(message('bad1', ['x@remote.test', 'y@remote.test']));
  for (const o of outcomes) {
    assert.equal(o.status, 'deferred');
    assert.equal(o.deferral, 'auth');
    assert.match(o.reply, /535/, 'the smarthost reply is kept');
  }
  assert.equal(sink.authFailures, 1);
  assert.equal(sink.messages.length, 0);
});

test('smarthost without STARTTLS when tls is starttls: deferred with class tls, credentials never sent', async (t) => {
  const sink = await startSink({ tls: 'none', auth: { username: USER, password: PASSWORD } });
  t.after(() => sink.stop());
  const transport = createTransport(
    { hostname: 'out.example.test', relay: { smarthost: { host: '127.0.0.1', port: sink.port, tls: 'starttls', username: USER, password: PASSWORD } } },
    resolver,
    captureLog().log,
  );
  t.after(() => transport.close());
  const outcomes = await transport.send(message('notls1', ['x@remote.test']));
  assert.equal(outcomes[0]?.status, 'deferred');
  assert.equal(outcomes[0]?.deferral, 'tls');
  assert.equal(sink.authFailures, 0);
  assert.equal(sink.messages.length, 0);

  // Opportunistic TLS to the same relay: it goes on in the clear, but still
  // never sends the password over a plain connection.
  const opportunistic = createTransport(
    { hostname: 'out.example.test', relay: { smarthost: { host: '127.0.0.1', port: sink.port, tls: 'opportunistic', username: USER, password: PASSWORD } } },
    resolver,
    captureLog().log,
  );
  t.after(() => opportunistic.close());
  const again = await opportunistic.send(message('notls2', ['x@remote.test']));
  assert.equal(again[0]?.status, 'deferred');
  assert.equal(again[0]?.deferral, 'tls');
  assert.equal(sink.messages.length, 0);
});

test('smarthost whose certificate does not verify (no CA given for a self-signed one): deferred with class tls', async (t) => {
  const sink = await startSink({ tls: 'starttls', auth: { username: USER, password: PASSWORD } });
  t.after(() => sink.stop());
  const transport = createTransport(
    { hostname: 'out.example.test', relay: { smarthost: { host: '127.0.0.1', port: sink.port, tls: 'starttls', username: USER, password: PASSWORD } } },
    resolver,
    captureLog().log,
  );
  t.after(() => transport.close());
  const outcomes = await transport.send(message('cert1', ['x@remote.test']));
  assert.equal(outcomes[0]?.status, 'deferred');
  assert.equal(outcomes[0]?.deferral, 'tls');
  assert.equal(sink.messages.length, 0);
});

test('smarthost down: deferred with class connection; a smarthost config that cannot work is refused at start', async (t) => {
  const sink = await startSink({ tls: 'starttls' });
  const port = sink.port;
  await sink.stop();
  const transport = createTransport(
    { hostname: 'out.example.test', relay: { smarthost: { host: '127.0.0.1', port, tls: 'starttls' } } },
    resolver,
    captureLog().log,
  );
  t.after(() => transport.close());
  const outcomes = await transport.send(message('down1', ['x@remote.test']));
  assert.equal(outcomes[0]?.status, 'deferred');
  assert.equal(outcomes[0]?.deferral, 'connection');
  assert.match(outcomes[0]?.reply ?? '', /^451 4\.4\.1 /);

  const scratch = scratchDir();
  t.after(() => scratch.cleanup());
  const loose = path.join(scratch.dir, 'loose-password');
  writeFileSync(loose, `${PASSWORD}\n`);
  chmodSync(loose, 0o640);
  const start = (smarthost: NonNullable<NonNullable<TransportConfig['relay']>['smarthost']>) =>
    createTransport({ hostname: 'out.example.test', relay: { smarthost } }, resolver, captureLog().log);
  assert.throws(
    () => start({ host: '127.0.0.1', port, username: USER, passwordFile: loose }),
    (err: unknown) => isMailError(err, 'BADINPUT') && /readable by group or others.*chmod 600/.test((err as Error).message),
  );
  assert.throws(
    () => start({ host: '127.0.0.1', port, username: USER, passwordFile: path.join(scratch.dir, 'missing') }),
    (err: unknown) => isMailError(err, 'BADINPUT') && /cannot read passwordFile/.test((err as Error).message),
  );
  assert.throws(() => start({ host: '127.0.0.1', port, username: USER }), /no password/);
  assert.throws(() => start({ host: '127.0.0.1', port, password: PASSWORD }), /no username/);
  assert.throws(() => start({ host: '127.0.0.1', port, ca: path.join(scratch.dir, 'missing.pem') }), /cannot read ca/);
});

test('a smarthost named by a host name: looked up through the DNS resolver; "localhost" verified by name', async (t) => {
  const sink = await startSink({ tls: 'starttls' });
  const dns = await startDnsFixture({ 'smarthost.provider.test': { A: ['127.0.0.1'] } });
  const scratch = scratchDir();
  t.after(async () => {
    await sink.stop();
    await dns.close();
    scratch.cleanup();
  });
  const named = createTransport(
    { hostname: 'out.example.test', relay: { smarthost: { host: 'smarthost.provider.test', port: sink.port, tls: 'opportunistic' } } },
    createDnsResolver(dns.servers, { timeoutMs: 1500 }),
    captureLog().log,
  );
  t.after(() => named.close());
  const viaName = await named.send(message('name1', ['x@remote.test']));
  assert.equal(viaName[0]?.status, 'sent', viaName[0]?.reply);
  assert.equal(viaName[0]?.destination, `smarthost.provider.test[127.0.0.1]:${sink.port}`);
  assert.match(viaName[0]?.tls ?? '', /^TLSv1/, 'opportunistic TLS took the offered STARTTLS');

  const caFile = path.join(scratch.dir, 'ca.pem');
  writeFileSync(caFile, sink.cert);
  const local = createTransport(
    { hostname: 'out.example.test', relay: { smarthost: { host: 'localhost', port: sink.port, tls: 'starttls', ca: caFile } } },
    resolver,
    captureLog().log,
  );
  t.after(() => local.close());
  const viaLocalhost = await local.send(message('name2', ['x@remote.test']));
  assert.equal(viaLocalhost[0]?.status, 'sent', viaLocalhost[0]?.reply);
  assert.equal(sink.messages.length, 2);

  dns.set('smarthost.provider.test', { SERVFAIL: true });
  const broken = createTransport(
    { hostname: 'out.example.test', relay: { smarthost: { host: 'smarthost.provider.test', port: sink.port, tls: 'opportunistic' } } },
    createDnsResolver(dns.servers, { timeoutMs: 1500, cacheTtlMs: 0 }),
    captureLog().log,
  );
  t.after(() => broken.close());
  const dnsDown = await broken.send(message('name3', ['x@remote.test']));
  assert.equal(dnsDown[0]?.status, 'deferred');
  assert.equal(dnsDown[0]?.deferral, 'dns');
});
