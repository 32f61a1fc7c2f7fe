// SPF as `postino dns check` sees it: parsing (hostile input included), the
// RFC 7208 4.6.4 lookup count over includes and redirects, loops and depth,
// and check_host() for the server's addresses, against the in-process DNS
// fixture over real UDP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDnsResolver } from '../../../src/net/dns.js';
import { parseSpf, analyseSpf, evaluateSpf, finalAll, inNetwork, withTerms, isSpfRecord } from '../../../src/services/dns-doctor-spf.js';
import { parseTagList } from '../../../src/services/dns-doctor-records.js';
import { startDnsFixture, type DnsFixture } from '../../support/dns-fixture.js';

let dns: DnsFixture;

const chain = (n: number, prefix: string): Record<string, { TXT: string[] }> =>
  Object.fromEntries(
    Array.from({ length: n }, (_, i) => [`${prefix}${i}.spf.test`, { TXT: [i + 1 < n ? `v=spf1 include:${prefix}${i + 1}.spf.test -all` : 'v=spf1 -all'] }]),
  );

before(async () => {
  dns = await startDnsFixture({
    // Three levels: 1 (mx) + 1 (include) + 1 (a) + 1 (include) + 1 (redirect) = 5 lookups.
    'nested.spf.test': { TXT: ['v=spf1 mx include:level2.spf.test -all'], MX: [{ exchange: 'mail.spf.test', priority: 5 }] },
    'level2.spf.test': { TXT: ['v=spf1 a:relay.spf.test include:level3.spf.test ~all'] },
    'level3.spf.test': { TXT: ['v=spf1 ip6:2001:db8:77::/48 redirect=final.spf.test'] },
    'final.spf.test': { TXT: ['v=spf1 ip4:203.0.113.0/25 -all'] },
    'mail.spf.test': { A: ['192.0.2.25'] },
    'relay.spf.test': { A: ['198.51.100.7'], AAAA: ['2001:db8:1::7'] },
    // A redirect is not followed (nor counted) when the record has an all.
    'ignored-redirect.spf.test': { TXT: ['v=spf1 ip4:192.0.2.1 -all redirect=nowhere.spf.test'] },
    // Loops, by include and by redirect.
    'loop-a.spf.test': { TXT: ['v=spf1 include:loop-b.spf.test -all'] },
    'loop-b.spf.test': { TXT: ['v=spf1 ip4:192.0.2.9 include:loop-a.spf.test -all'] },
    'self.spf.test': { TXT: ['v=spf1 redirect=SELF.spf.test'] },
    // Void lookups: includes of names without SPF.
    'voids.spf.test': { TXT: ['v=spf1 include:nx1.spf.test include:nx2.spf.test include:nx3.spf.test ip4:192.0.2.25 -all'] },
    // A temporary failure inside an include.
    'temp.spf.test': { TXT: ['v=spf1 include:broken.spf.test ip4:192.0.2.25 -all'] },
    'broken.spf.test': { SERVFAIL: true },
    'unknown.spf.test': { TXT: ['v=spf1 exists:%{i}.rbl.spf.test ip4:192.0.2.25 -all'] },
    'two.spf.test': { TXT: ['v=spf1 -all', 'v=spf1 +all'] },
    // Twelve deep: the depth bound stops the walk, not a stack overflow.
    ...chain(12, 'deep'),
    // A hundred includes wide, each one lookup: counting stops early.
    'wide.spf.test': { TXT: [`v=spf1 ${Array.from({ length: 100 }, (_, i) => `include:w${i}.spf.test`).join(' ')} -all`] },
    ...Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`w${i}.spf.test`, { TXT: ['v=spf1 -all'] }])),
    // 200 a: terms in one record under the length cap: evaluation stops after 10, as a receiver's does.
    'many-a.spf.test': { TXT: [`v=spf1 ${Array.from({ length: 200 }, (_, i) => `a:h${i}.spf.test`).join(' ')} ip4:192.0.2.25 -all`] },
  });
});

after(async () => {
  await dns.close();
});

const resolver = () => createDnsResolver(dns.servers, { cacheTtlMs: 0, timeoutMs: 2000 });

