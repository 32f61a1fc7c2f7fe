// A real peer: a scratch Postfix (the Debian package, loopback only, its own
// config dir) is the MX of the recipient's domain, on a high port, offering
// STARTTLS. The transport looks the MX up in the DNS fixture, delivers over
// TLS, and Postfix's 250 "queued as" comes back as the outcome; Postfix then
// hands the message on over LMTP to a sink, where it arrives with Postfix's
// Received header. Fails, never skips, when Postfix is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTransport } from '../../src/outbound/smtp-transport.js';
import { createDnsResolver } from '../../src/net/dns.js';
import { startDnsFixture } from '../support/dns-fixture.js';
import { startPostfix } from '../support/postfix.js';
import { sinkCertificate, startSink } from '../support/sink-smtp.js';
import { scratchDir } from '../support/tmp.js';
import { captureLog, message } from './outbound-transport-harness.js';

test('direct MX delivery to a scratch Postfix over STARTTLS; the message reaches its LMTP hand-off', { timeout: 120_000 }, async (t) => {
  const dns = await startDnsFixture({
    'pf.test': { MX: [{ exchange: 'mx.pf.test', priority: 10 }] },
    'mx.pf.test': { A: ['127.0.0.1'] },
  });
  t.after(() => dns.close());
  const { log, lines } = captureLog();
  const transportFor = (mxPort: number) => {
    const transport = createTransport(
      { hostname: 'out.example.test', relay: { mxPort } },
      createDnsResolver(dns.servers, { timeoutMs: 2000 }),
      log,
    );
    t.after(() => transport.close());
    return transport;
  };
  const lmtp = await startSink({ lmtp: true, tls: 'none' });
  t.after(() => lmtp.stop());
  const scratch = scratchDir('postino-pf-tls-');
  t.after(() => scratch.cleanup());
  const { cert, key } = sinkCertificate();
  const certFile = path.join(scratch.dir, 'cert.pem');
  const keyFile = path.join(scratch.dir, 'key.pem');
  writeFileSync(certFile, cert, { mode: 0o644 });
  writeFileSync(keyFile, key, { mode: 0o600 });

  const postfix = await startPostfix({
    domain: 'pf.test',
    lmtpPort: lmtp.port,
    extraMain: {
      smtpd_tls_security_level: 'may',
      smtpd_tls_cert_file: certFile,
      smtpd_tls_key_file: keyFile,
      smtpd_tls_received_header: 'yes',
      smtpd_tls_loglevel: '1',
    },
  });
  t.after(() => postfix.stop());
  // Postfix's smtpd needs tlsmgr (its TLS entropy and session cache) to
  // offer TLS. Without it (the scratch master.cf of test/support/postfix.ts
  // has none) smtpd answers STARTTLS with 454 and the transport goes on in
  // the clear (opportunistic TLS), which the first delivery shows; then
  // tlsmgr is added and the daemons reloaded.
  const masterCf = path.join(postfix.dir, 'etc', 'master.cf');
  if (!/^tlsmgr\s/m.test(readFileSync(masterCf, 'utf8'))) {
    const before = await transportFor(postfix.smtpPort).send(message('pf0', ['dave@pf.test']));
    assert.equal(before[0]?.status, 'sent', before[0]?.reply);
    assert.equal(before[0]?.tls, undefined, 'STARTTLS refused with 454: sent in the clear');
    appendFileSync(masterCf, 'tlsmgr unix - - n 1000? 1 tlsmgr\n');
    const reload = postfix.control(['reload']);
    assert.equal(reload.code, 0, reload.output);
    // The master has taken the new service once its socket exists.
    const tlsmgrSocket = path.join(postfix.dir, 'queue', 'private', 'tlsmgr');
    for (let i = 0; i < 100 && !existsSync(tlsmgrSocket); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(existsSync(tlsmgrSocket), `no tlsmgr after reload\n${postfix.logText()}`);
  }


  const outcomes = await transportFor(postfix.smtpPort).send(message('pf1', ['bob@pf.test', 'carol@pf.test']));
  for (const o of outcomes) {
    assert.equal(o.status, 'sent', `${o.reply}\n${postfix.logText()}`);
    assert.match(o.reply, /^250 2\.0\.0 Ok: queued as [0-9A-Za-z]+/);
    assert.equal(o.destination, `mx.pf.test[127.0.0.1]:${postfix.smtpPort}`);
    assert.match(o.tls ?? '', /^TLSv1\.[23]$/);
  }
  assert.ok(lines.some((l) => l.event === 'relay-attempt' && l.queueId === 'pf1'));

  // Postfix passes it on: one copy to both recipients, over LMTP.
  const deadline = Date.now() + 60_000;
  while (!lmtp.messages.some((m) => m.raw.includes('<pf1@example.test>'))) {
    if (Date.now() > deadline) throw new Error(`pf1 never reached the LMTP sink\n${postfix.logText()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const got = lmtp.messages.find((m) => m.raw.includes('<pf1@example.test>'))!;
  assert.ok(got, 'pf1 reached the LMTP sink');
  assert.deepEqual([...got.to].sort(), ['bob@pf.test', 'carol@pf.test']);
  assert.equal(got.from, 'alice@example.test');
  const text = got.raw.toString();
  assert.match(text, /Message-ID: <pf1@example\.test>/);
  assert.match(text, /^Received: from out\.example\.test \(/m, 'Postfix recorded our EHLO name');
  assert.match(text, /using TLSv1\.[23]/, 'Postfix recorded the TLS session');
});
