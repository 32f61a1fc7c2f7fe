// The transport factory and the smarthost settings it checks at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { MxTransport, SmarthostTransport, createTransport, loadSmarthost } from '../../../src/outbound/smtp-transport.js';
import { createDnsResolver } from '../../../src/net/dns.js';
import { scratchDir } from '../../support/tmp.js';

const resolver = createDnsResolver(['127.0.0.1:1'], { timeoutMs: 200 });
const log = pino({ level: 'silent' });

test('the smarthost when relay.smarthost is set, else direct MX delivery', async () => {
  const mx = createTransport({ hostname: 'h.test', relay: undefined }, resolver, log);
  assert.ok(mx instanceof MxTransport);
  const relay = createTransport({ hostname: 'h.test', relay: { smarthost: { host: '127.0.0.1' } } }, resolver, log);
  assert.ok(relay instanceof SmarthostTransport);
  await mx.close();
  await relay.close();
});

test('smarthost defaults: STARTTLS on 587; implicit TLS on 465; the password file first line', () => {
  assert.deepEqual(loadSmarthost({ host: ' relay.test ' }), { host: 'relay.test', port: 587, tls: 'starttls', auth: undefined, ca: undefined });
  assert.equal(loadSmarthost({ host: 'relay.test', tls: 'implicit' }).port, 465);
  assert.equal(loadSmarthost({ host: 'relay.test', tls: 'opportunistic', port: 25 }).port, 25);
  assert.equal(loadSmarthost({ host: 'relay.test', port: 465 }).tls, 'implicit', 'port 465 means implicit TLS');
  assert.equal(loadSmarthost({ host: '[relay.test]' }).host, 'relay.test', "Postfix's bracketed relayhost form");
  const scratch = scratchDir();
  try {
    const file = path.join(scratch.dir, 'pw');
    writeFileSync(file, 's3cret with spaces \r\nsecond\n');
    chmodSync(file, 0o600);
    assert.deepEqual(loadSmarthost({ host: 'r.test', username: 'u', passwordFile: file }).auth, { username: 'u', password: 's3cret with spaces ' });
    chmodSync(file, 0o604);
    assert.throws(() => loadSmarthost({ host: 'r.test', username: 'u', passwordFile: file }), /readable by group or others \(mode 604\)/);
    writeFileSync(file, '\nsecond\n');
    chmodSync(file, 0o400);
    assert.throws(() => loadSmarthost({ host: 'r.test', username: 'u', passwordFile: file }), /first line is empty/);
    assert.throws(() => loadSmarthost({ host: 'r.test', username: 'u', password: 'p', passwordFile: file }), /not both/);
    assert.throws(() => loadSmarthost({ host: '  ' }), /host is empty/);
  } finally {
    scratch.cleanup();
  }
});
