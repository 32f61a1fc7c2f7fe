// checkSender (SPF, DKIM, DMARC, ARC via mailauth) against the in-process DNS
// fixture over real UDP: zone data in fixtures/dns/sender-auth.json, DKIM keys
// made here and published into the running fixture.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { dkimSign, sealMessage, type DKIMSignOptions } from 'mailauth';
import { createDnsResolver, type DnsResolver } from '../../../src/net/dns.js';
import { checkSender, removeOwnAuthResults as removeOwn, VerdictCache, verifyUnsigned, type SenderAuthInput, type SenderAuthResult } from '../../../src/mx/sender-auth.js';
import { dkimVerify } from 'mailauth';
import { Readable } from 'node:stream';
import { parseMessage } from '../../../mime/index.js';

const removeOwnAuthResults = (raw: Buffer, id: string): Buffer => removeOwn(parseMessage(raw), id).raw;
import { startDnsFixture, loadZone, type DnsFixture } from '../../support/dns-fixture.js';

const HOST = 'mx.postino.test';
const CLIENT_IP = '192.0.2.10';
const HELO = 'mail.client.example';

let dns: DnsFixture;
let resolver: DnsResolver;
let rsaKey: KeyObject;
let edKey: KeyObject;

before(async () => {
  dns = await startDnsFixture(loadZone('sender-auth'));
  resolver = createDnsResolver(dns.servers, { timeoutMs: 2000 });

  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  rsaKey = rsa.privateKey;
  const rsaPub = rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  // A 2048-bit key is longer than one 255-byte TXT string: the fixture splits it.
  dns.set('sel1._domainkey.signed.example.org', { TXT: [`v=DKIM1; k=rsa; p=${rsaPub}`] });

  const ed = generateKeyPairSync('ed25519');
  edKey = ed.privateKey;
  const edRaw = ed.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
  dns.set('ed1._domainkey.signed.example.org', { TXT: [`v=DKIM1; k=ed25519; p=${edRaw}`] });
  // The ARC sealer (a mailing list that forwarded the message) uses the RSA key too.
  dns.set('arc1._domainkey.forwarder.example.org', { TXT: [`v=DKIM1; k=rsa; p=${rsaPub}`] });
});

after(async () => {
  await dns.close();
});

function message(from: string, body = 'Hello Bob,\r\n\r\nsee you at noon.\r\n', extra = ''): Buffer {
  return Buffer.from(
    `From: Alice <${from}>\r\n` +
      'To: bob@postino.test\r\n' +
      'Subject: lunch\r\n' +
      'Date: Mon, 23 Nov 2026 04:00:00 +0000\r\n' +
      'Message-ID: <lunch-1@client.example>\r\n' +
      extra +
      'MIME-Version: 1.0\r\n' +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      '\r\n' +
      body,
  );
}

async function sign(raw: Buffer, selector = 'sel1', key: KeyObject = rsaKey, algorithm = 'rsa-sha256'): Promise<{ signed: Buffer; b8: string }> {
  const res = await dkimSign(raw, {
    canonicalization: 'relaxed/relaxed',
    algorithm,
    signTime: new Date('2026-11-23T04:00:00Z'),
    signatureData: [
      {
        signingDomain: 'signed.example.org',
        selector,
        privateKey: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
        algorithm,
      },
    ],
    // mailauth's typings want signingDomain/selector/privateKey at the top
    // level too; the signer reads only signatureData.
  } as unknown as DKIMSignOptions);
  assert.deepEqual(res.errors, []);
  const b = /\bb=([A-Za-z0-9+/=\s]+)/.exec(res.signatures.replace(/\r\n\s+/g, ''))?.[1]?.replace(/\s+/g, '') ?? '';
  return { signed: Buffer.concat([Buffer.from(res.signatures), raw]), b8: b.slice(0, 8) };
}

/** header.b is a token unless the base64 prefix has characters a token may not. */
function quoteB(b8: string): string {
  return /[/=]/.test(b8) ? `"${b8}"` : b8;
}

function check(over: Partial<SenderAuthInput> & { raw: Buffer; mailFrom: string }): Promise<SenderAuthResult> {
  const { raw, ...rest } = over;
  return checkSender({ ip: CLIENT_IP, helo: HELO, hostname: HOST, resolver, ...rest, message: parseMessage(raw) });
}

/** The header as written: CRLF line ends, folded lines start with a space. */
function lines(...l: string[]): string {
  return `${l.join('\r\n')}\r\n`;
}

/** RFC 5322 unfolding: the text without its folding points. */
function unfold(header: string): string {
  return header.replace(/\r\n(?=[ \t])/g, '');
}