test('parseSpf: mechanisms, qualifiers, CIDR lengths and modifiers', () => {
  const r = parseSpf('v=spf1 +a -mx:mail.example.org/24//64 ~ip4:192.0.2.0/24 ?ip6:2001:db8::/32 include:_spf.example.net ptr exists:%{i}.x.test redirect=other.test exp=explain.test unknown-mod=x all');
  assert.ok('record' in r);
  const m = r.record.mechanisms;
  assert.deepEqual(
    m.map((x) => `${x.qualifier}${x.name}`),
    ['+a', '-mx', '~ip4', '?ip6', '+include', '+ptr', '+exists', '+all'],
  );
  assert.equal(m[1]!.domain, 'mail.example.org');
  assert.equal(m[1]!.prefix4, 24);
  assert.equal(m[1]!.prefix6, 64);
  assert.equal(m[2]!.ip, '192.0.2.0');
  assert.equal(m[2]!.prefix4, 24);
  assert.equal(m[3]!.prefix6, 32);
  assert.equal(r.record.redirect, 'other.test');
  assert.ok(isSpfRecord('V=SPF1 -all') && !isSpfRecord('v=spf10 -all') && isSpfRecord('v=spf1'));
});

test('parseSpf: errors a receiver would answer with permerror', () => {
  for (const bad of ['v=spf1 frobnicate:x.test -all', 'v=spf1 ip4:300.1.1.1 -all', 'v=spf1 ip4:192.0.2.0/33', 'v=spf1 ip6:192.0.2.1', 'v=spf1 include', 'v=spf1 redirect=a.test redirect=b.test', 'v=spf1 a:bad!name.test', 'v=spf1 all:x']) {
    assert.ok('error' in parseSpf(bad), bad);
  }
});

test('hostile records: megabytes parse in one bounded pass and are refused', () => {
  const huge = `v=spf1 ${'ip4:192.0.2.1 '.repeat(100_000)}-all`;
  const r = parseSpf(huge);
  assert.ok('error' in r && /characters/.test(r.error));
  // Just under the cap: many short terms, a term of slashes, one of colons.
  assert.ok('record' in parseSpf(`v=spf1 ${'a '.repeat(2000)}-all`));
  assert.ok('error' in parseSpf(`v=spf1 a:${'/1'.repeat(2000)}`));
  assert.ok('error' in parseSpf(`v=spf1 ${':'.repeat(4000)}`));
  // Tag lists (DKIM, DMARC): a megabyte of separators or one huge tag.
  const tags = parseTagList(`v=DMARC1; ${';'.repeat(1_000_000)}`);
  assert.ok('error' in tags);
  assert.ok('error' in parseTagList(`p=${'A'.repeat(1_000_000)}`));
  const ok = parseTagList(`v=DMARC1; ${'; '.repeat(1000)}p=reject`);
  assert.ok('tags' in ok && ok.tags.get('p') === 'reject');
});

test('lookups are counted across includes and redirects (RFC 7208 4.6.4)', async () => {
  const a = await analyseSpf(resolver(), 'nested.spf.test');
  assert.equal(a.lookups, 5);
  assert.deepEqual(a.problems, []);
  assert.equal(finalAll(a.root), '-');
  const ignored = await analyseSpf(resolver(), 'ignored-redirect.spf.test');
  assert.equal(ignored.lookups, 0);
  assert.deepEqual(ignored.problems, []);
});

test('check_host over the loaded tree: mx, a, ip6, include, redirect', async () => {
  const r = resolver();
  const a = await analyseSpf(r, 'nested.spf.test');
  assert.equal(await evaluateSpf(r, a, '192.0.2.25'), 'pass'); // mx
  assert.equal(await evaluateSpf(r, a, '198.51.100.7'), 'pass'); // a: in an include
  assert.equal(await evaluateSpf(r, a, '2001:db8:1::7'), 'pass'); // AAAA of a:
  assert.equal(await evaluateSpf(r, a, '2001:db8:77:1::1'), 'pass'); // ip6 /48 two includes down
  assert.equal(await evaluateSpf(r, a, '203.0.113.127'), 'pass'); // the redirect's ip4 /25
  assert.equal(await evaluateSpf(r, a, '203.0.113.128'), 'fail'); // just outside it
  assert.equal(await evaluateSpf(r, a, '192.0.2.26'), 'fail');
});

