// Outbound mail end to end through a real `postino serve`:
// - submission (nodemailer, 587 STARTTLS and 465 implicit TLS, AUTH) to a
//   remote address reaches a sink smarthost (STARTTLS and AUTH required, its
//   certificate as the configured CA) DKIM-signed, and mailauth verifies the
//   signature against the DNS fixture serving exactly the TXT line
//   `postino dkim keygen` printed;
// - direct MX delivery (the DNS fixture names a sink as remote.test's MX):
//   451 then 250 delivered on the retry, once; 550 one bounce quoting the
//   remote reply, itself delivered (to a local sender: into their INBOX,
//   not out through the MX); the null sender gets no bounce; a null MX
//   (RFC 7505) bounces at once;
// - forwarding with SRS: an alias and a Sieve redirect to remote addresses
//   leave with an SRS0 envelope sender; a bounce to it comes back through the
//   MX port and reaches the original sender; a forged one is refused;
// - a scratch Postfix as the MX receives what serve delivered directly.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { dkimVerify } from 'mailauth';
import { createDnsResolver } from '../../src/net/dns.js';
import { SERVICES } from '../../src/config.js';
import { scratchDir } from '../support/tmp.js';
import { postino } from '../support/cli.js';
import { startServe, type Served } from '../support/serve.js';
import { openDialog } from '../support/smtp-dialog.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';
import { startSink, type Sink, type SinkMessage } from '../support/sink-smtp.js';
import { startPostfix } from '../support/postfix.js';
import { cliPath } from '../support/paths.js';

/** An entry's end: the attempt that ended it says so (done: true), or an outbound-done line (an entry ended after its notices). */
const entryDone = (e: Record<string, unknown>): boolean => e.event === 'outbound-done' || (e.event === 'outbound-attempt' && e.done === true);

const PASSWORD = 'tangerine-otter-42';
const BOB_PASSWORD = 'marmalade-heron-77';
const RELAY_AUTH = { username: 'relay-user', password: 'relay-secret-42' };
type Event = Record<string, unknown>;

interface Running {
  served: Served;
  smtp: number;
  submission: number;
  submissions: number;
}

/** Starts serve on free ports; resolves once it is ready. */
async function serve(dir: string): Promise<Running> {
  const env = { ...Object.fromEntries(SERVICES.map((x) => [`POSTINO_${x.toUpperCase()}_PORT`, '0'])), POSTINO_DEMO: '0' };
  const served = startServe(process.execPath, [cliPath, 'serve', '--data', dir], env);
  const port = async (service: string) => Number((await served.waitFor((e) => e.event === 'listening' && e.service === service)).port);
  const running = { served, smtp: await port('smtp'), submission: await port('submission'), submissions: await port('submissions') };
  await served.waitFor((e) => e.event === 'ready');
  return running;
}