/** Every header we produce must be one well-formed field. */
function assertWellFormed(header: string): void {
  assert.ok(header.startsWith(`Authentication-Results: ${HOST};\r\n`), header);
  assert.ok(header.endsWith('\r\n'));
  assert.ok(!/\r(?!\n)|(?<!\r)\n/.test(header), 'bare CR or LF');
  const body = header.slice(0, -2).split('\r\n');
  for (const l of body.slice(1)) {
    assert.match(l, /^ \S/, `continuation line must start with one space: ${JSON.stringify(l)}`);
    assert.ok(l.length <= 78 || !l.trim().includes(' '), `line longer than 78: ${JSON.stringify(l)}`);
  }
}

// --- SPF ---------------------------------------------------------------------

test('SPF pass: the client is in the MAIL FROM domain ip4 range', async () => {
  const r = await check({ raw: message('alice@pass.example.com'), mailFrom: 'alice@pass.example.com' });
  assert.equal(r.spf, 'pass');
  assert.equal(
    r.header,
    lines(
      `Authentication-Results: ${HOST};`,
      ' spf=pass (mx.postino.test: domain of alice@pass.example.com designates',
      ' 192.0.2.10 as permitted sender) smtp.mailfrom=alice@pass.example.com',
      ' smtp.helo=mail.client.example;',
      ' dkim=none;',
      ' dmarc=none header.from=pass.example.com',
    ),
  );
  assertWellFormed(r.header);
});

test('SPF fail: -all and the client is not listed', async () => {
  const r = await check({ raw: message('alice@fail.example.com'), mailFrom: 'alice@fail.example.com' });
  assert.equal(r.spf, 'fail');
  assert.equal(
    r.header,
    lines(
      `Authentication-Results: ${HOST};`,
      ' spf=fail (mx.postino.test: domain of alice@fail.example.com does not',
      ' designate 192.0.2.10 as permitted sender)',
      ' smtp.mailfrom=alice@fail.example.com smtp.helo=mail.client.example;',
      ' dkim=none;',
      ' dmarc=none header.from=fail.example.com',
    ),
  );
  assertWellFormed(r.header);
});

test('SPF softfail: ~all', async () => {
  const r = await check({ raw: message('alice@softfail.example.com'), mailFrom: 'alice@softfail.example.com' });
  assert.equal(r.spf, 'softfail');
  assert.equal(
    r.header.split(';\r\n')[1],
    ' spf=softfail (mx.postino.test: domain of transitioning\r\n' +
      ' alice@softfail.example.com does not designate 192.0.2.10 as permitted sender)\r\n' +
      ' smtp.mailfrom=alice@softfail.example.com smtp.helo=mail.client.example',
  );
  assertWellFormed(r.header);
});

test('SPF neutral: ?all', async () => {
  const r = await check({ raw: message('alice@neutral.example.com'), mailFrom: 'alice@neutral.example.com' });
  assert.equal(r.spf, 'neutral');
  assert.equal(
    r.header.split(';\r\n')[1],
    ' spf=neutral (mx.postino.test: 192.0.2.10 is neither permitted nor denied by\r\n' +
      ' domain of alice@neutral.example.com) smtp.mailfrom=alice@neutral.example.com\r\n' +
      ' smtp.helo=mail.client.example',
  );
  assertWellFormed(r.header);
});

test('SPF none: no SPF record, or no such domain', async () => {
  const r = await check({ raw: message('alice@nospf.example.com'), mailFrom: 'alice@nospf.example.com' });
  assert.equal(r.spf, 'none');
  assert.equal(
    r.header.split(';\r\n')[1],
    ' spf=none (mx.postino.test: nospf.example.com does not designate permitted\r\n' +
      ' sender hosts) smtp.mailfrom=alice@nospf.example.com\r\n' +
      ' smtp.helo=mail.client.example',
  );
  const nx = await check({ raw: message('alice@nowhere.example.com'), mailFrom: 'alice@nowhere.example.com' });
  assert.equal(nx.spf, 'none');
  assertWellFormed(r.header);
});

test('SPF permerror: an unknown mechanism, or two SPF records', async () => {
  const r = await check({ raw: message('alice@permerror.example.com'), mailFrom: 'alice@permerror.example.com' });
  assert.equal(r.spf, 'permerror');
  assert.equal(
    r.header.split(';\r\n')[1],
    ' spf=permerror (mx.postino.test: permanent error in processing during lookup\r\n' +
      ' of alice@permerror.example.com: Unknown mechanism frobnicate)\r\n' +
      ' smtp.mailfrom=alice@permerror.example.com smtp.helo=mail.client.example',
  );
  const two = await check({ raw: message('alice@twospf.example.com'), mailFrom: 'alice@twospf.example.com' });
  assert.equal(two.spf, 'permerror');
  assert.match(two.header, /multiple SPF records found/);
  assertWellFormed(r.header);
});

