// checkDomainDns (the service behind `postino dns check`) against the
// in-process DNS fixture: the cases the CLI test does not walk through
// (+all, ?all, a smarthost, backup MX, DKIM record variants, DMARC variants,
// IPv6 PTR) and the exit code and human form of a report.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, createPublicKey, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createDnsResolver, reverseName } from '../../../src/net/dns.js';
import { checkDomainDns, exitCodeOf, formatReport, isDomainName, type DnsDoctorInput, type DnsReport } from '../../../src/services/dns-doctor.js';
import { dkimPublicValue } from '../../../src/services/dns-doctor-keys.js';
import { startDnsFixture, type DnsFixture, type DnsZone } from '../../support/dns-fixture.js';
import { scratchDir } from '../../support/tmp.js';

const s = scratchDir('postino-dns-doctor-unit-');
let dns: DnsFixture;
let rsa: KeyObject;
let p = '';

const HOST = 'mx.unit.test';
const V4 = '192.0.2.40';
const V6 = '2001:db8:40::25';

/** A domain where all is right, with the given records replaced. */
function domainZone(d: string, over: DnsZone = {}): DnsZone {
  return {
    [d]: { MX: [{ exchange: HOST, priority: 10 }], TXT: ['v=spf1 mx -all'] },
    [`_dmarc.${d}`]: { TXT: ['v=DMARC1; p=reject'] },
    [`s1._domainkey.${d}`]: { TXT: [`v=DKIM1; k=rsa; p=${p}`] },
    ...over,
  };
}

