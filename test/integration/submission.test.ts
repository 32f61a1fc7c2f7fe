// Authenticated submission through a real `postino serve`: 587 (STARTTLS)
// and 465 (implicit TLS) with real clients (nodemailer, swaks) and, where
// exact codes matter, a bare client (test/support/submission-client.ts,
// which also speaks SCRAM-SHA-256 from RFC 7677: neither swaks nor
// nodemailer nor Python's smtplib has it). Shows: no AUTH before TLS, every
// refusal with its code, a local recipient's message in their INBOX with a
// Received field naming the authenticated submission, a remote one in
// `postino queue list`, the Sent copy, the per-user limits, and failed
// logins logged and slowed per address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { ImapFlow } from 'imapflow';
import { scratchDir } from '../support/tmp.js';
import { postino } from '../support/cli.js';
import { startServe, type Served } from '../support/serve.js';
import { cliPath } from '../support/paths.js';
import { SERVICES } from '../../src/config.js';
import { authScramSha256, openSubmission, plainResponse } from '../support/submission-client.js';

const PASSWORD = 'tangerine-otter-42';
const BOB_PASSWORD = 'marmalade-heron-77';
const env = Object.fromEntries(SERVICES.map((x) => [`POSTINO_${x.toUpperCase()}_PORT`, '0']));

interface Ports {
  submission: number;
  submissions: number;
  imaps: number;
}

async function serve(config: Record<string, unknown>): Promise<{ served: Served; dir: string; ports: Ports; cleanup(): void }> {
  const s = scratchDir();
  writeFileSync(path.join(s.dir, 'postino.json'), JSON.stringify({ hostname: 'mx.example.test', dns: { servers: ['127.0.0.1:9'] }, ...config }));
  assert.equal(postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', 'alice@example.test', '--password-stdin'], `${PASSWORD}\n`).code, 0);
  for (const user of ['bob', 'carol']) assert.equal(postino(s.dir, ['user', 'add', `${user}@example.test`, '--password-stdin'], `${BOB_PASSWORD}\n`).code, 0);
  assert.equal(postino(s.dir, ['alias', 'add', 'team@example.test', 'alice@example.test', 'bob@example.test']).code, 0);
  const served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], env);
  const port = async (service: string) => Number((await served.waitFor((e) => e.event === 'listening' && e.service === service)).port);
  const ports: Ports = { submission: await port('submission'), submissions: await port('submissions'), imaps: await port('imaps') };
  return { served, dir: s.dir, ports, cleanup: s.cleanup };
}

function transport(port: number, user: string, pass: string, implicitTls = false) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: implicitTls,
    requireTLS: !implicitTls,
    tls: { rejectUnauthorized: false },
    auth: { user, pass },
  });
}

