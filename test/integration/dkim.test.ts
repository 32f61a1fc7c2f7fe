// `postino dkim` on a real data dir, with the DNS fixture serving exactly
// the TXT record keygen printed: a message signed by the signer verifies
// with mailauth's dkimVerify asking that DNS server (RSA, then Ed25519
// after a rotation that `dkim activate` allows only once the record
// resolves and matches). Perl's Mail::DKIM verifies the RSA signature too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { dkimVerify } from 'mailauth';
import { openStorage } from '../../storage/index.js';
import { createDnsResolver } from '../../src/net/dns.js';
import { DkimKeyStore } from '../../src/outbound/dkim-keys.js';
import { DkimSigner } from '../../src/outbound/dkim.js';
import { postino } from '../support/cli.js';
import { runClient } from '../support/client-process.js';
import { cliPath } from '../support/paths.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';
import { scratchDir } from '../support/tmp.js';

const MESSAGE = 'From: Alice <alice@example.test>\r\nTo: bob@remote.test\r\nSubject: hi\r\nDate: Sun, 06 Dec 2026 12:00:00 +0000\r\nMessage-ID: <m1@example.test>\r\n\r\nHello.\r\n';

const s = scratchDir();
let dns: DnsFixture;

before(async () => {
  dns = await startDnsFixture({ 'example.test': { TXT: ['v=spf1 -all'] } });
  writeFileSync(path.join(s.dir, 'postino.json'), JSON.stringify({ hostname: 'mx.example.test', dns: { servers: dns.servers } }));
  const r = postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', 'alice@example.test', '--password-stdin'], 'tangerine-otter-42\n');
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await dns.close();
  s.cleanup();
});

