// Spam scoring in the SMTP dialogue against real `postino serve` children, with
// the builtin rules and with a real SpamAssassin spamd: GTUBE over the reject
// threshold is refused 550 5.7.1 and never stored; a ham fixture is delivered
// to the INBOX marked X-Spam-Status: No; a message just over the junk
// threshold lands in Junk through the shipped Junk script; a user's own
// script (spamtest, RFC 5235) decides first and can keep flagged mail out of
// Junk with fileinto "INBOX" (a plain keep cannot); X-Spam-* fields a sender wrote
// are replaced by ours; `postino scan` prints the rule hits.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sendTo } from '../support/clamd.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';
import { startSpamd, startSpamMx, type Spamd, type SpamMx } from '../support/spamd.js';
import { startRspamd, type Rspamd } from '../support/rspamd.js';
import { postino } from '../support/cli.js';
import { fixturesDir } from '../support/paths.js';

const fixture = (name: string) => readFileSync(path.join(fixturesDir, 'spam', name), 'latin1');
const gtube = () => fixture('gtube.eml');
/** The ham fixture dated now (a fixed date would age into DATE_IN_PAST). */
const ham = (subject = 'Lunch on Thursday') => fixture('ham.eml').replace(/^Date: [^\r]*/m, `Date: ${new Date().toUTCString()}`).replace(/^Subject: [^\r]*/m, `Subject: ${subject}`);
const junkish = (subject: string) => fixture('junkish.eml').replace(/^Subject: [^\r]*/m, `Subject: ${subject}`);

/** :create: fileinto a folder that does not exist yet would land in the INBOX (as in Pigeonhole). */
const SPAMMY_SCRIPT = `require ["spamtest", "relational", "comparator-i;ascii-numeric", "fileinto", "mailbox"];
if spamtest :value "ge" :comparator "i;ascii-numeric" "5" { fileinto :create "Spammy"; }
`;