test('SPF temperror: the SPF lookup SERVFAILs', async () => {
  const r = await check({ raw: message('alice@temperror.example.com'), mailFrom: 'alice@temperror.example.com' });
  assert.equal(r.spf, 'temperror');
  assert.match(r.header, /^ spf=temperror \(mx\.postino\.test: error in processing during lookup of\r\n alice@temperror\.example\.com: queryTxt ESERVFAIL temperror\.example\.com\)\r\n smtp\.mailfrom=alice@temperror\.example\.com/m);
  assertWellFormed(r.header);
});

test('SPF temperror: a DNS server that never answers, within the time bound', async () => {
  const t0 = Date.now();
  const r = await check({ raw: message('alice@slow.example.com'), mailFrom: 'alice@slow.example.com', timeoutMs: 1500 });
  const took = Date.now() - t0;
  assert.equal(r.spf, 'temperror');
  assert.ok(took < 2500, `took ${took} ms`);
  assertWellFormed(r.header);
});

test('SPF follows mx, a (through a CNAME) and include mechanisms', async () => {
  // 192.0.2.10 passes through include:pass.example.com
  const viaInclude = await check({ raw: message('alice@mxrule.example.com'), mailFrom: 'alice@mxrule.example.com' });
  assert.equal(viaInclude.spf, 'pass');
  // 203.0.113.5 is the domain's MX host
  const viaMx = await check({ raw: message('alice@mxrule.example.com'), mailFrom: 'alice@mxrule.example.com', ip: '203.0.113.5' });
  assert.equal(viaMx.spf, 'pass');
  const other = await check({ raw: message('alice@mxrule.example.com'), mailFrom: 'alice@mxrule.example.com', ip: '203.0.113.6' });
  assert.equal(other.spf, 'fail');
  // An IPv4-mapped IPv6 client address (what node reports on dual-stack sockets) is the IPv4 address.
  const mapped = await check({ raw: message('alice@pass.example.com'), mailFrom: 'alice@pass.example.com', ip: '::ffff:192.0.2.10' });
  assert.equal(mapped.spf, 'pass');
});

test('null sender: SPF checks the HELO identity (RFC 7208 2.4)', async () => {
  const r = await check({ raw: message('mailer-daemon@helo.example.com'), mailFrom: '', helo: 'mail.helo.example.com' });
  assert.equal(r.spf, 'pass');
  assert.equal(
    r.header.split(';\r\n')[1],
    ' spf=pass (mx.postino.test: domain of postmaster@mail.helo.example.com\r\n' +
      ' designates 192.0.2.10 as permitted sender) smtp.helo=mail.helo.example.com',
  );
  assert.doesNotMatch(r.header, /smtp\.mailfrom/);
  const bad = await check({ raw: message('mailer-daemon@helo.example.com'), mailFrom: '', helo: 'bad.helo.example.com' });
  assert.equal(bad.spf, 'fail');
  // An address literal or a bare word as HELO has no SPF policy.
  const literal = await check({ raw: message('mailer-daemon@helo.example.com'), mailFrom: '', helo: '[192.0.2.10]' });
  assert.equal(literal.spf, 'none');
  const bare = await check({ raw: message('mailer-daemon@helo.example.com'), mailFrom: '', helo: 'localhost' });
  assert.equal(bare.spf, 'none');
  assertWellFormed(literal.header);
});

// --- DKIM --------------------------------------------------------------------

test('DKIM pass (RSA 2048): aligned signature makes DMARC pass though SPF is not aligned', async () => {
  const { signed, b8 } = await sign(message('alice@signed.example.org'));
  const r = await check({ raw: signed, mailFrom: 'bounces@pass.example.com' });
  assert.equal(r.spf, 'pass');
  assert.deepEqual(r.dkim, [{ result: 'pass', domain: 'signed.example.org', selector: 'sel1', aligned: true }]);
  assert.deepEqual(r.dmarc, { result: 'pass', policy: 'reject', domain: 'signed.example.org' });
  // Where the dkim line folds depends on header.b (quoted when it has / + =): compare unfolded.
  assert.equal(
    unfold(r.header),
    'Authentication-Results: mx.postino.test;' +
      ' spf=pass (mx.postino.test: domain of bounces@pass.example.com designates 192.0.2.10 as permitted sender)' +
      ' smtp.mailfrom=bounces@pass.example.com smtp.helo=mail.client.example;' +
      ` dkim=pass header.d=signed.example.org header.s=sel1 header.a=rsa-sha256 header.b=${quoteB(b8)};` +
      ' dmarc=pass (p=REJECT) header.from=signed.example.org\r\n',
  );
  assertWellFormed(r.header);
});

