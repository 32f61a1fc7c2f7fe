// The MX listener end to end over TCP: swaks, nodemailer and a bare client
// against `postino serve`; anti-relay, unknown users, size limits, trace
// headers, Sieve actions, sender authentication from the DNS fixture.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, existsSync, rmSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { scratchDir } from '../support/tmp.js';
import { postino } from '../support/cli.js';
import { startServe, type Served } from '../support/serve.js';
import { openDialog } from '../support/smtp-dialog.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';
import { fixturesDir, cliPath } from '../support/paths.js';
import { SERVICES } from '../../src/config.js';

const PASSWORD = 'tangerine-otter-42\n';

/** Runs swaks without blocking this process (the DNS fixture answers from here). */
function swaks(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('swaks', ['--timeout', '20', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, out }));
  });
}

function newFiles(dataDir: string, user: string, folder = ''): string[] {
  const dir = path.join(dataDir, 'mail', 'example.test', user, folder, 'new');
  return existsSync(dir) ? readdirSync(dir).map((f) => readFileSync(path.join(dir, f), 'utf8')) : [];
}

function allFiles(dataDir: string, user: string, folder = ''): string[] {
  return ['new', 'cur'].flatMap((d) => {
    const dir = path.join(dataDir, 'mail', 'example.test', user, folder, d);
    return existsSync(dir) ? readdirSync(dir).map((f) => readFileSync(path.join(dir, f), 'utf8')) : [];
  });
}