function swaks(args: string[]): string {
  const r = spawnSync('swaks', ['--server', '127.0.0.1', '--timeout', '30', ...args], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`;
}

test('submission on 587 and 465: TLS before AUTH, AUTH before mail, own addresses only, local delivery and the queue', { timeout: 240_000 }, async () => {
  const { served, dir, ports, cleanup } = await serve({ submission: { saveSent: true } });
  let imap: ImapFlow | undefined;
  try {
    // swaks: EHLO before STARTTLS lists no AUTH, after it does.
    const plain = swaks(['--port', String(ports.submission), '--quit-after', 'EHLO']);
    assert.match(plain, /250-STARTTLS/);
    assert.doesNotMatch(plain, /AUTH/);
    const secured = swaks(['--port', String(ports.submission), '-tls', '--quit-after', 'EHLO']);
    assert.match(secured, /250-AUTH PLAIN LOGIN SCRAM-SHA-256/);

    // AUTH and MAIL before TLS, MAIL before AUTH, all refused.
    const c = await openSubmission(ports.submission);
    assert.match(await c.send('EHLO client.test'), /^250/);
    assert.equal(await c.send(`AUTH PLAIN ${plainResponse('alice@example.test', PASSWORD)}`), '530 5.7.0 Must issue a STARTTLS command first');
    assert.equal(await c.send('MAIL FROM:<alice@example.test>'), '530 5.7.0 Authentication required');
    assert.match(await c.startTls(), /^220 /);
    assert.match(await c.send('EHLO client.test'), /AUTH PLAIN LOGIN SCRAM-SHA-256/);
    assert.equal(await c.send('MAIL FROM:<alice@example.test>'), '530 5.7.0 Authentication required');
    assert.equal(await c.send('RCPT TO:<bob@remote.test>'), '530 5.7.0 Authentication required');
    // SCRAM-SHA-256 (RFC 7677 client), then an alias whose targets include alice, then a stranger's address.
    assert.equal(await authScramSha256(c, 'alice@example.test', PASSWORD), '235 2.7.0 Authentication successful');
    assert.match(await c.send('MAIL FROM:<team@example.test>'), /^250 /, 'an alias whose targets include the user');
    assert.match(await c.send('RSET'), /^250 /);
    assert.match(await c.send('MAIL FROM:<alice+lists@example.test>'), /^250 /, "a subaddress of the user's own");
    assert.match(await c.send('RSET'), /^250 /);
    assert.equal(await c.send('MAIL FROM:<carol@example.test>'), '553 5.7.1 <carol@example.test>: Sender address rejected: not owned by user alice@example.test');
    assert.match(await c.send('MAIL FROM:<ceo@remote.test>'), /^553 5\.7\.1 /);
    c.close();

    // nodemailer over STARTTLS: a wrong password, a foreign MAIL FROM, a foreign From header.
    const wrong = transport(ports.submission, 'alice@example.test', 'not-her-password');
    await assert.rejects(wrong.sendMail({ from: 'alice@example.test', to: 'bob@example.test', text: 'x' }), (err: { responseCode?: number; response?: string }) => {
      assert.equal(err.responseCode, 535);
      assert.match(err.response ?? '', /^535 5\.7\.8 /);
      return true;
    });
    wrong.close();
    const alice = transport(ports.submission, 'alice@example.test', PASSWORD);
    await assert.rejects(alice.sendMail({ envelope: { from: 'carol@example.test', to: ['bob@example.test'] }, from: 'alice@example.test', to: 'bob@example.test', text: 'x' }), (err: { responseCode?: number; response?: string }) => {
      assert.equal(err.responseCode, 553);
      assert.match(err.response ?? '', /^553 5\.7\.1 /);
      return true;
    });
    await assert.rejects(alice.sendMail({ envelope: { from: 'alice@example.test', to: ['bob@example.test'] }, from: 'Carol <carol@example.test>', to: 'bob@example.test', subject: 'forged', text: 'x' }), (err: { responseCode?: number; response?: string }) => {
      assert.equal(err.responseCode, 553);
      assert.match(err.response ?? '', /^553 5\.7\.1 <carol@example\.test>: From header address rejected/);
      return true;
    });

    // A remote recipient: queued, durable before the 250, listed by `postino queue list`.
    const remote = await alice.sendMail({ from: 'Alice <alice@example.test>', to: ['friend@remote.test', 'carol@example.test'], subject: 'to a friend', text: 'hello out there' });
    assert.match(remote.response, /^250 2\.0\.0 /);
    alice.close();
    const list = postino(dir, ['queue', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const entries = JSON.parse(list.stdout) as Array<{ sender: string; recipients: unknown[] }>;
    const queued = entries.filter((e) => e.sender === 'alice@example.test' && JSON.stringify(e.recipients).includes('friend@remote.test'));
    assert.equal(queued.length, 1, list.stdout);
    assert.ok(!list.stdout.includes('carol@example.test'), 'the local recipient is not queued');
    // ...and the local recipient of the same message has it already.
    imap = new ImapFlow({ host: '127.0.0.1', port: ports.imaps, secure: true, auth: { user: 'carol@example.test', pass: BOB_PASSWORD }, tls: { rejectUnauthorized: false }, logger: false });
    await imap.connect();
    const carolInbox = await imap.status('INBOX', { messages: true });
    assert.equal(carolInbox && carolInbox.messages, 1);
    await imap.logout();
    imap = undefined;

    // 465, implicit TLS: a message to a local user lands in their INBOX, through their delivery.
    const implicit = transport(ports.submissions, 'alice@example.test', PASSWORD, true);
    const local = await implicit.sendMail({ from: 'alice@example.test', to: 'bob@example.test', subject: 'over 465', text: 'hello bob' });
    assert.match(local.response, /^250 2\.0\.0 /);
    implicit.close();
    imap = new ImapFlow({ host: '127.0.0.1', port: ports.imaps, secure: true, auth: { user: 'bob@example.test', pass: BOB_PASSWORD }, tls: { rejectUnauthorized: false }, logger: false });
    await imap.connect();
    await imap.mailboxOpen('INBOX');
    const got = await imap.fetchOne('*', { envelope: true, source: true });
    assert.ok(got && got.source);
    assert.equal(got.envelope?.subject, 'over 465');
    const source = got.source.toString();
    assert.match(source, /^Received: from [^\r\n]*\[127\.0\.0\.1\]\)\r\n\t\(using TLSv1\.[23] with cipher [^)]+\)\r\n\t\(Authenticated sender: alice@example\.test\)\r\n\tby mx\.example\.test \(Postino node=[A-Za-z0-9._-]+\) with ESMTPSA id /m);
    assert.ok(!source.includes(PASSWORD), 'no credentials in the message');
    await imap.logout();
    imap = undefined;

    // saveSent: alice's copies in her \Sent folder.
    imap = new ImapFlow({ host: '127.0.0.1', port: ports.imaps, secure: true, auth: { user: 'alice@example.test', pass: PASSWORD }, tls: { rejectUnauthorized: false }, logger: false });
    await imap.connect();
    const boxes = await imap.list();
    const sent = boxes.find((b) => b.specialUse === '\\Sent');
    assert.ok(sent, 'a \\Sent folder');
    const status = await imap.status(sent.path, { messages: true });
    assert.equal(status && status.messages, 2, 'the remote and the local message');
    await imap.logout();
    imap = undefined;

    // Repeated failures from one address: each logged, and answered ever more slowly.
    const timings: number[] = [];
    for (let i = 0; i < 2; i++) {
      const t = await openSubmission(ports.submissions, { implicitTls: true });
      await t.send('EHLO client.test');
      const started = Date.now();
      assert.match(await t.send(`AUTH PLAIN ${plainResponse('alice@example.test', `guess-${i}`)}`), /^535 5\.7\.8 /);
      timings.push(Date.now() - started);
      t.close();
    }
    // The penalty starts at 2 s and doubles (src/auth/penalty.ts); only lower bounds are asserted (a loaded machine is only slower).
    assert.ok(timings[0]! >= 1500, `second failure from the address waited ${timings[0]} ms`);
    assert.ok(timings[1]! >= 3000, `third failure waited ${timings[1]} ms`);
    const logged = served.events.filter((e) => e.event === 'auth-failed' && e.ip === '127.0.0.1');
    assert.ok(logged.length >= 3, JSON.stringify(logged));
    assert.ok(logged.some((e) => e.service === 'submission') && logged.some((e) => e.service === 'submissions'));
    assert.ok(!JSON.stringify(served.events).includes('guess-'), 'no password in the log');
  } finally {
    await imap?.logout().catch(() => {});
    assert.equal(await served.stop(), 0);
    cleanup();
  }
});

test('per-user limits: recipients per message, recipients per day, messages per hour answer 451 4.7.1', { timeout: 120_000 }, async () => {
  const { served, ports, cleanup } = await serve({ submission: { limits: { messagesPerHour: 2, recipientsPerMessage: 2, recipientsPerDay: 3 } } });
  try {
    const login = async (user: string, pass: string) => {
      const c = await openSubmission(ports.submissions, { implicitTls: true });
      await c.send('EHLO client.test');
      assert.equal(await c.send(`AUTH PLAIN ${plainResponse(user, pass)}`), '235 2.7.0 Authentication successful');
      return c;
    };
    const message = (from: string) => `From: ${from}\r\nSubject: limits\r\n\r\nbody\r\n`;

    const bob = await login('bob@example.test', BOB_PASSWORD);
    assert.match(await bob.send('MAIL FROM:<bob@example.test>'), /^250 /);
    assert.match(await bob.send('RCPT TO:<x1@remote.test>'), /^250 /);
    assert.match(await bob.send('RCPT TO:<x2@remote.test>'), /^250 /);
    assert.equal(await bob.send('RCPT TO:<x3@remote.test>'), '451 4.7.1 Sending limit reached (recipients per message), try again later');
    assert.match(await bob.send('DATA'), /^354 /);
    assert.match(await bob.data(message('bob@example.test')), /^250 2\.0\.0 /);
    assert.match(await bob.send('MAIL FROM:<bob@example.test>'), /^250 /);
    assert.match(await bob.send('RCPT TO:<alice@example.test>'), /^250 /);
    assert.match(await bob.send('DATA'), /^354 /);
    assert.match(await bob.data(message('bob@example.test')), /^250 2\.0\.0 /);
    assert.equal(await bob.send('MAIL FROM:<bob@example.test>'), '451 4.7.1 Sending limit reached (messages per hour), try again later');
    bob.close();

    const carol = await login('carol@example.test', BOB_PASSWORD);
    assert.match(await carol.send('MAIL FROM:<carol@example.test>'), /^250 /);
    assert.match(await carol.send('RCPT TO:<y1@remote.test>'), /^250 /);
    assert.match(await carol.send('RCPT TO:<y2@remote.test>'), /^250 /);
    assert.match(await carol.send('DATA'), /^354 /);
    assert.match(await carol.data(message('carol@example.test')), /^250 2\.0\.0 /);
    assert.match(await carol.send('MAIL FROM:<carol@example.test>'), /^250 /);
    assert.match(await carol.send('RCPT TO:<y3@remote.test>'), /^250 /);
    assert.equal(await carol.send('RCPT TO:<y4@remote.test>'), '451 4.7.1 Sending limit reached (recipients per day), try again later');
    carol.close();
  } finally {
    assert.equal(await served.stop(), 0);
    cleanup();
  }
});