test('loops are found, not followed', async () => {
  const a = await analyseSpf(resolver(), 'loop-a.spf.test');
  assert.ok(a.problems.some((p) => /^loop: loop-a.spf.test -> loop-b.spf.test -> loop-a.spf.test$/.test(p)), a.problems.join('; '));
  assert.equal(await evaluateSpf(resolver(), a, '192.0.2.9'), 'pass');
  const self = await analyseSpf(resolver(), 'self.spf.test');
  assert.ok(self.problems.some((p) => p.startsWith('loop')));
  assert.equal(await evaluateSpf(resolver(), self, '192.0.2.9'), 'permerror');
});

test('depth and width are bounded: a 12-deep chain stops at the depth limit, 100 includes stop the count past 30', async () => {
  const deep = await analyseSpf(resolver(), 'deep0.spf.test');
  assert.ok(deep.problems.some((p) => /nested more than 10 deep/.test(p)), deep.problems.join('; '));
  assert.equal(deep.lookups, 10); // the include below the limit is counted, not followed
  const before = dns.queries.length;
  const wide = await analyseSpf(resolver(), 'wide.spf.test');
  assert.equal(wide.lookups, 100); // every term counted (no DNS needed to count)...
  assert.ok(dns.queries.length - before <= 40, `asked ${dns.queries.length - before} questions`); // ...but few followed
});

test('evaluation stops at the 11th DNS-querying term: permerror after at most 10 questions', async () => {
  const r = resolver();
  const a = await analyseSpf(r, 'many-a.spf.test');
  assert.equal(a.lookups, 200);
  const before = dns.queries.length;
  assert.equal(await evaluateSpf(r, a, '192.0.2.25'), 'permerror');
  assert.ok(dns.queries.length - before <= 10, `asked ${dns.queries.length - before} questions`);
});

test('void lookups, several records, temporary failures and unevaluable terms', async () => {
  const voids = await analyseSpf(resolver(), 'voids.spf.test');
  assert.equal(voids.voidLookups, 3);
  assert.equal(await evaluateSpf(resolver(), voids, '192.0.2.25'), 'permerror');

  const two = await analyseSpf(resolver(), 'two.spf.test');
  assert.equal(two.root.kind, 'broken');

  const temp = await analyseSpf(resolver(), 'temp.spf.test');
  assert.equal(temp.tempfails.length, 1);
  assert.equal(await evaluateSpf(resolver(), temp, '192.0.2.25'), 'temperror');

  const unknown = await analyseSpf(resolver(), 'unknown.spf.test');
  assert.equal(await evaluateSpf(resolver(), unknown, '192.0.2.25'), 'unknown');

  const none = await analyseSpf(resolver(), 'nothing-here.spf.test');
  assert.equal(none.root.kind, 'none');
});

test('inNetwork and withTerms', () => {
  assert.ok(inNetwork('192.0.2.200', '192.0.2.0', 24));
  assert.ok(!inNetwork('192.0.3.1', '192.0.2.0', 24));
  assert.ok(inNetwork('2001:db8::1', '2001:0db8:0::', 32));
  assert.ok(!inNetwork('192.0.2.1', '2001:db8::', 0));
  assert.ok(inNetwork('10.1.2.3', '192.0.2.1', 0));
  assert.equal(withTerms('v=spf1 mx ~all', ['ip4:192.0.2.25']), 'v=spf1 mx ip4:192.0.2.25 ~all');
  assert.equal(withTerms('v=spf1 mx redirect=x.test', ['ip4:192.0.2.25']), 'v=spf1 mx ip4:192.0.2.25 redirect=x.test');
  assert.equal(withTerms('v=spf1 mx', ['ip6:2001:db8::1']), 'v=spf1 mx ip6:2001:db8::1');
});
