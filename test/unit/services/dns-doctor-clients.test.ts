// The client setup records `postino dns check` lists (autoconfig, autodiscover,
// RFC 6186 SRV) against the DNS fixture: right ones are ok, missing or
// different ones are warnings with the line to publish, and none of them
// changes the report's ok or the exit code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDnsResolver } from '../../../src/net/dns.js';
import { checkDomainDns, exitCodeOf, formatReport } from '../../../src/services/dns-doctor.js';
import { startDnsFixture, type DnsFixture } from '../../support/dns-fixture.js';
import { scratchDir } from '../../support/tmp.js';

const HOST = 'mail.clients.test';
const V4 = '192.0.2.60';
const s = scratchDir('postino-dns-clients-');
let dns: DnsFixture;

const srv = (port: number, priority: number, name = HOST) => [{ name, port, priority, weight: 1 }];

before(async () => {
  dns = await startDnsFixture({
    [HOST]: { A: [V4] },
    'good.clients.test': { MX: [{ exchange: HOST, priority: 10 }] },
    'autoconfig.good.clients.test': { CNAME: HOST },
    'autodiscover.good.clients.test': { A: [V4] },
    '_imaps._tcp.good.clients.test': { SRV: srv(993, 0) },
    '_imap._tcp.good.clients.test': { SRV: srv(143, 10) },
    '_submissions._tcp.good.clients.test': { SRV: srv(465, 0) },
    '_submission._tcp.good.clients.test': { SRV: srv(587, 10) },
    '_pop3s._tcp.good.clients.test': { SRV: srv(995, 0) },
    '_pop3._tcp.good.clients.test': { SRV: srv(110, 10) },
    'odd.clients.test': { MX: [{ exchange: HOST, priority: 10 }] },
    'autoconfig.odd.clients.test': { CNAME: 'elsewhere.example' },
    'autodiscover.odd.clients.test': { A: ['198.51.100.1'] },
    '_imaps._tcp.odd.clients.test': { SRV: srv(1993, 0) },
    '_submission._tcp.odd.clients.test': { SRV: srv(587, 0, 'other.example') },
  });
});

after(async () => {
  await dns.close();
  s.cleanup();
});

function run(domain: string) {
  return checkDomainDns({
    domain,
    hostname: HOST,
    resolver: createDnsResolver(dns.servers, { cacheTtlMs: 0, timeoutMs: 2000 }),
    dataDir: s.dir,
    addresses: [V4],
  });
}

test('all client records right: every one ok, nothing to publish', async () => {
  const r = await run('good.clients.test');
  assert.deepEqual(
    r.clients.map((c) => [c.record, c.status]),
    [
      ['autoconfig', 'ok'],
      ['autodiscover', 'ok'],
      ['_imaps._tcp', 'ok'],
      ['_imap._tcp', 'ok'],
      ['_submissions._tcp', 'ok'],
      ['_submission._tcp', 'ok'],
      ['_pop3s._tcp', 'ok'],
      ['_pop3._tcp', 'ok'],
    ],
  );
  assert.ok(r.clients.every((c) => c.publish === null));
});

test('missing client records are warnings with the records to publish, and do not change ok or the exit code', async () => {
  const r = await run('odd.clients.test');
  const by = Object.fromEntries(r.clients.map((c) => [c.record, c]));
  assert.ok(r.clients.every((c) => c.status === 'warning'), JSON.stringify(r.clients));
  assert.equal(by['autoconfig']!.publish, `autoconfig.odd.clients.test. IN CNAME ${HOST}.`);
  assert.match(by['autoconfig']!.detail, /CNAME for elsewhere\.example, not mail\.clients\.test/);
  assert.match(by['autodiscover']!.detail, /198\.51\.100\.1, not an address of/);
  assert.equal(by['_imaps._tcp']!.publish, `_imaps._tcp.odd.clients.test. IN SRV 0 1 993 ${HOST}.`);
  assert.match(by['_imaps._tcp']!.detail, /0 1 1993 mail\.clients\.test, not mail\.clients\.test port 993/);
  assert.equal(by['_imap._tcp']!.publish, `_imap._tcp.odd.clients.test. IN SRV 10 1 143 ${HOST}.`);
  assert.match(by['_pop3._tcp']!.detail, /no SRV record/);
  // The exit code is decided by the mail checks alone: the client records cannot make it worse.
  const withoutClients = { ...r, clients: [] };
  assert.equal(exitCodeOf(r), exitCodeOf(withoutClients));
  assert.match(formatReport(r), /client setup \(optional[^\n]*\nwarning  autoconfig: /);
});

test('the SRV records name the configured ports', async () => {
  const r = await checkDomainDns({
    domain: 'good.clients.test',
    hostname: HOST,
    resolver: createDnsResolver(dns.servers, { cacheTtlMs: 0, timeoutMs: 2000 }),
    dataDir: s.dir,
    addresses: [V4],
    clientPorts: { imap: 1143, imaps: 1993, pop3: 1110, pop3s: 1995, submission: 2587, submissions: 2465 },
  });
  const imaps = r.clients.find((c) => c.record === '_imaps._tcp')!;
  assert.equal(imaps.status, 'warning');
  assert.equal(imaps.publish, `_imaps._tcp.good.clients.test. IN SRV 0 1 1993 ${HOST}.`);
});

test('clientRecordsToPublish: the records for a DNS page', async () => {
  const { clientRecordsToPublish } = await import('../../../src/services/dns-doctor-clients.js');
  const records = clientRecordsToPublish('Example.Test', 'Mail.Example.Test.');
  assert.equal(records.length, 8);
  assert.deepEqual(records[0], { type: 'CNAME', name: 'autoconfig.example.test', value: 'mail.example.test.', purpose: 'Thunderbird autoconfig' });
  assert.deepEqual(records[2], { type: 'SRV', name: '_imaps._tcp.example.test', value: '0 1 993 mail.example.test.', purpose: 'RFC 6186 client setup' });
});