function saveKey(domain: string, selector: string, key: KeyObject): void {
  const dir = path.join(s.dir, 'dkim', domain);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${selector}.key`), key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
}

before(async () => {
  rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  p = dkimPublicValue(createPublicKey(rsa));
  const pkcs1 = createPublicKey(rsa).export({ type: 'pkcs1', format: 'der' }).toString('base64');
  const ed = generateKeyPairSync('ed25519').privateKey;
  const domains = ['plusall', 'neutral', 'relay', 'backup', 'revoked', 'ktype', 'pkcs1', 'testing', 'twodkim', 'twodmarc', 'nop', 'ed', 'v6'];
  for (const d of domains) saveKey(`${d}.unit.test`, 's1', rsa);
  saveKey('ed.unit.test', 'e1', ed);
  // A rotation under way: s1 signs, s2 is made and waits for its record (dkim keygen's layout, with its "active" file).
  saveKey('rotate.unit.test', 's1', rsa);
  saveKey('rotate.unit.test', 's2', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
  writeFileSync(path.join(s.dir, 'dkim', 'rotate.unit.test', 'active'), 's1\n');
  dns = await startDnsFixture({
    [HOST]: { A: [V4], AAAA: [V6] },
    [reverseName(V4)]: { PTR: [HOST] },
    [reverseName(V6)]: { PTR: [HOST] },
    'smtp.provider.test': { A: ['198.51.100.80'] },
    ...domainZone('plusall.unit.test', { 'plusall.unit.test': { MX: [{ exchange: HOST, priority: 10 }], TXT: ['v=spf1 +all'] } }),
    ...domainZone('neutral.unit.test', { 'neutral.unit.test': { MX: [{ exchange: HOST, priority: 10 }], TXT: ['v=spf1 mx ?all'] } }),
    ...domainZone('relay.unit.test'),
    ...domainZone('backup.unit.test', {
      'backup.unit.test': { MX: [{ exchange: HOST, priority: 20 }, { exchange: 'primary.other.test', priority: 5 }], TXT: ['v=spf1 mx -all'] },
    }),
    ...domainZone('revoked.unit.test', { 's1._domainkey.revoked.unit.test': { TXT: ['v=DKIM1; k=rsa; p='] } }),
    ...domainZone('ktype.unit.test', { 's1._domainkey.ktype.unit.test': { TXT: [`v=DKIM1; k=ed25519; p=${p}`] } }),
    ...domainZone('pkcs1.unit.test', { 's1._domainkey.pkcs1.unit.test': { TXT: [`k=rsa; p=${pkcs1}`] } }),
    ...domainZone('testing.unit.test', { 's1._domainkey.testing.unit.test': { TXT: [`v=DKIM1; t=y; p=${p}`] } }),
    ...domainZone('twodkim.unit.test', { 's1._domainkey.twodkim.unit.test': { TXT: [`v=DKIM1; p=${p}`, `v=DKIM1; p=${p}`] } }),
    ...domainZone('twodmarc.unit.test', { '_dmarc.twodmarc.unit.test': { TXT: ['v=DMARC1; p=reject', 'v=DMARC1; p=none'] } }),
    ...domainZone('nop.unit.test', { '_dmarc.nop.unit.test': { TXT: ['v=DMARC1; rua=mailto:x@nop.unit.test'] } }),
    ...domainZone('ed.unit.test', { 'e1._domainkey.ed.unit.test': { TXT: [`v=DKIM1; k=ed25519; p=${dkimPublicValue(createPublicKey(ed))}`] } }),
    ...domainZone('v6.unit.test'),
    ...domainZone('rotate.unit.test'),
  });
});

after(async () => {
  await dns.close();
  s.cleanup();
});

function run(domain: string, extra: Partial<DnsDoctorInput> = {}): Promise<DnsReport> {
  return checkDomainDns({
    domain,
    hostname: HOST,
    resolver: createDnsResolver(dns.servers, { cacheTtlMs: 0, timeoutMs: 2000 }),
    dataDir: s.dir,
    addresses: [V4],
    ...extra,
  });
}

const status = (r: DnsReport, name: string, selector?: string) =>
  r.checks.find((c) => c.name === name && (selector === undefined || c.selector === selector))!;

test('+all is wrong: the record to publish ends in -all and names this server', async () => {
  const r = await run('plusall.unit.test');
  assert.equal(status(r, 'spf').status, 'wrong');
  assert.match(status(r, 'spf').detail, /\+all authorizes every host/);
  assert.equal(status(r, 'spf').publish, `plusall.unit.test. IN TXT "v=spf1 ip4:${V4} -all"`);
  assert.equal(exitCodeOf(r), 2);
});

test('?all is a warning (exit 0), with the -all record suggested', async () => {
  const r = await run('neutral.unit.test');
  assert.equal(status(r, 'spf').status, 'warning');
  assert.equal(status(r, 'spf').publish, 'neutral.unit.test. IN TXT "v=spf1 mx -all"');
  assert.equal(r.ok, true);
  assert.equal(exitCodeOf(r), 0);
  assert.match(formatReport(r), /^neutral\.unit\.test: all right \(1 warning\)$/m);
});

test('through a smarthost, SPF must cover the smarthost: a warning when it does not', async () => {
  const r = await run('relay.unit.test', { smarthost: 'smtp.provider.test' });
  assert.equal(status(r, 'spf').status, 'warning');
  assert.match(status(r, 'spf').detail, /smarthost smtp\.provider\.test \(198\.51\.100\.80 \(fail\)\)/);
});

test('this server as a backup MX only: a warning', async () => {
  const r = await run('backup.unit.test');
  assert.equal(status(r, 'mx').status, 'warning');
  assert.match(status(r, 'mx').detail, /backup MX/);
});

test('DKIM record variants: revoked, wrong k=, bare RSAPublicKey, t=y, two records, Ed25519', async () => {
  assert.match(status(await run('revoked.unit.test'), 'dkim').detail, /empty p=: the key is revoked/);
  assert.equal(status(await run('ktype.unit.test'), 'dkim').status, 'wrong');
  assert.equal(status(await run('pkcs1.unit.test'), 'dkim').status, 'ok'); // p= as PKCS#1 is the same key
  assert.equal(status(await run('testing.unit.test'), 'dkim').status, 'warning');
  assert.equal(status(await run('twodkim.unit.test'), 'dkim').status, 'wrong');
  const ed = await run('ed.unit.test');
  assert.equal(status(ed, 'dkim', 'e1').status, 'ok');
  assert.equal(status(ed, 'dkim', 's1').status, 'ok');
  assert.match(status(ed, 'dkim', 'e1').detail, /Ed25519/);
});

test('a rotation under way: the active key is ok, the new one missing with the step after publishing', async () => {
  const r = await run('rotate.unit.test');
  assert.equal(status(r, 'dkim', 's1').status, 'ok');
  assert.match(status(r, 'dkim', 's1').detail, /\(the active key\)$/);
  const next = status(r, 'dkim', 's2');
  assert.equal(next.status, 'missing');
  assert.match(next.detail, /then "postino dkim activate rotate\.unit\.test s2"/);
  assert.match(next.publish!, /^s2\._domainkey\.rotate\.unit\.test\. IN TXT "v=DKIM1; k=rsa; p=/);
  assert.equal(exitCodeOf(r), 2);
});

test('DMARC: two records or no p= are wrong', async () => {
  assert.equal(status(await run('twodmarc.unit.test'), 'dmarc').status, 'wrong');
  const nop = status(await run('nop.unit.test'), 'dmarc');
  assert.equal(nop.status, 'wrong');
  assert.match(nop.detail, /no p= tag/);
});

test('addresses from DNS: IPv4 and IPv6 each get a PTR check and SPF covers both', async () => {
  const r = await run('v6.unit.test', { addresses: [] });
  assert.deepEqual(
    r.checks.filter((c) => c.name === 'ptr').map((c) => [c.address, c.status]),
    [
      [V4, 'ok'],
      [V6, 'ok'],
    ],
  );
  assert.equal(status(r, 'spf').status, 'ok');
  assert.equal(exitCodeOf(r), 0);
});

test('hostname "localhost": the MX check says to set the hostname', async () => {
  const r = await run('v6.unit.test', { hostname: 'localhost' });
  assert.equal(status(r, 'mx').status, 'wrong');
  assert.match(status(r, 'mx').detail, /set "hostname"/);
});

test('isDomainName', () => {
  assert.ok(isDomainName('example.org') && isDomainName('a-b.c_d.example'));
  assert.ok(!isDomainName('localhost') && !isDomainName('-x.org') && !isDomainName('a..b') && !isDomainName(`${'a'.repeat(64)}.org`));
  assert.ok(!isDomainName(`${'a.'.repeat(200)}org`));
});