describe('spam scoring with the builtin rules', { timeout: 120_000 }, () => {
  let dns: DnsFixture;
  let mx: SpamMx;

  before(async () => {
    dns = await startDnsFixture({});
    mx = await startSpamMx({ engine: 'builtin' }, dns.servers);
  });

  after(async () => {
    await mx?.stop();
    await dns?.close();
  });

  test('GTUBE: 550 5.7.1 at the end of DATA, nothing stored, one log line with the rule', async () => {
    const r = await sendTo(mx.smtp, gtube());
    assert.match(r.rcpt, /^250 /);
    assert.deepEqual(r.end, ['550 5.7.1 Message rejected as spam (score 1000.0)']);
    assert.deepEqual(mx.stored(), []);
    // The log line may follow the reply by a moment.
    const line = await mx.served.waitFor((e) => e.event === 'spam-rejected', 10_000);
    assert.deepEqual(line.tests, ['GTUBE']);
    assert.equal(line.score, 1000);
  });

  test('ham: delivered to the INBOX marked X-Spam-Status: No with score and required, no flag', async () => {
    const r = await sendTo(mx.smtp, ham('ham for builtin'));
    assert.match(r.end[0]!, /^250 /);
    const stored = mx.messages('INBOX').find((m) => m.includes('ham for builtin'));
    assert.ok(stored, 'in the INBOX');
    assert.match(stored, /^X-Spam-Score: 0\.0\r$/m);
    assert.match(stored, /^X-Spam-Status: No, score=0\.0 required=5\.0 tests=none\r$/m);
    assert.doesNotMatch(stored, /^X-Spam-Flag/m);
  });

  test('just over the junk threshold: flagged, and the shipped Junk script files it into Junk', async () => {
    const r = await sendTo(mx.smtp, junkish('junkish one'));
    assert.match(r.end[0]!, /^250 /);
    assert.equal(mx.messages('INBOX').filter((m) => m.includes('junkish one')).length, 0);
    const [stored] = mx.messages('Junk').filter((m) => m.includes('junkish one'));
    assert.ok(stored, 'in Junk');
    assert.match(stored, /^X-Spam-Status: Yes, score=5\.4 required=5\.0 tests=MISSING_DATE=1\.4,MISSING_MID=1,HTML_ONLY=1,HTML_HIDDEN_TEXT=2\r$/m);
    assert.match(stored, /^X-Spam-Flag: YES\r$/m);
  });

  test('LMTP scores too: GTUBE refused 550 5.7.1, ham delivered marked', async () => {
    assert.deepEqual((await sendTo(mx.lmtp, gtube(), true)).end, ['550 5.7.1 Message rejected as spam (score 1000.0)']);
    assert.match((await sendTo(mx.lmtp, ham('ham over lmtp'), true)).end[0]!, /^250 /);
    assert.match(mx.messages('INBOX').find((m) => m.includes('ham over lmtp')) ?? '', /^X-Spam-Status: No, score=0\.0 /m);
  });

  test('X-Spam-* fields the sender wrote are replaced by ours', async () => {
    const forged = ham('forged flags').replace(/^Subject:/m, 'X-Spam-Flag: YES\r\nX-Spam-Score: 99\r\nX-Spam-Status: Yes, score=99\r\nSubject:');
    assert.match((await sendTo(mx.smtp, forged)).end[0]!, /^250 /);
    const stored = mx.messages('INBOX').find((m) => m.includes('forged flags'));
    assert.ok(stored, 'in the INBOX, not Junk');
    assert.doesNotMatch(stored, /X-Spam-Flag|score=99|X-Spam-Score: 99/);
    assert.match(stored, /^X-Spam-Status: No, score=0\.0 /m);
  });

  test('a user script with spamtest :value "ge" "5" files the message itself (it runs before the Junk script)', async () => {
    const file = path.join(mx.dir, 'spammy.sieve');
    writeFileSync(file, SPAMMY_SCRIPT);
    mx.cli(['sieve', 'put', 'bob@example.test', 'spammy', file, '--activate']);
    assert.match((await sendTo(mx.smtp, junkish('junkish two'))).end[0]!, /^250 /);
    assert.equal(mx.messages('Spammy').filter((m) => m.includes('junkish two')).length, 1);
    assert.equal(mx.messages('Junk').filter((m) => m.includes('junkish two')).length, 0);
    // Ham (score 0, spamtest "1") stays where the script leaves it: the INBOX.
    assert.match((await sendTo(mx.smtp, ham('ham with a script'))).end[0]!, /^250 /);
    assert.equal(mx.messages('INBOX').filter((m) => m.includes('ham with a script')).length, 1);
  });

  test('override: a user script that files flagged mail into the INBOX keeps it out of Junk; an explicit keep does not (Pigeonhole\'s sequence)', async () => {
    const file = path.join(mx.dir, 'mine.sieve');
    writeFileSync(file, 'require "fileinto";\nif address :is "from" "boss@remote.test" { fileinto "INBOX"; }\nelse { keep; }\n');
    mx.cli(['sieve', 'put', 'bob@example.test', 'mine', file, '--activate']);
    const fromBoss = junkish('junkish from the boss').replace(/^From: [^\r]*/m, 'From: <boss@remote.test>');
    assert.match((await sendTo(mx.smtp, fromBoss)).end[0]!, /^250 /);
    assert.equal(mx.messages('INBOX').filter((m) => m.includes('junkish from the boss')).length, 1);
    assert.equal(mx.messages('Junk').filter((m) => m.includes('junkish from the boss')).length, 0);
    // keep only lets the next script run (the shipped Junk script, in the after slot): Junk, once.
    assert.match((await sendTo(mx.smtp, junkish('junkish kept'))).end[0]!, /^250 /);
    assert.equal(mx.messages('Junk').filter((m) => m.includes('junkish kept')).length, 1);
    assert.equal(mx.messages('INBOX').filter((m) => m.includes('junkish kept')).length, 0);
  });

  test('postino scan prints the rule hits for GTUBE and for ham', () => {
    const g = path.join(mx.dir, 'gtube.eml');
    writeFileSync(g, gtube());
    const text = postino(mx.dir, ['scan', g]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^builtin: score 1000 \/ 5 tests=GTUBE=1000 \[Postino builtin, \d+ ms\]/m);
    const h = path.join(mx.dir, 'ham.eml');
    writeFileSync(h, ham());
    const json = postino(mx.dir, ['scan', h, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const { results } = JSON.parse(json.stdout) as { results: Array<{ scanner: string; verdict: { kind: string; score: number; tests: unknown[] } }> };
    assert.equal(results.length, 1);
    assert.equal(results[0]!.scanner, 'builtin');
    assert.deepEqual([results[0]!.verdict.kind, results[0]!.verdict.score, results[0]!.verdict.tests], ['score', 0, []]);
    const j = path.join(mx.dir, 'junkish.eml');
    writeFileSync(j, junkish('x'));
    assert.match(postino(mx.dir, ['scan', j]).stdout, /tests=MISSING_DATE=1\.4,MISSING_MID=1,HTML_ONLY=1,HTML_HIDDEN_TEXT=2 /);
  });
});

describe('spam scoring with a real spamd (SpamAssassin)', { timeout: 180_000 }, () => {
  let dns: DnsFixture;
  let spamd: Spamd;
  let mx: SpamMx;

  before(async () => {
    dns = await startDnsFixture({});
    spamd = await startSpamd();
    mx = await startSpamMx({ engine: 'spamd', host: '127.0.0.1', port: spamd.port, timeoutMs: 30_000 }, dns.servers);
  });

  after(async () => {
    await mx?.stop();
    await spamd?.stop();
    await dns?.close();
  });

  test('GTUBE: 550 5.7.1, nothing stored', async () => {
    const r = await sendTo(mx.smtp, gtube());
    assert.match(r.end[0]!, /^550 5\.7\.1 Message rejected as spam \(score 1\d{3}\.\d\)$/);
    assert.deepEqual(mx.stored(), []);
    const line = await mx.served.waitFor((e) => e.event === 'spam-rejected', 10_000);
    assert.ok((line?.tests as string[]).includes('GTUBE'), JSON.stringify(line));
  });

  test('ham: delivered to the INBOX under the junk threshold, SpamAssassin\'s rules with their points in tests=', async () => {
    const r = await sendTo(mx.smtp, ham('ham for spamd'));
    assert.match(r.end[0]!, /^250 /);
    const stored = mx.messages('INBOX').find((m) => m.includes('ham for spamd'));
    assert.ok(stored, 'in the INBOX');
    const m = /^X-Spam-Status: No, score=(-?\d+\.\d) required=5\.0 tests=((?:[A-Z0-9_]+=-?\d+(?:\.\d+)?,?)+|none)\r$/m.exec(stored);
    assert.ok(m, stored);
    assert.ok(Number(m[1]) < 5);
  });

  test('postino scan prints spamd\'s rule hits for GTUBE and for ham', () => {
    const g = path.join(mx.dir, 'gtube.eml');
    writeFileSync(g, gtube());
    const text = postino(mx.dir, ['scan', g]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^spamd: score 1\d{3}(\.\d+)? \/ 5 tests=(.*,)?GTUBE=1000(,.*)? \[SpamAssassin, \d+ ms\]/m);
    const h = path.join(mx.dir, 'ham.eml');
    writeFileSync(h, ham());
    const hs = postino(mx.dir, ['scan', h]);
    assert.equal(hs.code, 0, hs.stderr);
    assert.match(hs.stdout, /^spamd: score -?\d+(\.\d+)? \/ 5/m);
  });

  test('spamd stopped: 451 4.7.1 and nothing stored', async () => {
    await spamd.stop();
    const before = mx.stored().length;
    const r = await sendTo(mx.smtp, ham('while spamd is down'));
    assert.match(r.end[0]!, /^451 4\.7\.1 Spam check unavailable \(spamd ECONNREFUSED\)/);
    assert.equal(mx.stored().length, before);
  });
});

describe('spam scoring with a real rspamd, its action honoured', { timeout: 300_000 }, () => {
  let dns: DnsFixture;
  let rspamd: Rspamd;
  let mx: SpamMx;

  before(async () => {
    dns = await startDnsFixture({});
    // The junkish fixture scores about 1 with rspamd's rules: over this greylist threshold.
    rspamd = await startRspamd({ actions: { reject: 15, add_header: 6, greylist: 0.9 } });
    mx = await startSpamMx({ engine: 'rspamd', host: '127.0.0.1', port: rspamd.port, timeoutMs: 30_000 }, dns.servers);
  });

  after(async () => {
    await mx?.stop();
    await rspamd?.stop();
    await dns?.close();
  });

  test('GTUBE: rspamd says reject: 550 5.7.1, nothing stored', async () => {
    const r = await sendTo(mx.smtp, gtube());
    assert.match(r.end[0]!, /^550 5\.7\.1 Message rejected as spam \(score \d+\.\d\)$/);
    assert.deepEqual(mx.stored(), []);
    const line = await mx.served.waitFor((e) => e.event === 'spam-rejected', 10_000);
    assert.ok((line.tests as string[]).includes('GTUBE'), JSON.stringify(line));
  });

  test('ham: no action, delivered to the INBOX under the junk threshold with rspamd\'s symbols', async () => {
    const r = await sendTo(mx.smtp, ham('ham for rspamd'));
    assert.match(r.end[0]!, /^250 /);
    const stored = mx.messages('INBOX').find((m) => m.includes('ham for rspamd'));
    assert.ok(stored, 'in the INBOX');
    const m = /^X-Spam-Status: No, score=(-?\d+\.\d) required=5\.0 tests=((?:[A-Z0-9_]+=-?\d+(?:\.\d+)?,?)+)\r$/m.exec(stored);
    assert.ok(m, stored);
    assert.ok(Number(m[1]) < 5);
  });

  test('rspamd says greylist: 451 4.7.1, nothing stored', async () => {
    const before = mx.stored().length;
    const r = await sendTo(mx.smtp, junkish('greylisted'));
    assert.match(r.end[0]!, /^451 4\.7\.1 Spam check unavailable \(greylist\)/);
    assert.equal(mx.stored().length, before);
  });

  test('postino scan prints rspamd\'s symbols for GTUBE and for ham', () => {
    const g = path.join(mx.dir, 'gtube.eml');
    writeFileSync(g, gtube());
    const text = postino(mx.dir, ['scan', g]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^rspamd: score \d+(\.\d+)? \/ 15 tests=.*GTUBE=0.* \[rspamd, \d+ ms\]/m);
    const h = path.join(mx.dir, 'ham.eml');
    writeFileSync(h, ham());
    assert.match(postino(mx.dir, ['scan', h]).stdout, /^rspamd: score -?\d+(\.\d+)? \/ 15 tests=/m);
  });
});

describe('the builtin rules read the sender checks the MX already ran', { timeout: 60_000 }, () => {
  let dns: DnsFixture;
  let mx: SpamMx;

  before(async () => {
    // remote.test allows no client (-all) and publishes DMARC p=none: SPF and DMARC fail, nothing refused on that alone.
    dns = await startDnsFixture({ 'remote.test': { TXT: ['v=spf1 -all'] }, '_dmarc.remote.test': { TXT: ['v=DMARC1; p=none'] } });
    mx = await startSpamMx({ engine: 'builtin' }, dns.servers);
  });

  after(async () => {
    await mx?.stop();
    await dns?.close();
  });

  test('SPF and DMARC failing: SPF_FAIL and DMARC_FAIL in tests=, over the junk threshold, filed into Junk', async () => {
    assert.match((await sendTo(mx.smtp, ham('spf fails'))).end[0]!, /^250 /);
    const [stored] = mx.messages('Junk').filter((m) => m.includes('spf fails'));
    assert.ok(stored, 'in Junk');
    assert.match(stored, /^Authentication-Results: mx\.example\.test;\r\n spf=fail /m);
    assert.match(stored, /^X-Spam-Status: Yes, score=6\.0 required=5\.0 tests=SPF_FAIL=2\.5,DMARC_FAIL=3\.5\r$/m);
  });
});