test('DKIM pass with an Ed25519 key', async () => {
  const { signed } = await sign(message('alice@signed.example.org'), 'ed1', edKey, 'ed25519-sha256');
  const r = await check({ raw: signed, mailFrom: 'alice@signed.example.org' });
  assert.deepEqual(r.dkim, [{ result: 'pass', domain: 'signed.example.org', selector: 'ed1', aligned: true }]);
  assert.match(r.header, /^ dkim=pass header\.d=signed\.example\.org header\.s=ed1 header\.a=ed25519-sha256/m);
  assert.equal(r.dmarc.result, 'pass');
});

test('DKIM fail: the body was altered after signing; DMARC fails with p=reject', async () => {
  const { signed, b8 } = await sign(message('alice@signed.example.org'));
  const altered = Buffer.from(signed.toString('latin1').replace('see you at noon.', 'see you at one.'), 'latin1');
  const r = await check({ raw: altered, mailFrom: 'bounces@pass.example.com' });
  assert.equal(r.spf, 'pass');
  assert.deepEqual(r.dkim, [{ result: 'fail', domain: 'signed.example.org', selector: 'sel1', aligned: true }]);
  assert.deepEqual(r.dmarc, { result: 'fail', policy: 'reject', domain: 'signed.example.org' });
  assert.equal(
    unfold(r.header),
    'Authentication-Results: mx.postino.test;' +
      ' spf=pass (mx.postino.test: domain of bounces@pass.example.com designates 192.0.2.10 as permitted sender)' +
      ' smtp.mailfrom=bounces@pass.example.com smtp.helo=mail.client.example;' +
      ` dkim=fail (body hash did not verify) header.d=signed.example.org header.s=sel1 header.a=rsa-sha256 header.b=${quoteB(b8)};` +
      ' dmarc=fail (p=REJECT) header.from=signed.example.org\r\n',
  );
  assertWellFormed(r.header);
});

test('DKIM fail: a signed header was altered (bad signature)', async () => {
  const { signed } = await sign(message('alice@signed.example.org'));
  const altered = Buffer.from(signed.toString('latin1').replace('Subject: lunch', 'Subject: dinner'), 'latin1');
  const r = await check({ raw: altered, mailFrom: 'bounces@pass.example.com' });
  assert.equal(r.dkim[0]?.result, 'fail');
  assert.match(r.header, /^ dkim=fail \(bad signature\) header\.d=signed\.example\.org/m);
  assert.equal(r.dmarc.result, 'fail');
});

test('DKIM with no published key is neutral and does not help DMARC', async () => {
  const { signed } = await sign(message('alice@signed.example.org'), 'missing');
  const r = await check({ raw: signed, mailFrom: 'bounces@pass.example.com' });
  assert.deepEqual(r.dkim, [{ result: 'neutral', domain: 'signed.example.org', selector: 'missing', aligned: true }]);
  assert.match(r.header, /^ dkim=neutral \(no key\) header\.d=signed\.example\.org header\.s=missing/m);
  assert.equal(r.dmarc.result, 'fail');
});

// --- DMARC -------------------------------------------------------------------

test('DMARC pass through aligned SPF, no signature', async () => {
  const r = await check({ raw: message('alice@reject.example.net'), mailFrom: 'bounce@reject.example.net' });
  assert.equal(r.spf, 'pass');
  assert.deepEqual(r.dkim, [{ result: 'none', domain: '', selector: '' }]);
  assert.deepEqual(r.dmarc, { result: 'pass', policy: 'reject', domain: 'reject.example.net' });
  assert.match(r.header, /;\r\n dkim=none;\r\n dmarc=pass \(p=REJECT\) header\.from=reject\.example\.net\r\n$/);
  assertWellFormed(r.header);
});

test('DMARC fail with p=reject: SPF passes for another domain, nothing aligned', async () => {
  const r = await check({ raw: message('ceo@reject.example.net'), mailFrom: 'spoofer@pass.example.com' });
  assert.equal(r.spf, 'pass');
  assert.deepEqual(r.dmarc, { result: 'fail', policy: 'reject', domain: 'reject.example.net' });
  assert.equal(
    r.header,
    lines(
      `Authentication-Results: ${HOST};`,
      ' spf=pass (mx.postino.test: domain of spoofer@pass.example.com designates',
      ' 192.0.2.10 as permitted sender) smtp.mailfrom=spoofer@pass.example.com',
      ' smtp.helo=mail.client.example;',
      ' dkim=none;',
      ' dmarc=fail (p=REJECT) header.from=reject.example.net',
    ),
  );
});