/** A data dir with example.test (alice the postmaster) and the config given. */
function prepare(dir: string, config: Record<string, unknown>): (args: string[], stdin?: string) => string {
  writeFileSync(path.join(dir, 'postino.json'), JSON.stringify({ hostname: 'mx.example.test', smtp: { greetDelayMs: 0 }, ...config }));
  const cli = (args: string[], stdin?: string) => {
    const r = postino(dir, args, stdin);
    assert.equal(r.code, 0, `postino ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  cli(['domain', 'add', 'example.test', '--postmaster', 'alice@example.test', '--password-stdin'], `${PASSWORD}\n`);
  return cli;
}

/** Authenticated submission with nodemailer: 587 with STARTTLS required, or 465 with implicit TLS. */
async function submit(port: number, implicitTls: boolean, to: string, subject: string): Promise<void> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: implicitTls,
    requireTLS: !implicitTls,
    tls: { rejectUnauthorized: false },
    auth: { user: 'alice@example.test', pass: PASSWORD },
  });
  try {
    const info = await transport.sendMail({
      from: 'Alice <alice@example.test>',
      to,
      subject,
      messageId: `<${subject.replace(/\W/g, '')}@example.test>`,
      text: `body of ${subject}\n`,
    });
    assert.deepEqual(info.accepted, [to]);
  } finally {
    transport.close();
  }
}

/** One message into serve's MX port; resolves with the RCPT reply and, when accepted, the DATA reply. */
async function sendMx(port: number, from: string, to: string, subject: string): Promise<{ rcpt: string; data?: string }> {
  const d = await openDialog(port);
  try {
    assert.match(await d.send('EHLO client.remote.test'), /^250/);
    assert.match(await d.send(`MAIL FROM:<${from}>`), /^250/);
    const rcpt = await d.send(`RCPT TO:<${to}>`);
    if (!rcpt.startsWith('250')) return { rcpt };
    assert.match(await d.send('DATA'), /^354/);
    const [data] = await d.data(
      `From: <${from || 'mailer-daemon@remote.test'}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@remote.test>\r\n\r\nbody of ${subject}\r\n`,
    );
    await d.send('QUIT');
    return { rcpt, data: data! };
  } finally {
    d.close();
  }
}

const subjectOf = (raw: Buffer) => /\r\nSubject: ([^\r\n]*)/.exec(`\r\n${raw.toString('latin1')}`)?.[1];

/** Polls until find() returns something (or fails after timeoutMs). */
async function waitFor<T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = find();
    if (hit !== undefined) return hit;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('submission to a remote address through the smarthost, DKIM-signed (real serve)', { timeout: 180_000 }, () => {
  const s = scratchDir();
  let sink: Sink;
  let dns: DnsFixture;
  let run: Running | undefined;

  before(async () => {
    sink = await startSink({ tls: 'starttls', requireTls: true, auth: RELAY_AUTH });
    dns = await startDnsFixture({ 'example.test': { TXT: ['v=spf1 -all'] } });
    const ca = path.join(s.dir, 'sink-ca.pem');
    writeFileSync(ca, sink.cert);
    const cli = prepare(s.dir, {
      dns: { servers: dns.servers },
      relay: { smarthost: { host: '127.0.0.1', port: sink.port, tls: 'starttls', ...RELAY_AUTH, ca }, schedule: { retrySeconds: [1] } },
    });
    // Publish exactly the line keygen printed: name, and its quoted strings as one TXT record.
    const line = cli(['dkim', 'keygen', 'example.test', '--selector', 'e2e']).trim();
    const m = /^(\S+) IN TXT ((?:"[^"]*" ?)+)$/.exec(line);
    assert.ok(m, `a zone-file line: ${line}`);
    assert.equal(m[1], 'e2e._domainkey.example.test');
    dns.set(m[1]!, { TXT: [[...m[2]!.matchAll(/"([^"]*)"/g)].map((x) => x[1]!)] });
    run = await serve(s.dir);
  });

  after(async () => {
    try {
      if (run) assert.equal(await run.served.stop(), 0);
    } finally {
      await sink?.stop();
      await dns?.close();
      s.cleanup();
    }
  });

  for (const [name, implicitTls] of [['587 STARTTLS', false], ['465 implicit TLS', true]] as const) {
    test(`${name}: the message reaches the smarthost over TLS with AUTH, and its DKIM signature verifies`, async () => {
      const subject = `dkim over ${implicitTls ? '465' : '587'}`;
      await submit(implicitTls ? run!.submissions : run!.submission, implicitTls, 'bob@remote.test', subject);
      const got = await waitFor(() => sink.messages.find((m) => subjectOf(m.raw) === subject), 30_000, `${subject} at the smarthost`);
      assert.equal(got.from, 'alice@example.test');
      assert.deepEqual(got.to, ['bob@remote.test']);
      assert.equal(got.secure, true, 'over TLS');
      assert.equal(got.user, RELAY_AUTH.username, 'authenticated at the smarthost');
      const raw = got.raw.toString('latin1');
      assert.match(raw, /^DKIM-Signature: [^]*?\bs=e2e;/m);
      const verdict = await dkimVerify(got.raw, { resolver: createDnsResolver(dns.servers, { cacheTtlMs: 0 }) });
      assert.deepEqual(
        verdict.results.map((r) => [r.status.result, r.signingDomain, r.selector]),
        [['pass', 'example.test', 'e2e']],
        JSON.stringify(verdict.results.map((r) => r.status)),
      );
      assert.equal(sink.messages.filter((m) => subjectOf(m.raw) === subject).length, 1, 'one copy');
    });
  }
});

describe('direct MX delivery and SRS forwarding through serve (sink as remote.test MX)', { timeout: 300_000 }, () => {
  const s = scratchDir();
  let sink: Sink;
  let dns: DnsFixture;
  let run: Running | undefined;
  const events = (pred: (e: Event) => boolean) => run!.served.events.filter(pred);
  const attempts = (address: string) => events((e) => e.event === 'outbound-attempt' && e.recipient === address);
  const received = (address: string) => sink.messages.filter((m) => m.to.some((t) => t.toLowerCase() === address.toLowerCase()));
  const bySubject = (subject: string) => (m: SinkMessage) => subjectOf(m.raw) === subject;
  /** The messages in a local user's INBOX (Maildir new/ and cur/), as text. */
  const inbox = (user: string) =>
    ['new', 'cur'].flatMap((sub) => {
      const dir = path.join(s.dir, 'mail', 'example.test', user, sub);
      return existsSync(dir) ? readdirSync(dir).map((f) => readFileSync(path.join(dir, f), 'utf8')) : [];
    });

  before(async () => {
    sink = await startSink({
      tls: 'starttls',
      rcptReplies: {
        'grey@remote.test': ['451 4.7.1 greylisted, try again later', '250'],
        'nobody@remote.test': ['550 5.1.1 <nobody@remote.test>: Recipient address rejected: User unknown'],
        'nobody2@remote.test': ['550 5.1.1 <nobody2@remote.test>: no such user'],
      },
    });
    dns = await startDnsFixture({
      'remote.test': { MX: [{ exchange: 'mx.remote.test', priority: 10 }], TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
      'mx.remote.test': { A: ['127.0.0.1'] },
      'nullmx.test': { MX: [{ exchange: '.', priority: 0 }] },
    });
    const cli = prepare(s.dir, {
      dns: { servers: dns.servers },
      relay: { mxPort: sink.port, schedule: { retrySeconds: [1] } },
    });
    cli(['user', 'add', 'bob@example.test', '--password-stdin'], `${BOB_PASSWORD}\n`);
    cli(['alias', 'add', 'nb-fwd@example.test', 'nobody2@remote.test']);
    cli(['alias', 'add', 'carol-fwd@example.test', 'carol@remote.test']);
    const script = path.join(s.dir, 'redirect.sieve');
    writeFileSync(script, 'redirect "dave@remote.test";\n');
    cli(['sieve', 'put', 'bob@example.test', 'away', script, '--activate']);
    run = await serve(s.dir);
  });

  after(async () => {
    try {
      if (run) assert.equal(await run.served.stop(), 0);
    } finally {
      await sink?.stop();
      await dns?.close();
      s.cleanup();
    }
  });

  test('451 then 250: deferred, delivered on the retry, once', async () => {
    await submit(run!.submission, false, 'grey@remote.test', 'greylisted');
    const got = await waitFor(() => received('grey@remote.test')[0], 30_000, 'the greylisted message');
    assert.equal(subjectOf(got.raw), 'greylisted');
    assert.equal(got.from, 'alice@example.test', 'a local sender is not rewritten');
    const done = await run!.served.waitFor((e) => entryDone(e) && attempts('grey@remote.test').some((a) => a.queueId === e.queueId), 30_000);
    assert.deepEqual(
      attempts('grey@remote.test').map((a) => [a.status, a.reply]),
      [
        ['deferred', '451 4.7.1 greylisted, try again later'],
        ['sent', attempts('grey@remote.test')[1]!.reply],
      ],
    );
    assert.match(String(attempts('grey@remote.test')[0]!.destination), new RegExp(`mx\\.remote\\.test\\[127\\.0\\.0\\.1\\]:${sink.port}`));
    assert.ok(done);
    assert.equal(received('grey@remote.test').length, 1, 'one copy');
  });

  test('550: exactly one bounce to the (local) sender quoting the remote reply, delivered into their INBOX', async () => {
    await submit(run!.submission, false, 'nobody@remote.test', 'to nobody');
    const failed = await run!.served.waitFor((e) => e.event === 'outbound-attempt' && e.recipient === 'nobody@remote.test', 30_000);
    assert.equal(failed.status, 'failed');
    const bounce = await run!.served.waitFor((e) => e.event === 'outbound-bounce' && e.queueId === failed.queueId, 30_000);
    assert.equal(bounce.to, 'alice@example.test');
    await run!.served.waitFor((e) => entryDone(e) && e.queueId === bounce.bounceId, 30_000);
    const sentLocally = run!.served.events.find((e) => e.event === 'outbound-attempt' && e.queueId === bounce.bounceId);
    assert.deepEqual([sentLocally?.recipient, sentLocally?.status, sentLocally?.destination], ['alice@example.test', 'sent', 'local']);
    const dsns = inbox('alice').filter((m) => m.includes('nobody@remote.test'));
    assert.equal(dsns.length, 1, 'one bounce, in the sender\'s INBOX');
    const dsn = dsns[0]!;
    assert.match(dsn, /^Return-Path: <>\r?$/m);
    assert.match(dsn, /report-type=delivery-status/);
    assert.match(dsn, /Final-Recipient: rfc822; nobody@remote\.test\r\nAction: failed\r\nStatus: 5\.1\.1/);
    assert.match(dsn, /Diagnostic-Code: smtp; 550 5\.1\.1 <nobody@remote\.test>: Recipient address rejected: User unknown/);
    assert.match(dsn, /Subject: to nobody/);
    assert.equal(received('nobody@remote.test').length, 0);
    assert.equal(attempts('nobody@remote.test').length, 1, 'a 5xx is not retried');
  });

  test('a message from the null sender (a bounce forwarded by an alias) that fails: no bounce', async () => {
    const r = await sendMx(run!.smtp, '', 'nb-fwd@example.test', 'null sender forwarded');
    assert.match(r.data!, /^250/);
    const failed = await run!.served.waitFor((e) => e.event === 'outbound-attempt' && e.recipient === 'nobody2@remote.test', 30_000);
    assert.equal(failed.status, 'failed');
    // The entry is removed only after any bounce was queued: once it is done, none will come.
    await run!.served.waitFor((e) => entryDone(e) && e.queueId === failed.queueId, 30_000);
    assert.equal(events((e) => e.event === 'outbound-bounce' && e.queueId === failed.queueId).length, 0, 'no bounce to <>');
  });

  test('a null MX (MX 0 .): bounced at once with 556 5.1.10 quoted', async () => {
    await submit(run!.submission, false, 'someone@nullmx.test', 'to a null MX');
    const failed = await run!.served.waitFor((e) => e.event === 'outbound-attempt' && e.recipient === 'someone@nullmx.test', 30_000);
    assert.equal(failed.status, 'failed');
    assert.match(String(failed.reply), /^556 5\.1\.10 /);
    const bounce = await run!.served.waitFor((e) => e.event === 'outbound-bounce' && e.queueId === failed.queueId, 30_000);
    await run!.served.waitFor((e) => entryDone(e) && e.queueId === bounce.bounceId, 30_000);
    const dsns = inbox('alice').filter((m) => m.includes('someone@nullmx.test'));
    assert.equal(dsns.length, 1, 'one bounce, in the sender\'s INBOX');
    assert.match(dsns[0]!, /Diagnostic-Code: smtp; 556 5\.1\.10 nullmx\.test does not accept mail \(null MX\)/);
    assert.equal(attempts('someone@nullmx.test').length, 1, 'bounced at once, not retried');
    assert.ok(sink.rcptLog.every((l) => !l.includes('@nullmx.test')), 'nothing tried at the null MX domain');
  });

  /** A bounce from <> to the SRS address on the MX port reaches the original sender (at the sink). */
  async function bounceBack(srs: string, original: string, subject: string): Promise<void> {
    const r = await sendMx(run!.smtp, '', srs, subject);
    assert.match(r.rcpt, /^250/);
    assert.match(r.data!, /^250/);
    const back = await waitFor(() => sink.messages.find(bySubject(subject)), 30_000, `${subject} at the original sender`);
    assert.deepEqual(back.to.map((a) => a.toLowerCase()), [original.toLowerCase()]);
    assert.equal(back.from, '', 'a bounce stays a bounce');
  }

  test('an alias to a remote address leaves with an SRS0 sender; a bounce to it reaches the original sender; a forged one is refused', async () => {
    assert.match((await sendMx(run!.smtp, 'erin@remote.test', 'carol-fwd@example.test', 'alias forwarded')).data!, /^250/);
    const got = await waitFor(() => sink.messages.find(bySubject('alias forwarded')), 30_000, 'the forwarded message');
    assert.deepEqual(got.to, ['carol@remote.test']);
    assert.match(got.from, /^SRS0=[^=]+=[^=]+=remote\.test=erin@example\.test$/i);
    await bounceBack(got.from, 'erin@remote.test', 'bounce of alias forwarded');
    assert.equal(sink.messages.filter(bySubject('bounce of alias forwarded')).length, 1, 'once');

    const forged = got.from.replace(/=erin@/i, '=mallory@');
    assert.match((await sendMx(run!.smtp, '', forged, 'forged')).rcpt, /^550 5\.1\.1 /);
  });

  test('a Sieve redirect to a remote address leaves with an SRS0 sender; a bounce to it reaches the original sender', async () => {
    assert.match((await sendMx(run!.smtp, 'frank@remote.test', 'bob@example.test', 'sieve redirected')).data!, /^250/);
    const got = await waitFor(() => sink.messages.find(bySubject('sieve redirected')), 30_000, 'the redirected message');
    assert.deepEqual(got.to, ['dave@remote.test']);
    assert.match(got.from, /^SRS0=[^=]+=[^=]+=remote\.test=frank@example\.test$/i);
    await bounceBack(got.from, 'frank@remote.test', 'bounce of sieve redirected');
  });
});

describe('a scratch Postfix as the MX receives what serve delivered directly', { timeout: 180_000 }, () => {
  const s = scratchDir();
  let lmtp: Sink;
  let dns: DnsFixture;
  let postfix: Awaited<ReturnType<typeof startPostfix>> | undefined;
  let run: Running | undefined;

  after(async () => {
    try {
      if (run) assert.equal(await run.served.stop(), 0);
    } finally {
      await postfix?.stop();
      await lmtp?.stop();
      await dns?.close();
      s.cleanup();
    }
  });

  test('submitted to dave@pf.test: Postfix (pf.test MX) takes it and hands it on over LMTP', async () => {
    lmtp = await startSink({ lmtp: true, tls: 'none' });
    postfix = await startPostfix({ domain: 'pf.test', lmtpPort: lmtp.port });
    dns = await startDnsFixture({
      'pf.test': { MX: [{ exchange: 'mx.pf.test', priority: 10 }] },
      'mx.pf.test': { A: ['127.0.0.1'] },
    });
    prepare(s.dir, { dns: { servers: dns.servers }, relay: { mxPort: postfix.smtpPort, schedule: { retrySeconds: [1] } } });
    run = await serve(s.dir);
    await submit(run.submission, false, 'dave@pf.test', 'to postfix');
    const sent = await run.served.waitFor((e) => e.event === 'outbound-attempt' && e.recipient === 'dave@pf.test' && e.status === 'sent', 60_000);
    assert.match(String(sent.reply), /^250 2\.0\.0 Ok: queued as [0-9A-Za-z]+/, postfix.logText());
    const got = await waitFor(() => lmtp.messages.find((m) => subjectOf(m.raw) === 'to postfix'), 60_000, `the message behind Postfix\n${postfix.logText()}`);
    assert.deepEqual(got.to, ['dave@pf.test']);
    assert.equal(got.from, 'alice@example.test');
    assert.match(got.raw.toString(), /^Received: from mx\.example\.test \(/m, 'Postfix recorded our EHLO name');
  });
});