describe('MX SMTP listener', { timeout: 300_000 }, () => {
  const s = scratchDir();
  let served: Served;
  let smtpPort = 0;
  let lmtpPort = 0;
  let dns: DnsFixture;
  const cli = (args: string[], stdin?: string) => {
    const r = postino(s.dir, args, stdin);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const queue = () => JSON.parse(cli(['queue', 'list', '--json'])) as Array<{ id: string; sender: string; recipients: string[] }>;

  before(async () => {
    dns = await startDnsFixture({
      'spf-pass.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
      'spf-fail.test': { TXT: ['v=spf1 ip4:192.0.2.1 -all'] },
      '_dmarc.spf-fail.test': { TXT: ['v=DMARC1; p=reject'] },
      'spf-soft.test': { TXT: ['v=spf1 ip4:192.0.2.1 ~all'] },
      'remote.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
    });
    writeFileSync(
      path.join(s.dir, 'postino.json'),
      JSON.stringify({ hostname: 'mx.example.test', smtp: { greetDelayMs: 200, maxConnectionsPerIp: 8, maxMessagesPerConnection: 3 }, limits: { messageSize: 100_000, recipients: 5 }, dns: { servers: dns.servers },
        // Remote mail (the redirects and replies checked here) waits in the outbound queue: nothing listens at the smarthost's port.
        relay: { smarthost: { host: '127.0.0.1', port: 1, tls: 'opportunistic' } } }),
    );
    cli(['domain', 'add', 'example.test', '--postmaster', 'alice@example.test', '--password-stdin'], PASSWORD);
    cli(['user', 'add', 'bob@example.test', '--password-stdin'], PASSWORD);
    cli(['user', 'add', 'carol@example.test', '--password-stdin', '--quota', '1000'], PASSWORD);
    cli(['user', 'add', 'dave@example.test', '--password-stdin'], PASSWORD);
    cli(['alias', 'add', 'team@example.test', 'bob@example.test', 'alice@example.test']);
    cli(['sieve', 'put', 'dave@example.test', 'rules', path.join(fixturesDir, 'sieve', 'delivery', 'fileinto-create.sieve'), '--activate']);
    const env = Object.fromEntries(SERVICES.map((x) => [`POSTINO_${x.toUpperCase()}_PORT`, '0']));
    served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], { ...env, POSTINO_NODE_NAME: 'mx-node-1' });
    smtpPort = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'smtp')).port);
    lmtpPort = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'lmtp')).port);
    await served.waitFor((e) => e.event === 'ready');
  });

  after(async () => {
    assert.equal(await served.stop(), 0);
    await dns.close();
    s.cleanup();
  });

  test('EHLO announces the extensions, no AUTH on the MX', async () => {
    const d = await openDialog(smtpPort);
    assert.match(d.greeting, /^220 mx.example.test ESMTP/);
    const ehlo = await d.send('EHLO client.remote.test');
    for (const ext of ['PIPELINING', 'SIZE 100000', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'STARTTLS']) assert.match(ehlo, new RegExp(`250[- ]${ext}`));
    assert.doesNotMatch(ehlo, /AUTH/);
    d.close();
  });

  test('swaks delivers to a local user: Maildir file with Return-Path, Delivered-To, Received, Authentication-Results', async () => {
    const r = await swaks(['--server', `127.0.0.1:${smtpPort}`, '--from', 'sender@spf-pass.test', '--to', 'bob@example.test', '--header', 'Subject: hello bob']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /250 2\.0\.0 Ok: queued as/);
    const files = newFiles(s.dir, 'bob');
    assert.equal(files.length, 1);
    const msg = files[0]!;
    assert.match(msg, /^Return-Path: <sender@spf-pass.test>\r\nDelivered-To: bob@example.test\r\nReceived: from /);
    assert.match(msg, /by mx.example.test \(Postino node=mx-node-1\) with ESMTP id /, 'the node that took it, in a comment after the by domain');
    assert.match(msg, /Authentication-Results: mx.example.test;[\s\S]*spf=pass/);
    assert.match(msg, /Subject: hello bob/);
  });

  test('nodemailer delivers to several recipients, aliases expanded, one copy per account', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false, ignoreTLS: true });
    const info = await transport.sendMail({
      from: 'sender@spf-pass.test',
      to: ['team@example.test', 'bob@example.test', 'BOB+tag@Example.Test'],
      subject: 'team news',
      text: 'hello team',
    });
    assert.equal(info.accepted.length, 3);
    transport.close();
    assert.equal(newFiles(s.dir, 'bob').filter((m) => m.includes('team news')).length, 1);
    assert.equal(newFiles(s.dir, 'alice').filter((m) => m.includes('team news')).length, 1);
  });

  test('STARTTLS then delivery', async () => {
    const r = await swaks(['--server', `127.0.0.1:${smtpPort}`, '--tls', '--from', 'x@spf-pass.test', '--to', 'alice@example.test', '--header', 'Subject: over tls']);
    assert.equal(r.code, 0, r.out);
    const msg = newFiles(s.dir, 'alice').find((m) => m.includes('over tls'))!;
    assert.match(msg, /with ESMTPS id/);
  });

  test('every relay attempt gets 5.7.1, whatever MAIL FROM claims', async () => {
    const tricks = [
      'someone@remote.test',
      'user%remote.test@example.test',
      'user!remote.test@example.test',
      '@example.test:user@remote.test',
      '"user@remote.test"@example.test',
      '"user%remote.test"@example.test',
      'user@remote.test@example.test',
      'bob@example.test.remote.test',
      'user@[127.0.0.1]',
    ];
    for (const from of ['stranger@remote.test', 'postmaster@example.test', 'bob@example.test', '']) {
      const d = await openDialog(smtpPort);
      await d.send('EHLO client.remote.test');
      assert.match(await d.send(`MAIL FROM:<${from}>`), /^250/);
      for (const t of tricks) {
        const reply = await d.send(`RCPT TO:<${t}>`);
        assert.match(reply, /^55[04] 5\.7\.1 /, `${t} from <${from}>: ${reply}`);
      }
      assert.match(await d.send('DATA'), /^503|^554/);
      d.close();
    }
    // swaks sees the same.
    const r = await swaks(['--server', `127.0.0.1:${smtpPort}`, '--from', 'postmaster@example.test', '--to', 'victim@remote.test']);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /554 5\.7\.1 Relay access denied/);
    assert.deepEqual(queue(), [], 'nothing was queued for relay');
  });

  test('unknown local user gets 550 5.1.1; <postmaster> is accepted', async () => {
    const r = await swaks(['--server', `127.0.0.1:${smtpPort}`, '--from', 'x@spf-pass.test', '--to', 'nobody@example.test']);
    assert.match(r.out, /550 5\.1\.1 /);
    const d = await openDialog(smtpPort);
    await d.send('EHLO client');
    await d.send('MAIL FROM:<x@spf-pass.test>');
    assert.match(await d.send('RCPT TO:<postmaster>'), /^250/);
    assert.match(await d.send('RCPT TO:<NoBody@example.test>'), /^550 5\.1\.1 /);
    d.close();
  });

  test('accounts and aliases changed with the CLI while serving count at the next RCPT (no stale lookup)', async () => {
    const d = await openDialog(smtpPort);
    await d.send('EHLO client');
    await d.send('MAIL FROM:<x@spf-pass.test>');
    assert.match(await d.send('RCPT TO:<grace@example.test>'), /^550 5\.1\.1 /);
    cli(['user', 'add', 'grace@example.test', '--password-stdin'], PASSWORD);
    assert.match(await d.send('RCPT TO:<grace@example.test>'), /^250/);
    cli(['user', 'remove', 'grace@example.test']);
    assert.match(await d.send('RCPT TO:<grace@example.test>'), /^550 5\.1\.1 /);
    cli(['alias', 'add', 'grace@example.test', 'bob@example.test']);
    assert.match(await d.send('RCPT TO:<grace@example.test>'), /^250/);
    cli(['alias', 'remove', 'grace@example.test']);
    assert.match(await d.send('RCPT TO:<grace@example.test>'), /^550 5\.1\.1 /);
    d.close();
  });

  test('oversize messages get 552, announced SIZE too', async () => {
    const bodyFile = path.join(s.dir, 'big-body.txt');
    writeFileSync(bodyFile, 'x'.repeat(150_000));
    const r = await swaks(['--server', `127.0.0.1:${smtpPort}`, '--from', 'x@spf-pass.test', '--to', 'bob@example.test', '--body', bodyFile]);
    assert.match(r.out, /552 5\.3\.4 /);
    const d = await openDialog(smtpPort);
    await d.send('EHLO client');
    assert.match(await d.send('MAIL FROM:<x@spf-pass.test> SIZE=200000'), /^552 5\.3\.4 /);
    d.close();
  });

  test('too many recipients: 452 after the configured count', async () => {
    const d = await openDialog(smtpPort);
    await d.send('EHLO client');
    await d.send('MAIL FROM:<x@spf-pass.test>');
    for (let i = 0; i < 5; i++) assert.match(await d.send('RCPT TO:<bob@example.test>'.replace('bob', i % 2 ? 'bob' : 'alice').replace('@', `+${i}@`)), /^250/);
    assert.match(await d.send('RCPT TO:<bob+9@example.test>'), /^452 /);
    d.close();
  });

  test('limits: connections per IP and messages per connection', async () => {
    const open = [];
    for (let i = 0; i < 8; i++) open.push(await openDialog(smtpPort));
    const extra = await openDialog(smtpPort);
    assert.match(extra.greeting, /^421 4\.7\.0 /);
    for (const d of open) d.close();
    await Promise.all(open.map((d) => d.closed));
    await new Promise((r) => setTimeout(r, 200));

    const d = await openDialog(smtpPort);
    await d.send('EHLO client');
    for (let i = 0; i < 3; i++) {
      assert.match(await d.send('MAIL FROM:<x@spf-pass.test>'), /^250/);
      await d.send('RCPT TO:<bob@example.test>');
      await d.send('DATA');
      assert.match((await d.data(`Subject: batch ${i}\r\n\r\nbody\r\n`))[0]!, /^250/);
    }
    assert.match(await d.send('MAIL FROM:<x@spf-pass.test>'), /^421 4\.7\.0 /);
    d.close();
  });

  test('a client that talks before the greeting is dropped', async () => {
    const net = await import('node:net');
    // From an address that has not passed the test yet (127.0.0.1 has, and is remembered).
    const reply = await new Promise<string>((resolve) => {
      const sock = net.connect({ port: smtpPort, host: '127.0.0.1', localAddress: '127.0.0.77' }, () => sock.write('EHLO eager\r\n'));
      let data = '';
      sock.on('data', (d) => (data += d.toString()));
      sock.on('close', () => resolve(data));
    });
    assert.match(reply, /^554 5\.5\.0 /);
    assert.doesNotMatch(reply, /^220/m);
  });

  test('a mail loop (own Delivered-To present) is refused with 554 5.4.6', async () => {
    const d = await openDialog(smtpPort);
    await d.send('EHLO client');
    await d.send('MAIL FROM:<x@spf-pass.test>');
    await d.send('RCPT TO:<bob@example.test>');
    assert.match(await d.send('DATA'), /^354/);
    const [reply] = await d.data('Delivered-To: bob@example.test\r\nSubject: loop\r\n\r\nbody\r\n');
    assert.match(reply!, /^554 5\.4\.6 /);
    d.close();
  });

  test('over quota: 452 4.2.2, nothing stored', async () => {
    const before = allFiles(s.dir, 'carol').length;
    const d = await openDialog(smtpPort);
    await d.send('EHLO client');
    await d.send('MAIL FROM:<x@spf-pass.test>');
    assert.match(await d.send('RCPT TO:<carol@example.test>'), /^250/);
    await d.send('DATA');
    const [reply] = await d.data(`Subject: big\r\n\r\n${'y'.repeat(3000)}\r\n`);
    assert.match(reply!, /^452 4\.2\.2 /);
    d.close();
    assert.equal(allFiles(s.dir, 'carol').length, before);
  });

  test('Sieve fileinto :create makes the folder and sets the flags', async () => {
    const r = await swaks(['--server', `127.0.0.1:${smtpPort}`, '--from', 'x@spf-pass.test', '--to', 'dave@example.test', '--header', 'Subject: weekly newsletter']);
    assert.equal(r.code, 0, r.out);
    const files = allFiles(s.dir, 'dave', '.Lists.News');
    assert.equal(files.length, 1);
    const dir = path.join(s.dir, 'mail', 'example.test', 'dave', '.Lists.News', 'cur');
    assert.match(readdirSync(dir)[0]!, /:2,Fa$/, 'flags in the file name');
    assert.equal(newFiles(s.dir, 'dave').length, 0);
  });

  test('Sieve redirect goes into the queue; reject is answered at SMTP time', async () => {
    cli(['sieve', 'put', 'dave@example.test', 'fwd', path.join(fixturesDir, 'sieve', 'delivery', 'redirect.sieve'), '--activate']);
    let r = await swaks(['--server', `127.0.0.1:${smtpPort}`, '--from', 'x@spf-pass.test', '--to', 'dave@example.test', '--header', 'Subject: invoice 42']);
    assert.equal(r.code, 0, r.out);
    const q = queue().filter((e) => e.recipients.includes('accountant@remote.test'));
    assert.equal(q.length, 1);
    assert.equal(q[0]!.sender, 'x@spf-pass.test');
    assert.equal(newFiles(s.dir, 'dave').filter((m) => m.includes('invoice 42')).length, 1, ':copy keeps it too');

    cli(['sieve', 'put', 'dave@example.test', 'no', path.join(fixturesDir, 'sieve', 'delivery', 'reject.sieve'), '--activate']);
    r = await swaks(['--server', `127.0.0.1:${smtpPort}`, '--from', 'spammer@remote.test', '--to', 'dave@example.test', '--header', 'From: spammer@remote.test']);
    assert.match(r.out, /550 5\.7\.1 I do not want mail from you\./);
  });

  test('Sieve vacation: one reply queued per sender, not two', async () => {
    cli(['sieve', 'put', 'dave@example.test', 'away', path.join(fixturesDir, 'sieve', 'delivery', 'vacation.sieve'), '--activate']);
    const before = queue().length;
    for (let i = 0; i < 2; i++) {
      const r = await swaks(['--server', `127.0.0.1:${smtpPort}`, '--from', 'friend@remote.test', '--to', 'dave@example.test', '--header', 'To: dave@example.test', '--header', `Subject: hi ${i}`]);
      assert.equal(r.code, 0, r.out);
    }
    const replies = queue().slice(before);
    assert.equal(replies.length, 1);
    assert.deepEqual(replies[0]!.recipients, ['friend@remote.test']);
    assert.equal(replies[0]!.sender, '');
    // Never to lists or null senders.
    const list = await swaks(['--server', `127.0.0.1:${smtpPort}`, '--from', 'list@remote.test', '--to', 'dave@example.test', '--header', 'To: dave@example.test', '--header', 'List-Id: <x.remote.test>']);
    assert.equal(list.code, 0);
    const bounce = await swaks(['--server', `127.0.0.1:${smtpPort}`, '--from', '<>', '--to', 'dave@example.test', '--header', 'To: dave@example.test']);
    assert.equal(bounce.code, 0, bounce.out);
    assert.equal(queue().length, before + 1);
  });

  test('SPF and DMARC outcomes from the DNS fixture land in Authentication-Results', async () => {
    const cases: Array<[string, RegExp]> = [
      ['a@spf-pass.test', /spf=pass/],
      ['b@spf-soft.test', /spf=softfail/],
      ['c@spf-fail.test', /spf=fail[\s\S]*dmarc=fail/],
    ];
    for (const [from, expected] of cases) {
      const r = await swaks(['--server', `127.0.0.1:${smtpPort}`, '--from', from, '--to', 'alice@example.test', '--header', `From: ${from}`, '--header', `Subject: auth ${from}`]);
      assert.equal(r.code, 0, r.out);
    }
    for (const [from, expected] of cases) {
      const inbox = allFiles(s.dir, 'alice').concat(allFiles(s.dir, 'alice', '.Junk')).find((m) => m.includes(`Subject: auth ${from}`));
      assert.ok(inbox, from);
      assert.match(inbox, expected);
    }
    // A forged Authentication-Results claiming our name is removed (RFC 8601 section 5).
    const forged = await swaks(['--server', `127.0.0.1:${smtpPort}`, '--from', 'b@spf-soft.test', '--to', 'alice@example.test', '--header', 'Authentication-Results: mx.example.test; dkim=pass; dmarc=pass', '--header', 'Subject: forged ar']);
    assert.equal(forged.code, 0, forged.out);
    const forgedMsg = allFiles(s.dir, 'alice').find((m) => m.includes('Subject: forged ar'))!;
    assert.equal(forgedMsg.match(/^Authentication-Results:/gm)?.length, 1);
    assert.doesNotMatch(forgedMsg, /dmarc=pass/);
    // DMARC p=reject failure goes to Junk by default.
    assert.ok(allFiles(s.dir, 'alice', '.Junk').some((m) => m.includes('Subject: auth c@spf-fail.test')));
  });

  test('a store that fails mid-way: 250 and a local retry over SMTP once a copy is stored, per recipient over LMTP; never a half message', async () => {
    cli(['user', 'add', 'frank@example.test', '--password-stdin'], PASSWORD);
    const frankNew = path.join(s.dir, 'mail', 'example.test', 'frank', 'new');
    rmSync(frankNew, { recursive: true });
    writeFileSync(frankNew, 'not a directory');
    try {
      const d = await openDialog(smtpPort);
      await d.send('EHLO client');
      await d.send('MAIL FROM:<x@spf-pass.test>');
      assert.match(await d.send('RCPT TO:<bob@example.test>'), /^250/);
      assert.match(await d.send('RCPT TO:<frank@example.test>'), /^250/);
      await d.send('DATA');
      const [reply] = await d.data('Subject: half\r\n\r\nbody\r\n');
      // bob's copy is stored: a 451 would make the sender store it twice. frank's waits in the local-retry queue.
      assert.match(reply!, /^250 /);
      d.close();
      const halves = newFiles(s.dir, 'bob').filter((x) => x.includes('Subject: half'));
      assert.equal(halves.length, 1);
      assert.match(halves[0]!, /\r\n\r\nbody\r\n$/);
      assert.deepEqual(readdirSync(path.join(s.dir, 'mail', 'example.test', 'frank', 'tmp')), [], 'frank has nothing, not even in tmp/');
      const kept = JSON.parse(cli(['queue', 'list', '--json'])) as Array<{ reason: string; recipients: string[] }>;
      assert.deepEqual(kept.filter((e) => e.reason === 'local-retry').map((e) => e.recipients), [['frank@example.test']]);

      const l = await openDialog(lmtpPort);
      await l.send('LHLO mta');
      await l.send('MAIL FROM:<x@spf-pass.test>');
      await l.send('RCPT TO:<alice@example.test>');
      await l.send('RCPT TO:<frank@example.test>');
      await l.send('DATA');
      const replies = await l.data('Subject: half lmtp\r\n\r\nbody\r\n', 2);
      assert.match(replies[0]!, /^250 /);
      assert.match(replies[1]!, /^451 4\.3\.0 /);
      l.close();
    } finally {
      rmSync(frankNew);
      mkdirSync(frankNew);
    }
    // With the mailbox whole again, the retry stores frank's copy, once.
    cli(['queue', 'flush']);
    await served.waitFor((e) => e.event === 'local-retry-done');
    assert.equal(newFiles(s.dir, 'frank').filter((m) => m.includes('Subject: half\r\n')).length, 1);
    assert.equal(newFiles(s.dir, 'bob').filter((m) => m.includes('Subject: half\r\n')).length, 1);
  });

  test('too many Received fields is a loop: 554 5.4.6', async () => {
    const d = await openDialog(smtpPort);
    await d.send('EHLO client');
    await d.send('MAIL FROM:<x@spf-pass.test>');
    await d.send('RCPT TO:<bob@example.test>');
    await d.send('DATA');
    const hops = Array.from({ length: 51 }, (_, i) => `Received: from hop${i}.remote.test by hop${i + 1}.remote.test; Mon, 23 Nov 2026 10:00:00 +0000`).join('\r\n');
    const [reply] = await d.data(`${hops}\r\nSubject: looping\r\n\r\nbody\r\n`);
    assert.match(reply!, /^554 5\.4\.6 /);
    d.close();
  });

  test('LMTP answers once per recipient after DATA', async () => {
    cli(['sieve', 'put', 'dave@example.test', 'no', path.join(fixturesDir, 'sieve', 'delivery', 'reject.sieve'), '--activate']);
    const d = await openDialog(lmtpPort);
    assert.match(d.greeting, /LMTP/);
    await d.send('LHLO mta.example.test');
    await d.send('MAIL FROM:<spammer@remote.test>');
    assert.match(await d.send('RCPT TO:<bob@example.test>'), /^250/);
    assert.match(await d.send('RCPT TO:<nobody@example.test>'), /^550 5\.1\.1/);
    assert.match(await d.send('RCPT TO:<dave@example.test>'), /^250/);
    assert.match(await d.send('RCPT TO:<x@remote.test>'), /^554 5\.7\.1/);
    await d.send('DATA');
    const replies = await d.data('From: spammer@remote.test\r\nSubject: lmtp two\r\n\r\nhello\r\n', 2);
    assert.match(replies[0]!, /^250 2\.0\.0 <bob@example.test>/);
    assert.match(replies[1]!, /^550 5\.7\.1 I do not want mail from you/);
    d.close();
    assert.equal(newFiles(s.dir, 'bob').filter((m) => m.includes('lmtp two')).length, 1);
  });
});

test('postino deliver (LDA): exit 0 delivered, 67 unknown user', async () => {
  const s = scratchDir();
  try {
    assert.equal(postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', 'alice@example.test', '--password-stdin'], PASSWORD).code, 0);
    const msg = 'From: x@remote.test\r\nSubject: via lda\r\n\r\nhello\r\n';
    const ok = postino(s.dir, ['deliver', '--from', 'x@remote.test', '--to', 'alice@example.test'], msg);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(newFiles(s.dir, 'alice')[0]!, /^Return-Path: <x@remote.test>\r\nDelivered-To: alice@example.test\r\n/);
    const unknown = postino(s.dir, ['deliver', '--from', 'x@remote.test', '--to', 'ghost@example.test'], msg);
    assert.equal(unknown.code, 67);
    assert.match(unknown.stderr, /ghost@example.test.*5\.1\.1/);
  } finally {
    s.cleanup();
  }
});