test('DMARC fail with p=quarantine', async () => {
  const r = await check({ raw: message('ceo@quarantine.example.net'), mailFrom: 'spoofer@fail.example.com' });
  assert.equal(r.spf, 'fail');
  assert.deepEqual(r.dmarc, { result: 'fail', policy: 'quarantine', domain: 'quarantine.example.net' });
  assert.match(r.header, /\r\n dmarc=fail \(p=QUARANTINE\) header\.from=quarantine\.example\.net\r\n$/);
});

test('DMARC fail with p=none reports policy none', async () => {
  const r = await check({ raw: message('ceo@monitor.example.net'), mailFrom: 'spoofer@pass.example.com' });
  assert.deepEqual(r.dmarc, { result: 'fail', policy: 'none', domain: 'monitor.example.net' });
  assert.match(r.header, /\r\n dmarc=fail \(p=NONE\) header\.from=monitor\.example\.net\r\n$/);
});

test('DMARC on a subdomain uses the organizational record and its sp=', async () => {
  const r = await check({ raw: message('news@news.example.org'), mailFrom: 'spoofer@pass.example.com' });
  assert.deepEqual(r.dmarc, { result: 'fail', policy: 'reject', domain: 'news.example.org' });
  assert.match(r.header, /\r\n dmarc=fail \(p=NONE sp=REJECT\) header\.from=news\.example\.org\r\n$/);
});

test('DMARC none: the From domain publishes no policy', async () => {
  const r = await check({ raw: message('alice@nospf.example.com'), mailFrom: 'alice@pass.example.com' });
  assert.deepEqual(r.dmarc, { result: 'none', policy: null, domain: 'nospf.example.com' });
  assert.match(r.header, /\r\n dmarc=none header\.from=nospf\.example\.com\r\n$/);
});

test('DMARC temperror: the policy lookup SERVFAILs', async () => {
  const r = await check({ raw: message('alice@dnsfail.example.net'), mailFrom: 'alice@dnsfail.example.net' });
  assert.equal(r.spf, 'pass');
  assert.deepEqual(r.dmarc, { result: 'temperror', policy: null, domain: 'dnsfail.example.net' });
  assert.match(r.header, /\r\n dmarc=temperror header\.from=dnsfail\.example\.net\r\n$/);
});

test('DMARC permerror: no From, or more than one From address', async () => {
  const noFrom = Buffer.from('To: bob@postino.test\r\nSubject: x\r\n\r\nbody\r\n');
  const a = await check({ raw: noFrom, mailFrom: 'alice@pass.example.com' });
  assert.deepEqual(a.dmarc, { result: 'permerror', policy: null, domain: null });
  assert.match(a.header, /\r\n dmarc=permerror \(no From address\)\r\n$/);
  const two = Buffer.from('From: a@reject.example.net, b@pass.example.com\r\nTo: bob@postino.test\r\nSubject: x\r\n\r\nbody\r\n');
  const b = await check({ raw: two, mailFrom: 'alice@pass.example.com' });
  assert.deepEqual(b.dmarc, { result: 'permerror', policy: null, domain: null });
  assert.match(b.header, /\r\n dmarc=permerror \(more than one From address\)\r\n$/);
});

// --- ARC ---------------------------------------------------------------------

async function arcSealed(raw: Buffer): Promise<Buffer> {
  const seal = await sealMessage(raw, {
    signingDomain: 'forwarder.example.org',
    selector: 'arc1',
    privateKey: rsaKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    // What the list claims it saw; a claim, verified by nobody.
    authResults: 'forwarder.example.org; spf=pass smtp.mailfrom=alice@reject.example.net; dmarc=pass header.from=reject.example.net',
    cv: 'none',
  } as Parameters<typeof sealMessage>[1] & { authResults: string; cv: string });
  return Buffer.concat([seal, raw]);
}

test('ARC pass: a valid chain is reported, the sealer claims are not repeated, DMARC still fails', async () => {
  const sealed = await arcSealed(message('alice@reject.example.net'));
  const r = await check({ raw: sealed, mailFrom: 'list-bounces@pass.example.com' });
  assert.deepEqual(r.arc, { result: 'pass', instance: 1 });
  assert.match(r.header, /;\r\n arc=pass \(i=1 sealed by forwarder\.example\.org\);\r\n dmarc=fail \(p=REJECT arc=pass\) header\.from=reject\.example\.net\r\n$/);
  assert.doesNotMatch(r.header, /dmarc=pass/);
  assert.deepEqual(r.dmarc, { result: 'fail', policy: 'reject', domain: 'reject.example.net' });
  assertWellFormed(r.header);
});