/** The printed line as the fixture serves it: name, and the quoted strings as one record of several strings. */
function publish(line: string): string {
  const m = /^(\S+) IN TXT ((?:"[^"]*" ?)+)$/.exec(line.trim());
  assert.ok(m, `a zone-file line: ${line}`);
  const name = m[1]!;
  dns.set(name, { TXT: [[...m[2]!.matchAll(/"([^"]*)"/g)].map((x) => x[1]!)] });
  return name;
}

/** `postino dkim activate` asks the DNS fixture, which answers from this process: run it without blocking. */
const activate = (...args: string[]) => runClient(process.execPath, [cliPath, 'dkim', 'activate', 'example.test', ...args, '--data', s.dir]);

/**
 * A second, independent verifier: Perl's Mail::DKIM (SpamAssassin's), asking
 * the same DNS fixture. It has no Ed25519 without CryptX, so RSA only.
 */
const MAIL_DKIM = `
use strict; use Mail::DKIM::Verifier; use Mail::DKIM::DNS; use Net::DNS;
my ($port, $file) = @ARGV;
Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(nameservers => ['127.0.0.1'], port => $port, recurse => 1, tcp_timeout => 10, udp_timeout => 10));
my $v = Mail::DKIM::Verifier->new;
open(my $fh, '<', $file) or die; binmode $fh;
while (<$fh>) { s/\\r?\\n\\z/\\r\\n/; $v->PRINT($_); }
$v->CLOSE;
print $v->result, "\n";
print join(' ', $_->result, lc($_->headerlist)), "\n" for $v->signatures;
`;

async function signed(): Promise<Buffer> {
  const storage = openStorage(s.dir);
  try {
    return await new DkimSigner(new DkimKeyStore(s.dir), (d) => storage.directory.hasDomain(d)).sign(Buffer.from(MESSAGE));
  } finally {
    storage.close();
  }
}

async function signAndVerify(): Promise<Array<{ result: string; selector: string | undefined; domain: string }>> {
  const storage = openStorage(s.dir);
  try {
    const signer = new DkimSigner(new DkimKeyStore(s.dir), (d) => storage.directory.hasDomain(d));
    const signed = await signer.sign(Buffer.from(MESSAGE));
    const r = await dkimVerify(signed, { resolver: createDnsResolver(dns.servers, { cacheTtlMs: 0 }) });
    return r.results.map((x) => ({ result: x.status.result, selector: x.selector, domain: x.signingDomain }));
  } finally {
    storage.close();
  }
}

test('dkim keygen prints the record; the signer signs with it and mailauth verifies it through DNS', async () => {
  const r = postino(s.dir, ['dkim', 'keygen', 'example.test', '--selector', 'rsa2026']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', 'the first key is active: nothing to add');
  assert.match(r.stdout, /^rsa2026\._domainkey\.example\.test IN TXT "v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+" "[A-Za-z0-9+/=]+"\n$/);
  // Unpublished, the signature cannot verify: the verifier really asks the DNS.
  assert.notEqual((await signAndVerify())[0]!.result, 'pass');
  publish(r.stdout);
  assert.deepEqual(await signAndVerify(), [{ result: 'pass', selector: 'rsa2026', domain: 'example.test' }]);

  const file = path.join(s.dir, 'signed.eml');
  writeFileSync(file, await signed());
  const perl = await runClient('perl', ['-e', MAIL_DKIM, String(dns.port), file]);
  assert.equal(perl.code, 0, perl.stderr);
  const [overall, signature] = perl.stdout.trim().split('\n');
  assert.equal(overall, 'pass', perl.stdout);
  assert.match(signature!, /^pass from:.*:from$/, 'Mail::DKIM reads the oversigned From in h= too');
  // It does check: a From added on top fails there as well.
  writeFileSync(file, Buffer.concat([Buffer.from('From: Mallory <alice@example.test>\r\n'), await signed()]));
  const forged = await runClient('perl', ['-e', MAIL_DKIM, String(dns.port), file]);
  assert.equal(forged.stdout.trim().split('\n')[0], 'fail', forged.stdout);
});

test('dkim keygen refuses a domain that is not local, and a selector in use, with one line and a non-zero exit', () => {
  const foreign = postino(s.dir, ['dkim', 'keygen', 'remote.test']);
  assert.notEqual(foreign.code, 0);
  assert.equal(foreign.stdout, '');
  assert.match(foreign.stderr, /^postino dkim keygen: remote\.test is not a local domain[^\n]*\n$/);
  const again = postino(s.dir, ['dkim', 'keygen', 'example.test', '--selector', 'rsa2026']);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /has a key with selector rsa2026 already/);
  const badType = postino(s.dir, ['dkim', 'keygen', 'example.test', '--type', 'dsa']);
  assert.notEqual(badType.code, 0);
  assert.match(badType.stderr, /unknown key type/);
});

test('rotation: a second key (Ed25519) waits; activate refuses until its record resolves and matches, then the signer uses it', async () => {
  const r = postino(s.dir, ['dkim', 'keygen', 'example.test', '--type', 'ed25519']);
  assert.equal(r.code, 0, r.stderr);
  const m = /^(s\d{6})\._domainkey\.example\.test IN TXT "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}="\n$/.exec(r.stdout);
  assert.ok(m, r.stdout);
  const selector = m[1]!;
  assert.match(r.stderr, new RegExp(`signs with rsa2026 until you publish this record and run: postino dkim activate example.test ${selector}`));
  assert.equal((await signAndVerify())[0]!.selector, 'rsa2026', 'the old key signs until the switch');

  const unpublished = await activate(selector);
  assert.notEqual(unpublished.code, 0);
  assert.match(unpublished.stderr, /does not resolve \(ENOTFOUND\): publish .* first, or activate with --force/);
  // A record with another key (the RSA one) is not this key.
  const rsa = JSON.parse(postino(s.dir, ['dkim', 'list', 'example.test', '--json']).stdout) as Array<{ selector: string; value: string }>;
  dns.set(`${selector}._domainkey.example.test`, { TXT: [rsa.find((k) => k.selector === 'rsa2026')!.value] });
  const wrong = await activate(selector);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /does not carry this key/);

  publish(r.stdout);
  const ok = await activate(selector);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`example.test now signs with ${selector}`));
  assert.deepEqual(await signAndVerify(), [{ result: 'pass', selector, domain: 'example.test' }]);

  const list = JSON.parse(postino(s.dir, ['dkim', 'list', '--json']).stdout) as Array<{ domain: string; selector: string; type: string; bits?: number; active: boolean; record: string }>;
  assert.deepEqual(
    list.map((k) => [k.domain, k.selector, k.type, k.bits ?? null, k.active]),
    [
      ['example.test', 'rsa2026', 'rsa', 2048, false],
      ['example.test', selector, 'ed25519', null, true],
    ],
  );
  const text = postino(s.dir, ['dkim', 'list']);
  assert.match(text.stdout, new RegExp(`^example.test ${selector} ed25519 active \\S+\\n  ${selector}\\._domainkey`, 'm'));

  // `postino dns check` reads the same files and agrees: both published records carry their keys.
  const check = await runClient(process.execPath, [cliPath, 'dns', 'check', 'example.test', '--json', '--address', '192.0.2.1', '--data', s.dir]);
  const report = JSON.parse(check.stdout) as { checks: Array<{ name: string; selector?: string; status: string; detail: string }> };
  const dkimChecks = report.checks.filter((c) => c.name === 'dkim').map((c) => [c.selector, c.status]);
  assert.deepEqual(dkimChecks, [
    [selector, 'ok'],
    ['rsa2026', 'ok'],
  ].sort((a, b) => a[0]!.localeCompare(b[0]!)), check.stdout);

  // --force skips the DNS check (the operator knows better, or DNS is not reachable from here).
  const forced = await activate('rsa2026', '--force');
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal((await signAndVerify())[0]!.selector, 'rsa2026');
  const missing = await activate('nosuch', '--force');
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /has no key with selector nosuch/);
});
