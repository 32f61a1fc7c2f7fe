// SRS on a real `postino serve`: the secret is made at the first start and
// kept across restarts; a bounce (null sender) to a valid SRS address on the
// MX port is accepted and queued to the original sender (`postino queue
// list --json`); forged, expired and malformed SRS addresses, and mail to a
// valid one from a non-null sender, are refused at RCPT.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadOrCreateSrsSecret, SrsCodec, srsSecretPath } from '../../src/outbound/srs.js';
import { SERVICES } from '../../src/config.js';
import { postino } from '../support/cli.js';
import { startServe, type Served } from '../support/serve.js';
import { openDialog } from '../support/smtp-dialog.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';
import { cliPath } from '../support/paths.js';
import { scratchDir } from '../support/tmp.js';

const DAY = 86_400_000;
const s = scratchDir();
let dns: DnsFixture;
let served: Served | undefined;
let smtpPort = 0;

async function serve(): Promise<void> {
  const env = Object.fromEntries(SERVICES.map((x) => [`POSTINO_${x.toUpperCase()}_PORT`, '0']));
  served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], env);
  smtpPort = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'smtp')).port);
  await served.waitFor((e) => e.event === 'ready');
}

interface QueueRow {
  id: string;
  sender: string;
  recipients: string[];
  reason: string;
}
const queue = (): QueueRow[] => {
  const r = postino(s.dir, ['queue', 'list', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as QueueRow[];
};

/** One SMTP transaction on the MX port: the RCPT reply, and the DATA reply when RCPT was accepted. */
async function send(from: string, to: string, subject: string): Promise<{ rcpt: string; data?: string }> {
  const d = await openDialog(smtpPort);
  try {
    assert.match(await d.send('EHLO bounce.remote.test'), /^250/);
    assert.match(await d.send(`MAIL FROM:<${from}>`), /^250/);
    const rcpt = await d.send(`RCPT TO:<${to}>`);
    if (!rcpt.startsWith('250')) return { rcpt };
    assert.match(await d.send('DATA'), /^354/);
    const body = [
      'From: Mail Delivery System <MAILER-DAEMON@remote.test>',
      `To: ${to}`,
      `Subject: ${subject}`,
      'Message-ID: <bounce-' + subject.replace(/\W/g, '') + '@remote.test>',
      '',
      'This message was undeliverable.',
      '',
    ].join('\r\n');
    const [data] = await d.data(body);
    await d.send('QUIT');
    return { rcpt, data: data! };
  } finally {
    d.close();
  }
}

before(async () => {
  dns = await startDnsFixture({ 'remote.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] } });
  // The bounces checked here wait in the outbound queue: nothing listens at the smarthost's port.
  const relay = { smarthost: { host: '127.0.0.1', port: 1, tls: 'opportunistic' } };
  writeFileSync(path.join(s.dir, 'postino.json'), JSON.stringify({ hostname: 'mx.example.test', dns: { servers: dns.servers }, relay }));
  const r = postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', 'alice@example.test', '--password-stdin'], 'tangerine-otter-42\n');
  assert.equal(r.code, 0, r.stderr);
  await serve();
});

after(async () => {
  await served?.stop();
  await dns.close();
  s.cleanup();
});

test('a bounce to a valid SRS address is accepted on the MX port and queued to the original sender; the rest are refused', async () => {
  // Made by the first start, readable by its owner only.
  assert.equal(statSync(srsSecretPath(s.dir)).mode & 0o777, 0o600);
  const codec = new SrsCodec(loadOrCreateSrsSecret(s.dir));
  const srs = codec.encode('Carol@remote.test', 'example.test')!;

  const accepted = await send('', srs, 'bounce one');
  assert.match(accepted.rcpt, /^250/);
  assert.match(accepted.data!, /^250 2\.0\.0 /);
  const entries = queue().filter((e) => e.recipients.includes('Carol@remote.test'));
  assert.equal(entries.length, 1, JSON.stringify(queue()));
  assert.equal(entries[0]!.sender, '', 'a bounce stays a bounce');

  // The case of an address may change on the way back.
  assert.match((await send('', srs.toLowerCase(), 'bounce two')).data!, /^250/);

  const forged = await send('', srs.replace('=Carol@', '=Mallory@'), 'forged');
  assert.match(forged.rcpt, /^550 5\.1\.1 .*bad signature/);
  const otherHash = srs.replace(/^SRS0=(.)/, (_, c: string) => `SRS0=${c === 'A' ? 'B' : 'A'}`);
  assert.match((await send('', otherHash, 'forged hash')).rcpt, /^550 5\.1\.1 /);
  const expired = new SrsCodec(loadOrCreateSrsSecret(s.dir), () => Date.now() - 30 * DAY).encode('carol@remote.test', 'example.test')!;
  assert.match((await send('', expired, 'expired')).rcpt, /^550 5\.1\.1 Expired SRS address/);
  assert.match((await send('', 'SRS0=garbage@example.test', 'malformed')).rcpt, /^550 5\.1\.1 Invalid SRS address/);
  assert.match((await send('spammer@remote.test', srs, 'not a bounce')).rcpt, /^550 5\.7\.1 SRS addresses accept bounces/);
  // Only the two bounces were queued.
  assert.equal(queue().filter((e) => e.recipients.some((r) => /@remote\.test$/i.test(r))).length, 2);
});

test('the SRS secret is kept: after a restart, an address made before is still accepted', async () => {
  const before = loadOrCreateSrsSecret(s.dir);
  const srs = new SrsCodec(before).encode('dave@remote.test', 'example.test')!;
  await served!.stop();
  await serve();
  assert.deepEqual(loadOrCreateSrsSecret(s.dir), before);
  const r = await send('', srs, 'after restart');
  assert.match(r.data!, /^250/);
  assert.equal(queue().filter((e) => e.recipients.includes('dave@remote.test')).length, 1);
});