test('ARC fail: the message changed after the seal; no arc entry without a chain', async () => {
  const sealed = await arcSealed(message('alice@reject.example.net'));
  const altered = Buffer.from(sealed.toString('latin1').replace('see you at noon.', 'see you never.'), 'latin1');
  const r = await check({ raw: altered, mailFrom: 'list-bounces@pass.example.com' });
  assert.deepEqual(r.arc, { result: 'fail', instance: 1 });
  assert.match(r.header, /;\r\n arc=fail \(i=1 no valid signature\);\r\n/);
  const plain = await check({ raw: message('alice@pass.example.com'), mailFrom: 'alice@pass.example.com' });
  assert.equal(plain.arc, undefined);
  assert.doesNotMatch(plain.header, /^ arc=/m);
});

// --- verdict cache -----------------------------------------------------------

test('verdict cache: the same sender again gets the same header without SPF or DMARC lookups', async () => {
  const cache = new VerdictCache();
  // A resolver with no cache of its own, so every lookup mailauth makes reaches the fixture.
  const uncached = createDnsResolver(dns.servers, { timeoutMs: 2000, cacheTtlMs: 0 });
  const raw = message('alice@reject.example.net');
  const first = await check({ raw, mailFrom: 'bounce@reject.example.net', resolver: uncached, cache });
  assert.equal(first.spf, 'pass');
  assert.equal(first.dmarc.result, 'pass');
  const before = dns.queries.length;
  const again = await check({ raw, mailFrom: 'bounce@reject.example.net', resolver: uncached, cache });
  assert.equal(again.header, first.header);
  assert.deepEqual(again.dmarc, first.dmarc);
  assert.equal(dns.queries.length, before, 'no DNS query for a verdict in the cache');
  // Another client address is another SPF question.
  const other = await check({ raw, mailFrom: 'bounce@reject.example.net', resolver: uncached, cache, ip: '198.51.100.7' });
  assert.notEqual(other.spf, 'pass');
  assert.ok(dns.queries.length > before);
});

test('verdict cache: a temporary error is never remembered', async () => {
  const cache = new VerdictCache();
  const raw = message('alice@temperror.example.com');
  await check({ raw, mailFrom: 'alice@temperror.example.com', cache });
  dns.set('temperror.example.com', { TXT: ['v=spf1 ip4:192.0.2.10 -all'] });
  try {
    const r = await check({ raw, mailFrom: 'alice@temperror.example.com', cache, resolver: createDnsResolver(dns.servers, { cacheTtlMs: 0 }) });
    assert.equal(r.spf, 'pass');
  } finally {
    dns.set('temperror.example.com', loadZone('sender-auth')['temperror.example.com'] ?? {});
  }
});

test('an unsigned message is verified from its header alone, with the same outcome; a signed one whole', async () => {
  const raw = message('alice@reject.example.net', 'x'.repeat(100_000) + '\r\n');
  const r = await check({ raw, mailFrom: 'bounce@reject.example.net' });
  assert.deepEqual(r.dkim, [{ result: 'none', domain: '', selector: '' }]);
  assert.equal(r.dmarc.result, 'pass');
  const { signed } = await sign(message('alice@signed.example.org'));
  // The field name in any case still marks the message as signed: its body is hashed, and matches.
  const lower = Buffer.from(signed.toString('latin1').replace(/^DKIM-Signature/, 'dkim-signature'), 'latin1');
  const verified = await check({ raw: lower, mailFrom: 'bounces@pass.example.com' });
  assert.equal(verified.dkim[0]?.result, 'pass');
});

