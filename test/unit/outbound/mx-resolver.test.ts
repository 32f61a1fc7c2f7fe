// MX routes from the DNS fixture: preference order, the implicit MX, null MX,
// NXDOMAIN, temporary failures, bounds on hostile zones, address order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDnsResolver, type DnsResolver } from '../../../src/net/dns.js';
import { MAX_MX_HOSTS, domainLiteral, domainOf, lookupAddresses, lookupMx } from '../../../src/outbound/mx-resolver.js';
import { startDnsFixture, type DnsFixture } from '../../support/dns-fixture.js';

let dns: DnsFixture;
let resolver: DnsResolver;

before(async () => {
  dns = await startDnsFixture({
    'pref.test': {
      MX: [
        { exchange: 'c.pref.test', priority: 30 },
        { exchange: 'a.pref.test', priority: 10 },
        { exchange: 'b.pref.test', priority: 20 },
      ],
    },
    'implicit.test': { A: ['192.0.2.1'] },
    'implicit6.test': { AAAA: ['2001:db8::1'] },
    'null.test': { MX: [{ exchange: '.', priority: 0 }] },
    'txt-only.test': { TXT: ['hello'] },
    'servfail.test': { SERVFAIL: true },
    'many.test': { MX: Array.from({ length: 50 }, (_, i) => ({ exchange: `mx${i}.many.test`, priority: i })) },
    'dual.test': { AAAA: ['2001:db8::2'], A: ['192.0.2.2', '192.0.2.3'] },
    'half.test': { A: ['192.0.2.4'] },
  });
  resolver = createDnsResolver(dns.servers, { timeoutMs: 1500, cacheTtlMs: 0 });
});
after(() => dns.close());

test('MX hosts come lowest preference first', async () => {
  assert.deepEqual(await lookupMx('PREF.test', resolver), { kind: 'hosts', hosts: ['a.pref.test', 'b.pref.test', 'c.pref.test'], implicit: false });
});

test('without MX the domain is its own host when it has an address (A or AAAA)', async () => {
  assert.deepEqual(await lookupMx('implicit.test', resolver), { kind: 'hosts', hosts: ['implicit.test'], implicit: true });
  assert.deepEqual(await lookupMx('implicit6.test', resolver), { kind: 'hosts', hosts: ['implicit6.test'], implicit: true });
  assert.equal((await lookupMx('txt-only.test', resolver)).kind, 'no-such-domain');
});

test('null MX, NXDOMAIN and SERVFAIL', async () => {
  assert.deepEqual(await lookupMx('null.test', resolver), { kind: 'null-mx' });
  assert.equal((await lookupMx('nowhere.test', resolver)).kind, 'no-such-domain');
  const broken = await lookupMx('servfail.test', resolver);
  assert.equal(broken.kind, 'tempfail');
  assert.match(broken.kind === 'tempfail' ? broken.detail : '', /ESERVFAIL/);
});

test('a zone with fifty MX hosts gives the first ten', async () => {
  const r = await lookupMx('many.test', resolver);
  assert.equal(r.kind, 'hosts');
  assert.equal(r.kind === 'hosts' ? r.hosts.length : 0, MAX_MX_HOSTS);
  assert.equal(r.kind === 'hosts' ? r.hosts[0] : '', 'mx0.many.test');
});

test('addresses: IPv4 before IPv6; none; an IP stands for itself', async () => {
  assert.deepEqual(await lookupAddresses('dual.test', resolver), { kind: 'addresses', addresses: ['192.0.2.2', '192.0.2.3', '2001:db8::2'] });
  assert.deepEqual(await lookupAddresses('half.test', resolver), { kind: 'addresses', addresses: ['192.0.2.4'] });
  assert.equal((await lookupAddresses('nowhere.test', resolver)).kind, 'none');
  assert.equal((await lookupAddresses('servfail.test', resolver)).kind, 'tempfail');
  assert.deepEqual(await lookupAddresses('127.0.0.1', resolver), { kind: 'addresses', addresses: ['127.0.0.1'] });
});

test('domains of addresses and domain literals', () => {
  assert.equal(domainOf('Bob@Example.TEST'), 'example.test');
  assert.equal(domainOf('"a@b"@c.test'), 'c.test');
  assert.equal(domainOf('nodomain'), undefined);
  assert.equal(domainOf('trailing@'), undefined);
  assert.equal(domainLiteral('[192.0.2.1]'), '192.0.2.1');
  assert.equal(domainLiteral('[IPv6:2001:db8::1]'), '2001:db8::1');
  assert.equal(domainLiteral('[not.an.ip]'), undefined);
  assert.equal(domainLiteral('example.test'), undefined);
});
