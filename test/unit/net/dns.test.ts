// src/net/dns.ts against the in-process DNS fixture, over real UDP and TCP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as dnsPromises } from 'node:dns';
import { createDnsResolver, normaliseServers, reverseName, DnsConfigError } from '../../../src/net/dns.js';
import { startDnsFixture, loadZone, type DnsFixture } from '../../support/dns-fixture.js';

let dns: DnsFixture;

const bigTxt = Array.from({ length: 24 }, (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(240)}`);

before(async () => {
  dns = await startDnsFixture({
    ...loadZone('resolver'),
    'big.example.test': { TXT: [bigTxt] },
  });
});

after(async () => {
  await dns.close();
});

/** A resolver without cache, so each test sees the zone as it is now. */
const fresh = () => createDnsResolver(dns.servers, { cacheTtlMs: 0, timeoutMs: 1500 });

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code;
  }
}

test('A, AAAA, MX, PTR, NS answers have node dns.promises.resolve shapes', async () => {
  const r = fresh();
  assert.deepEqual(await r('host.example.test', 'A'), ['192.0.2.1', '192.0.2.2']);
  assert.deepEqual(await r('host.example.test', 'AAAA'), ['2001:db8::1', '::ffff:192.0.2.1']);
  assert.deepEqual(
    (await r('example.test', 'MX')).sort((a: { priority: number }, b: { priority: number }) => a.priority - b.priority),
    [
      { exchange: 'mx1.example.test', priority: 10 },
      { exchange: 'mx2.example.test', priority: 20 },
    ],
  );
  assert.deepEqual(await r(reverseName('192.0.2.1'), 'PTR'), ['host.example.test']);
  assert.deepEqual(await r(reverseName('2001:db8::1'), 'PTR'), ['host.example.test']);
  assert.deepEqual(await r('example.test', 'NS'), ['ns1.example.test']);
  // Names are case-insensitive and a trailing dot is accepted.
  assert.deepEqual(await r('HOST.Example.Test.', 'A'), ['192.0.2.1', '192.0.2.2']);
});

test('TXT keeps the character-strings of each record apart, as node does', async () => {
  const r = fresh();
  const txt = (await r('example.test', 'TXT')) as string[][];
  assert.equal(txt.length, 2);
  const sorted = txt.map((row) => row.join('|')).sort();
  assert.deepEqual(sorted, ['first part| second part', 'v=spf1 mx -all']);
  // A string over 255 bytes in the zone data is split, and joins back.
  const long = (await r('long.example.test', 'TXT')) as string[][];
  assert.equal(long.length, 1);
  assert.equal(long[0]!.length, 2);
  assert.equal(long[0]!.join(''), `v=DKIM1; k=rsa; p=${'A'.repeat(300)}`);
});

test('CNAME is followed inside the zone, and answered itself when asked', async () => {
  const r = fresh();
  assert.deepEqual(await r('www.example.test', 'A'), ['192.0.2.1', '192.0.2.2']);
  assert.deepEqual(await r('www.example.test', 'CNAME'), ['host.example.test']);
  assert.deepEqual(await r('chain.example.test', 'A'), ['192.0.2.1', '192.0.2.2']);
});

test('NXDOMAIN is ENOTFOUND, NODATA is ENODATA, like node', async () => {
  const r = fresh();
  assert.equal(await code(r('nothing.example.test', 'A')), 'ENOTFOUND');
  assert.equal(await code(r('host.example.test', 'MX')), 'ENODATA');
  // An empty non-terminal (only names below it exist) is NODATA, not NXDOMAIN.
  assert.equal(await code(r('_domainkey.example.test', 'TXT')), 'ENODATA');
  // The same codes node's own resolver gives for the same server.
  const node = new dnsPromises.Resolver({ timeout: 500, tries: 1 });
  node.setServers(dns.servers);
  assert.equal(await code(node.resolve('nothing.example.test', 'A')), 'ENOTFOUND');
  assert.equal(await code(node.resolve('host.example.test', 'MX')), 'ENODATA');
});

test('wildcards answer for names that do not exist, not for those that do', async () => {
  const r = fresh();
  assert.deepEqual(await r('anything.wild.example.test', 'TXT'), [['wildcard']]);
  assert.deepEqual(await r('real.wild.example.test', 'TXT'), [['real']]);
});

test('SERVFAIL and REFUSED come back as ESERVFAIL and EREFUSED', async () => {
  const r = fresh();
  assert.equal(await code(r('servfail.example.test', 'TXT')), 'ESERVFAIL');
  assert.equal(await code(r('refused.example.test', 'TXT')), 'EREFUSED');
});

test('a server that never answers gives ETIMEOUT within the bound', async () => {
  const r = createDnsResolver(dns.servers, { cacheTtlMs: 0, timeoutMs: 600 });
  const t0 = Date.now();
  assert.equal(await code(r('timeout.example.test', 'TXT')), 'ETIMEOUT');
  const took = Date.now() - t0;
  assert.ok(took < 1500, `took ${took} ms`);
});

test('an answer too big for UDP is truncated and fetched again over TCP', async () => {
  const r = fresh();
  const before = dns.queries.length;
  const txt = (await r('big.example.test', 'TXT')) as string[][];
  assert.deepEqual(txt, [bigTxt]);
  const asked = dns.queries.slice(before).filter((q) => q.name === 'big.example.test');
  assert.deepEqual(
    asked.map((q) => q.transport),
    ['udp', 'tcp'],
  );
});

test('answers are cached (NXDOMAIN too), errors that may pass are not', async () => {
  const r = createDnsResolver(dns.servers, { timeoutMs: 1500 });
  const count = (name: string) => dns.queries.filter((q) => q.name === name).length;

  dns.set('cached.example.test', { A: ['192.0.2.50'] });
  assert.deepEqual(await r('cached.example.test', 'A'), ['192.0.2.50']);
  dns.set('cached.example.test', { A: ['192.0.2.51'] });
  const got = await r('cached.example.test', 'A');
  assert.deepEqual(got, ['192.0.2.50']);
  assert.equal(count('cached.example.test'), 1);
  // Callers get copies: changing one answer does not change the next.
  got.push('mutated');
  assert.deepEqual(await r('cached.example.test', 'A'), ['192.0.2.50']);

  assert.equal(await code(r('gone.example.test', 'A')), 'ENOTFOUND');
  assert.equal(await code(r('gone.example.test', 'A')), 'ENOTFOUND');
  assert.equal(count('gone.example.test'), 1);
  // Each caller gets its own error object: mailauth writes its verdict onto
  // errors (err.spfResult), which must not leak into the next check.
  const caught = (p: Promise<unknown>) => p.then(() => ({}) as Record<string, unknown>, (e: unknown) => e as Record<string, unknown>);
  const e1 = await caught(r('gone.example.test', 'A'));
  e1['spfResult'] = { error: 'permerror' };
  const e2 = await caught(r('gone.example.test', 'A'));
  assert.notEqual(e1, e2);
  assert.equal(e2['spfResult'], undefined);
  assert.equal(e2['code'], 'ENOTFOUND');

  const servfails = count('servfail.example.test');
  assert.equal(await code(r('servfail.example.test', 'A')), 'ESERVFAIL');
  assert.equal(await code(r('servfail.example.test', 'A')), 'ESERVFAIL');
  assert.ok(count('servfail.example.test') - servfails >= 2, 'SERVFAIL must not be cached');

  // Parallel identical questions share one query.
  dns.set('parallel.example.test', { TXT: ['p'] });
  const n0 = count('parallel.example.test');
  const all = await Promise.all([r('parallel.example.test', 'TXT'), r('parallel.example.test', 'TXT'), r('parallel.example.test', 'TXT')]);
  assert.deepEqual(all, [[['p']], [['p']], [['p']]]);
  assert.equal(count('parallel.example.test') - n0, 1);

  // cacheTtlMs: 0 asks every time.
  const nocache = fresh();
  await nocache('cached.example.test', 'A');
  assert.deepEqual(await nocache('cached.example.test', 'A'), ['192.0.2.51']);
});

test('unsupported record types are refused like node refuses them', async () => {
  const r = fresh();
  await assert.rejects(r('example.test', 'BOGUS'), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('server lists: IP, IP:PORT, [IPv6]:PORT and localhost; names refused', () => {
  assert.deepEqual(normaliseServers(['127.0.0.1', '127.0.0.1:5353', '::1', '[::1]:5353', 'localhost:53']), [
    '127.0.0.1',
    '127.0.0.1:5353',
    '::1',
    '[::1]:5353',
    '127.0.0.1:53',
  ]);
  assert.throws(() => normaliseServers(['dns.example.test']), DnsConfigError);
  assert.throws(() => normaliseServers(['127.0.0.1:99999']), DnsConfigError);
  assert.throws(() => createDnsResolver(['resolver.example.test:53']), DnsConfigError);
  // No servers: the system resolver (not asked here: tests stay off the network).
  assert.equal(typeof createDnsResolver([]), 'function');
});

test('reverseName builds in-addr.arpa and ip6.arpa names', () => {
  assert.equal(reverseName('192.0.2.1'), '1.2.0.192.in-addr.arpa');
  assert.equal(reverseName('2001:db8::1'), '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
  assert.equal(reverseName('::ffff:192.0.2.1'), '1.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa');
  assert.throws(() => reverseName('not-an-ip'), DnsConfigError);
});