test('an unsigned header: verifyUnsigned gives what dkimVerify over the stream gives, odd headers included', async () => {
  const headers = [
    'From: Alice <alice@a.example>\r\nTo: b@b.example\r\nSubject: hi',
    'From: Alice <alice@a.example>\nTo: b@b.example\nSubject: bare LF\n',
    'From: "Folded, Name"\r\n <alice@a.example>,\n\tbob@b.example\r\nTo: x@y',
    'From: one@a.example\r\nFrom: two@b.example',
    ' From: first-line@continuation.example\r\nTo: x@y',
    'From\r\nTo: x@y',
    'From : spaced@a.example\r\nFROM:\tupper@a.example',
    'From: a@b.example\r\n\x0bc@d.example\r\nX: \xa0y',
    'From: =?utf-8?q?J=C3=B6rg?= <jorg@a.example>\r\nReturn-Path: <rp@a.example>',
    'ARC-Authentication-Results: i=1; mx.example; spf=pass\r\nFrom: a@b.example',
    'Subject: no from at all',
    '\n',
    '',
    'From: <>',
  ];
  for (const text of headers) {
    const header = Buffer.from(text, 'latin1');
    for (const sender of [undefined, 'bounce@a.example']) {
      const options = { resolver, minBitLength: 1024, ...(sender ? { sender } : {}) };
      const viaStream = await dkimVerify(Readable.from([header].filter((b) => b.length > 0)), options);
      const direct = await verifyUnsigned(header, options);
      assert.deepEqual(direct, viaStream, JSON.stringify(text));
      assert.deepEqual((direct as { arc?: unknown }).arc, (viaStream as { arc?: unknown }).arc, JSON.stringify(text));
    }
  }
});

test('removeOwnAuthResults drops forged fields with our authserv-id and keeps the rest', () => {
  const raw = Buffer.from(
    'Authentication-Results: MX.postino.test.; dkim=pass\r\n' +
      'Received: from a by b\r\n' +
      'Authentication-Results: (comment) mx.postino.test;\r\n dmarc=pass header.from=bank.example\r\n' +
      'Authentication-Results: "mx.postino.test"; spf=pass\r\n' +
      'Authentication-Results: relay.example.net; spf=pass smtp.mailfrom=a@b.example\r\n' +
      'Authentication-Results: mx.postino.test.evil.example; dkim=pass\r\n' +
      'Subject: x\r\n' +
      '\r\n' +
      'Authentication-Results: mx.postino.test; in the body, untouched\r\n',
  );
  assert.equal(
    removeOwnAuthResults(raw, 'mx.postino.test').toString(),
    'Received: from a by b\r\n' +
      'Authentication-Results: relay.example.net; spf=pass smtp.mailfrom=a@b.example\r\n' +
      'Authentication-Results: mx.postino.test.evil.example; dkim=pass\r\n' +
      'Subject: x\r\n' +
      '\r\n' +
      'Authentication-Results: mx.postino.test; in the body, untouched\r\n',
  );
  const clean = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  assert.equal(removeOwnAuthResults(clean, 'mx.postino.test'), clean);
});

// --- robustness ----------------------------------------------------------------

test('hostile HELO and MAIL FROM cannot break the header field', async () => {
  const r = await check({
    raw: message('alice@pass.example.com'),
    mailFrom: 'x";dkim=pass (@pass.example.com',
    helo: 'evil\r\nX-Injected: yes',
  });
  assertWellFormed(r.header);
  assert.doesNotMatch(r.header, /\r\nX-Injected/);
  assert.match(unfold(r.header), / smtp\.mailfrom="x\\";dkim=pass \(@pass\.example\.com" smtp\.helo="evil X-Injected: yes"; dkim=none;/);
});

test('never throws: a resolver that fails in every way gives temperror', async () => {
  const broken: DnsResolver = (name) => {
    if (name.startsWith('_dmarc')) return Promise.reject(new Error('boom'));
    throw new Error('synchronous boom');
  };
  const r = await check({ raw: message('alice@pass.example.com'), mailFrom: 'alice@pass.example.com', resolver: broken });
  assert.equal(r.spf, 'temperror');
  assert.equal(r.dmarc.result, 'temperror');
  assertWellFormed(r.header);

  const never: DnsResolver = () => new Promise(() => {});
  const { signed } = await sign(message('alice@signed.example.org'));
  const t0 = Date.now();
  const s = await check({ raw: signed, mailFrom: 'alice@pass.example.com', resolver: never, timeoutMs: 300 });
  assert.ok(Date.now() - t0 < 1000);
  assert.equal(s.spf, 'temperror');
  assert.equal(s.dkim[0]?.result, 'temperror');
  assert.equal(s.dmarc.result, 'temperror');
  assertWellFormed(s.header);

  const garbage = await check({ raw: Buffer.from('\x00\x01 not a message'), mailFrom: 'alice@pass.example.com' });
  assertWellFormed(garbage.header);
  assert.equal(garbage.spf, 'pass');
});

// --- hostile header sections ----------------------------------------------------

const MB = 1 << 20;

/** The message with `extra` header text, for the hostile cases below. */
function withHeader(extra: string): Buffer {
  return Buffer.from(`From: Alice <alice@pass.example.com>\r\nTo: bob@postino.test\r\nSubject: x\r\n${extra}\r\nbody\r\n`, 'latin1');
}

/** Longest time the event loop went without a turn while `work` ran. */
async function longestStall(work: () => Promise<unknown> | unknown): Promise<{ stall: number; took: number }> {
  let last = performance.now();
  let stall = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stall = Math.max(stall, now - last);
    last = now;
  }, 1);
  const t = performance.now();
  await work();
  const took = performance.now() - t;
  await new Promise((r) => setTimeout(r, 5));
  clearInterval(timer);
  stall = Math.max(stall, performance.now() - last);
  return { stall, took };
}

