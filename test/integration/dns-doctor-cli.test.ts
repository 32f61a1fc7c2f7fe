// `postino dns check D` as an administrator runs it: the real CLI (a child
// process) asking the DNS fixture server (another child process: the CLI
// helper waits synchronously, so an in-process server could not answer) for
// zones where all is right, then where each record is missing or wrong in
// turn. Each case checks the status of every check, what to publish, and the
// exit code (0 all right, warnings allowed; 2 missing or wrong; 75 DNS
// failed temporarily).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPair, createPublicKey, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { scratchDir } from '../support/tmp.js';
import { postino } from '../support/cli.js';
import { loadZone, type DnsZone } from '../support/dns-fixture.js';
import { dkimPublicValue } from '../../src/services/dns-doctor-keys.js';

interface Check {
  name: string;
  status: string;
  detail: string;
  publish: string | null;
  selector?: string;
  address?: string;
}
interface Report {
  domain: string;
  ok: boolean;
  checks: Check[];
}

const s = scratchDir('postino-dns-doctor-');
let fixture: ChildProcess | undefined;
let goodKey = '';
let edKey = '';

function rsaKey(bits: number): Promise<KeyObject> {
  return new Promise((resolve, reject) =>
    generateKeyPair('rsa', { modulusLength: bits }, (err, _pub, priv) => (err ? reject(err) : resolve(priv))),
  );
}
function edKeyPair(): Promise<KeyObject> {
  return new Promise((resolve, reject) => generateKeyPair('ed25519', {}, (err, _pub, priv) => (err ? reject(err) : resolve(priv))));
}