test('removeOwnAuthResults is linear: a megabyte of bare CRs, long runs ended by one, or folds', () => {
  const shapes = {
    'runs ended by a bare CR': `Authentication-Results: ${HOST}; ${('x'.repeat(100_000) + '\r').repeat(10)}\r\n`,
    'a run of bare CRs': `X-Crs: a${'\r'.repeat(MB)}x\r\n`,
    'CR-only lines': `X-Crs: a${'\r\r\n'.repeat(MB / 3)}x\r\n`,
    'folds': `X-Folds: a${'\r\n x'.repeat(MB / 4)}\r\n`,
    'unclosed comments': `Authentication-Results: ${'(\\'.repeat(MB / 2)}\r\n`,
  };
  for (const [label, extra] of Object.entries(shapes)) {
    const raw = withHeader(extra);
    const t = performance.now();
    const out = removeOwnAuthResults(raw, HOST);
    const took = performance.now() - t;
    assert.ok(took < 2000, `${label}: ${took.toFixed(0)} ms`);
    if (label.startsWith('runs')) assert.ok(!out.toString('latin1').includes('Authentication-Results'), 'the forged field is gone');
    else assert.equal(out, raw, `${label}: nothing to remove`);
  }
  // A bare CR is text inside a line: the field it is in is still one field.
  const raw = withHeader(`Authentication-Results: ${HOST}; dkim=pass\rX-Not-A-Field: y\r\nX-Kept: z\r\n`);
  assert.equal(removeOwnAuthResults(raw, HOST).toString('latin1'), withHeader('X-Kept: z\r\n').toString('latin1'));
});

test('checkSender on a hostile header: no long stall, DKIM not run on what mailauth parses in quadratic time', async () => {
  const shapes = {
    'a run of bare CRs': `X-Crs: a${'\r'.repeat(MB)}x\r\n`,
    'runs ended by a bare CR': `X-Hostile: ${('x'.repeat(100_000) + '\r').repeat(10)}\r\n`,
    'folds': `X-Folds: a${'\r\n x'.repeat(MB / 4)}\r\n`,
    'many fields': 'X-F: a\r\n'.repeat(MB / 8),
  };
  for (const [label, extra] of Object.entries(shapes)) {
    let r: SenderAuthResult | undefined;
    const { stall, took } = await longestStall(async () => {
      r = await check({ raw: withHeader(extra), mailFrom: 'alice@pass.example.com', ip: '192.0.2.10' });
    });
    assert.ok(took < 5000, `${label}: took ${took.toFixed(0)} ms`);
    assert.ok(stall < 1000, `${label}: the event loop stalled ${stall.toFixed(0)} ms`);
    assert.equal(r!.spf, 'pass');
    assert.equal(r!.dkim[0]!.result, 'none', label);
    // DMARC still has the From domain.
    assert.equal(r!.dmarc.domain, 'pass.example.com', label);
    assertWellFormed(r!.header);
  }
});

test('a signed message with a bare CR in its header: dkim=permerror, not a verification', async () => {
  const { signed } = await sign(message('alice@signed.example.org', undefined, 'X-Odd: a\rb\r\n'));
  const r = await check({ raw: signed, mailFrom: 'alice@signed.example.org' });
  assert.equal(r.dkim[0]!.result, 'permerror');
  assert.match(unfold(r.header), /dkim=permerror \(not verified: bare CR in the header section\)/);
  assert.equal(r.dmarc.domain, 'signed.example.org');
  assert.equal(r.dmarc.result, 'fail');
  assertWellFormed(r.header);
});

test('a large signed message is verified in slices: the event loop keeps turning', async () => {
  const body = ('z'.repeat(76) + '\r\n').repeat(8 * MB / 78);
  const { signed } = await sign(message('alice@signed.example.org', body));
  let r: SenderAuthResult | undefined;
  const { stall } = await longestStall(async () => {
    r = await check({ raw: signed, mailFrom: 'alice@signed.example.org' });
  });
  assert.equal(r!.dkim[0]!.result, 'pass');
  assert.ok(stall < 1000, `the event loop stalled ${stall.toFixed(0)} ms`);
});