/** Writes DIR/dkim/DOMAIN/SELECTOR.key as `postino dkim keygen` does. */
function saveKey(domain: string, selector: string, key: KeyObject): void {
  const dir = path.join(s.dir, 'dkim', domain);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${selector}.key`), key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
}

const publicValue = (key: KeyObject) => dkimPublicValue(createPublicKey(key));
const domainsWithGoodKey = ['good', 'nomx', 'nullmx', 'nospf', 'nodkim', 'nodmarc', 'noptr', 'badptr', 'spfwrong', 'spf11', 'servfail', 'pnone', 'dkimwrong', 'hostile'];

before(async () => {
  const [good, other, weak, ed] = await Promise.all([rsaKey(2048), rsaKey(2048), rsaKey(1024), edKeyPair()]);
  goodKey = publicValue(good);
  edKey = publicValue(ed);
  const zone: DnsZone = loadZone('doctor-zones');
  for (const d of domainsWithGoodKey) {
    const domain = `${d}.doctor.test`;
    saveKey(domain, 's1', good);
    const p = d === 'dkimwrong' ? publicValue(other) : goodKey;
    if (d !== 'nodkim') zone[`s1._domainkey.${domain}`] = { TXT: [`v=DKIM1; k=rsa; p=${p}`] };
  }
  // The good domain has a second, Ed25519 selector too, its record split the way zone files split them.
  saveKey('good.doctor.test', 'e1', ed);
  zone['e1._domainkey.good.doctor.test'] = { TXT: [['v=DKIM1; k=ed25519; ', `p=${edKey}`]] };
  saveKey('dkimweak.doctor.test', 's1', weak);
  zone['s1._domainkey.dkimweak.doctor.test'] = { TXT: [`v=DKIM1; k=rsa; p=${publicValue(weak)}`] };
  // Hostile: an SPF record of 35,000 characters, a DMARC record of 30,000 separators.
  zone['hostile.doctor.test'] = { MX: [{ exchange: 'mx.doctor.test', priority: 10 }], TXT: [`v=spf1 ${'ip4:192.0.2.1 '.repeat(2500)}-all`] };
  zone['_dmarc.hostile.doctor.test'] = { TXT: [`v=DMARC1; p=quarantine; x=${';'.repeat(30_000)}`] };

  const zoneFile = path.join(s.dir, 'zone.json');
  writeFileSync(zoneFile, JSON.stringify(zone));
  const script = fileURLToPath(new URL('../support/dns-fixture.js', import.meta.url));
  const child = spawn(process.execPath, [script, zoneFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  fixture = child;
  let out = '';
  child.stdout!.setEncoding('utf8');
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`dns fixture exited ${code}`)));
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      const m = /"port":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
  });
  writeFileSync(path.join(s.dir, 'postino.json'), JSON.stringify({ hostname: 'mx.doctor.test', dns: { servers: [`127.0.0.1:${port}`] } }));
});

after(async () => {
  if (fixture && fixture.exitCode === null) {
    fixture.kill('SIGTERM');
    await once(fixture, 'exit');
  }
  s.cleanup();
});

function check(domain: string, env: NodeJS.ProcessEnv = {}, extra: string[] = []): { code: number; report: Report; of(name: string): Check } {
  const r = postino(s.dir, ['dns', 'check', domain, '--json', ...extra], undefined, env);
  assert.equal(r.stderr, '', r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  return {
    code: r.code,
    report,
    of(name) {
      const c = report.checks.filter((x) => x.name === name);
      assert.equal(c.length, 1, `${name}: ${JSON.stringify(report.checks)}`);
      return c[0]!;
    },
  };
}

/** Statuses by check name (dkim by selector, ptr by address). */
function statuses(report: Report): Record<string, string> {
  return Object.fromEntries(report.checks.map((c) => [c.selector ? `dkim ${c.selector}` : c.address ? `ptr ${c.address}` : c.name, c.status]));
}

const allOk = { mx: 'ok', spf: 'ok', 'dkim s1': 'ok', dmarc: 'ok', 'ptr 192.0.2.25': 'ok' };

test('all right: every check ok, both DKIM selectors, exit 0; the human form says so line by line', () => {
  const r = check('good.doctor.test');
  assert.deepEqual(statuses(r.report), { ...allOk, 'dkim e1': 'ok' });
  assert.equal(r.report.ok, true);
  assert.equal(r.report.domain, 'good.doctor.test');
  assert.equal(r.code, 0);
  assert.ok(r.report.checks.every((c) => c.publish === null));

  const human = postino(s.dir, ['dns', 'check', 'Good.Doctor.Test.'.replace(/\.$/, '')]);
  assert.equal(human.code, 0, human.stderr);
  const lines = human.stdout.trim().split('\n');
  // mx, spf, dkim e1, dkim s1, dmarc, ptr, summary; then the optional client records (a heading, autoconfig, autodiscover, six SRV)
  assert.equal(lines.length, 7 + 1 + 8, human.stdout);
  assert.match(lines[7]!, /^client setup \(optional/);
  assert.ok(lines.slice(0, 6).every((l) => l.startsWith('ok ')), human.stdout);
  assert.equal(lines[6], 'good.doctor.test: all right');
});

test('MX missing: the MX record to publish, exit 2', () => {
  const r = check('nomx.doctor.test');
  assert.deepEqual(statuses(r.report), { ...allOk, mx: 'missing' });
  assert.equal(r.of('mx').publish, 'nomx.doctor.test. IN MX 10 mx.doctor.test.');
  assert.equal(r.report.ok, false);
  assert.equal(r.code, 2);
});

test('null MX is noticed: wrong', () => {
  const r = check('nullmx.doctor.test');
  assert.deepEqual(statuses(r.report), { ...allOk, mx: 'wrong' });
  assert.match(r.of('mx').detail, /null MX/);
  assert.equal(r.code, 2);
});

test('SPF missing: a record authorizing this server is suggested', () => {
  const r = check('nospf.doctor.test');
  assert.deepEqual(statuses(r.report), { ...allOk, spf: 'missing' });
  assert.equal(r.of('spf').publish, 'nospf.doctor.test. IN TXT "v=spf1 ip4:192.0.2.25 -all"');
  assert.equal(r.code, 2);
});

test('SPF not covering the server: wrong, with the record that would', () => {
  const r = check('spfwrong.doctor.test');
  assert.deepEqual(statuses(r.report), { ...allOk, spf: 'wrong' });
  assert.match(r.of('spf').detail, /does not authorize this server: 192\.0\.2\.25 \(softfail\)/);
  assert.equal(
    r.of('spf').publish,
    'spfwrong.doctor.test. IN TXT "v=spf1 ip4:198.51.100.0/24 include:_spf.provider.example ip4:192.0.2.25 ~all"',
  );
  assert.equal(r.code, 2);
});

test('SPF with 11 DNS lookups: wrong even though it covers the server', () => {
  const r = check('spf11.doctor.test');
  assert.deepEqual(statuses(r.report), { ...allOk, spf: 'wrong' });
  assert.match(r.of('spf').detail, /11 DNS lookups \(RFC 7208 allows 10\)/);
  assert.doesNotMatch(r.of('spf').detail, /does not authorize/);
  assert.equal(r.code, 2);
});

test('DKIM missing: the exact record for the key Postino has', () => {
  const r = check('nodkim.doctor.test');
  assert.deepEqual(statuses(r.report), { ...allOk, 'dkim s1': 'missing' });
  const publish = r.of('dkim').publish!;
  assert.ok(publish.startsWith('s1._domainkey.nodkim.doctor.test. IN TXT "v=DKIM1; k=rsa; p='), publish);
  // Split in strings of at most 255 characters, which join back to the key.
  const strings = [...publish.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
  assert.ok(strings.length > 1 && strings.every((x) => x.length <= 255));
  assert.equal(strings.join(''), `v=DKIM1; k=rsa; p=${goodKey}`);
  assert.equal(r.code, 2);
});

test('DKIM key mismatch: wrong, with the right record', () => {
  const r = check('dkimwrong.doctor.test');
  assert.deepEqual(statuses(r.report), { ...allOk, 'dkim s1': 'wrong' });
  assert.match(r.of('dkim').detail, /not the public half/);
  assert.match(r.of('dkim').publish!, /^s1\._domainkey\.dkimwrong\.doctor\.test\. IN TXT "v=DKIM1; k=rsa; p=/);
  assert.equal(r.code, 2);
});

test('a 1024-bit DKIM key: wrong even when its record matches', () => {
  const r = check('dkimweak.doctor.test');
  assert.equal(r.of('dkim').status, 'wrong');
  assert.match(r.of('dkim').detail, /1024-bit RSA \(2048 at least\)/);
  assert.equal(r.code, 2);
});

test('DMARC missing: the suggested policy record', () => {
  const r = check('nodmarc.doctor.test');
  assert.deepEqual(statuses(r.report), { ...allOk, dmarc: 'missing' });
  assert.equal(r.of('dmarc').publish, '_dmarc.nodmarc.doctor.test. IN TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@nodmarc.doctor.test"');
  assert.equal(r.code, 2);
});

test('DMARC p=none is a warning: exit 0', () => {
  const r = check('pnone.doctor.test');
  assert.deepEqual(statuses(r.report), { ...allOk, dmarc: 'warning' });
  assert.equal(r.report.ok, true);
  assert.equal(r.code, 0);
});

test('PTR missing for the server address (HELO mx-noptr): the PTR to ask for', () => {
  const r = check('noptr.doctor.test', { POSTINO_HOSTNAME: 'mx-noptr.doctor.test' });
  assert.deepEqual(statuses(r.report), { mx: 'ok', spf: 'ok', 'dkim s1': 'ok', dmarc: 'ok', 'ptr 192.0.2.26': 'missing' });
  assert.equal(r.of('ptr').publish, '26.2.0.192.in-addr.arpa. IN PTR mx-noptr.doctor.test.');
  assert.equal(r.code, 2);
});

test('PTR naming another host than the HELO name: wrong', () => {
  const r = check('badptr.doctor.test', { POSTINO_HOSTNAME: 'mx-badptr.doctor.test' });
  assert.deepEqual(statuses(r.report), { mx: 'ok', spf: 'ok', 'dkim s1': 'ok', dmarc: 'ok', 'ptr 192.0.2.27': 'wrong' });
  assert.match(r.of('ptr').detail, /host-27\.provider\.example, not the HELO name mx-badptr\.doctor\.test/);
  assert.equal(r.code, 2);
});

test('an address given with --address that DNS does not know: MX host, SPF and PTR all say so', () => {
  const r = check('good.doctor.test', {}, ['--address', '192.0.2.99']);
  assert.deepEqual(statuses(r.report), { mx: 'wrong', spf: 'wrong', 'dkim e1': 'ok', 'dkim s1': 'ok', dmarc: 'ok', 'ptr 192.0.2.99': 'missing' });
  assert.equal(r.of('mx').publish, 'mx.doctor.test. IN A 192.0.2.99');
  assert.equal(r.code, 2);
});

test('DNS temporary failure is reported as such, not as missing: exit 75', () => {
  const r = check('servfail.doctor.test');
  assert.deepEqual(statuses(r.report), { ...allOk, mx: 'tempfail', spf: 'tempfail' });
  assert.match(r.of('mx').detail, /temporary DNS failure \(ESERVFAIL\)/);
  assert.equal(r.code, 75);
});

test('hostile records (35,000-character SPF, 30,000 DMARC separators) are refused as wrong, quoted shortened', () => {
  const r = check('hostile.doctor.test');
  assert.deepEqual(statuses(r.report), { ...allOk, spf: 'wrong', dmarc: 'wrong' });
  assert.match(r.of('spf').detail, /characters/);
  assert.match(r.of('dmarc').detail, /characters/);
  assert.ok(JSON.stringify(r.report).length < 10_000, 'the report quotes hostile records shortened');
});

test('a bad domain or address argument: one stderr line, exit 1', () => {
  const bad = postino(s.dir, ['dns', 'check', 'not a domain']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^postino dns check: not a domain name/);
  const addr = postino(s.dir, ['dns', 'check', 'good.doctor.test', '--address', 'mx.doctor.test']);
  assert.equal(addr.code, 1);
  assert.match(addr.stderr, /--address: not an IP address/);
});
