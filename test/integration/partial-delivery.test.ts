// Against a real `postino serve` over TCP, with accounts and aliases changed
// by the CLI while it serves:
// - an alias one of whose targets was removed still delivers to the others,
//   with a DSN for the dead one (none to the null sender) and a log line;
//   only with no live target left is RCPT refused (550 5.1.1);
// - a message stored for one recipient and failing temporarily for another
//   (a full mailbox) is answered 250, the rest is retried by serve from the
//   local-retry queue once the cause is gone, and no copy arrives twice;
//   with nothing stored the answer stays 451 for all. The same for LMTP (an
//   alias half stored) and for `postino deliver`.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { scratchDir } from '../support/tmp.js';
import { postino } from '../support/cli.js';
import { startServe, type Served } from '../support/serve.js';
import { openDialog } from '../support/smtp-dialog.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';
import { cliPath } from '../support/paths.js';
import { SERVICES } from '../../src/config.js';

const PASSWORD = 'violet-harbor-93-quartz';

interface QueueRow {
  id: string;
  sender: string;
  recipients: string[];
  reason: string;
  lastError: string | null;
}

describe('alias targets removed, messages stored in part: real serve', { timeout: 300_000 }, () => {
  const s = scratchDir();
  let served: Served;
  let smtpPort = 0;
  let lmtpPort = 0;
  let imapsPort = 0;
  let dns: DnsFixture;
  const cli = (args: string[], stdin?: string) => {
    const r = postino(s.dir, args, stdin);
    assert.equal(r.code, 0, r.stderr);
    return r;
  };
  const queue = () => JSON.parse(cli(['queue', 'list', '--json']).stdout) as QueueRow[];
  const localRetries = () => queue().filter((e) => e.reason === 'local-retry');
  const bounces = () => queue().filter((e) => e.reason === 'bounce');
  /** Copies of the message with this subject in the user's Maildir (new/ and cur/ of INBOX). */
  const copies = (user: string, subject: string) =>
    ['new', 'cur'].flatMap((sub) => {
      const dir = path.join(s.dir, 'mail', 'example.test', user, sub);
      return existsSync(dir) ? readdirSync(dir).filter((f) => readFileSync(path.join(dir, f), 'utf8').includes(`\r\nSubject: ${subject}\r\n`)) : [];
    }).length;
  /** Subjects in the user's INBOX, over IMAPS. */
  async function imapSubjects(user: string): Promise<string[]> {
    const c = new ImapFlow({ host: '127.0.0.1', port: imapsPort, secure: true, auth: { user, pass: PASSWORD }, tls: { rejectUnauthorized: false }, logger: false });
    await c.connect();
    try {
      await c.mailboxOpen('INBOX');
      const out: string[] = [];
      for await (const m of c.fetch('1:*', { envelope: true })) out.push(m.envelope?.subject ?? '');
      return out;
    } catch (err) {
      if (/Invalid messageset|empty/i.test(String(err))) return [];
      throw err;
    } finally {
      await c.logout();
    }
  }
  /** Waits for a log event that comes after the events seen so far. */
  const nextEvent = (pred: (e: Record<string, unknown>) => boolean) => {
    const since = served.events.length;
    return (after: () => void) => {
      after();
      return served.waitFor((e) => served.events.indexOf(e) >= since && pred(e), 60_000);
    };
  };
  async function send(port: number, from: string, rcpts: string[], subject: string, lmtp = false): Promise<{ rcpt: string[]; data: string[] }> {
    const d = await openDialog(port);
    try {
      await d.send(lmtp ? 'LHLO mta.remote.test' : 'EHLO client.remote.test');
      assert.match(await d.send(`MAIL FROM:<${from}>`), /^250/);
      const rcpt: string[] = [];
      for (const r of rcpts) rcpt.push(await d.send(`RCPT TO:<${r}>`));
      if (!rcpt.some((r) => r.startsWith('250'))) return { rcpt, data: [] };
      assert.match(await d.send('DATA'), /^354/);
      const accepted = rcpt.filter((r) => r.startsWith('250')).length;
      const data = await d.data(`From: <${from || 'mailer-daemon@remote.test'}>\r\nTo: <${rcpts[0]}>\r\nSubject: ${subject}\r\n\r\nbody of ${subject}\r\n`, lmtp ? accepted : 1);
      return { rcpt, data };
    } finally {
      d.close();
    }
  }

  before(async () => {
    dns = await startDnsFixture({ 'remote.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] } });
    // Remote mail (the DSNs checked here) waits in the outbound queue: nothing listens at the smarthost's port.
    const relay = { smarthost: { host: '127.0.0.1', port: 1, tls: 'opportunistic' } };
    writeFileSync(path.join(s.dir, 'postino.json'), JSON.stringify({ hostname: 'mx.example.test', smtp: { greetDelayMs: 0 }, dns: { servers: dns.servers }, relay }));
    cli(['domain', 'add', 'example.test', '--postmaster', 'alice@example.test', '--password-stdin'], `${PASSWORD}\n`);
    for (const u of ['bob', 'carol', 'erin', 'frank', 'gina']) cli(['user', 'add', `${u}@example.test`, '--password-stdin'], `${PASSWORD}\n`);
    // dave's mailbox takes no message: RCPT passes (nothing used yet), the store fails with 452 4.2.2.
    cli(['user', 'add', 'dave@example.test', '--password-stdin', '--quota', '100'], `${PASSWORD}\n`);
    const env = { ...Object.fromEntries(SERVICES.map((x) => [`POSTINO_${x.toUpperCase()}_PORT`, '0'])), POSTINO_DEMO: '0' };
    served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], env);
    smtpPort = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'smtp')).port);
    lmtpPort = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'lmtp')).port);
    imapsPort = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'imaps')).port);
    await served.waitFor((e) => e.event === 'ready');
  });

  after(async () => {
    try {
      if (served) assert.equal(await served.stop(), 0);
    } finally {
      await dns?.close();
      s.cleanup();
    }
  });

  test('an alias with a removed target: the live target gets the mail, the sender a DSN for the dead one, <> none; no live target: 550 5.1.1', async () => {
    cli(['alias', 'add', 'ops@example.test', 'bob@example.test', 'carol@example.test']);
    const removed = cli(['user', 'remove', 'carol@example.test']);
    assert.match(removed.stderr, /warning: alias ops@example\.test points to carol@example\.test \(its other targets still get its mail/);

    const first = await send(smtpPort, 'sender@remote.test', ['ops@example.test'], 'ops one');
    assert.match(first.rcpt[0]!, /^250/);
    assert.match(first.data[0]!, /^250 /);
    assert.deepEqual((await imapSubjects('bob@example.test')).filter((x) => x === 'ops one'), ['ops one']);
    const dsns = bounces();
    assert.equal(dsns.length, 1);
    assert.deepEqual([dsns[0]!.sender, dsns[0]!.recipients], ['', ['sender@remote.test']]);
    const dsn = readFileSync(path.join(s.dir, 'queue', `${dsns[0]!.id}.entry`), 'utf8');
    assert.match(dsn, /report-type=delivery-status/);
    assert.match(dsn, /Original-Recipient: rfc822; ops@example\.test\r\nFinal-Recipient: rfc822; carol@example\.test\r\nAction: failed\r\nStatus: 5\.1\.1/);
    assert.match(dsn, /Subject: ops one/, 'the DSN carries the original headers');
    assert.ok(served.events.some((e) => e.event === 'alias-target-missing' && e.target === 'carol@example.test' && e.alias === 'ops@example.test' && e.dsn === true));

    const second = await send(smtpPort, '', ['ops@example.test'], 'ops two');
    assert.match(second.data[0]!, /^250 /);
    assert.deepEqual((await imapSubjects('bob@example.test')).filter((x) => x.startsWith('ops')), ['ops one', 'ops two']);
    assert.equal(bounces().length, 1, 'no DSN to the null sender');
    assert.ok(served.events.some((e) => e.event === 'alias-target-missing' && e.target === 'carol@example.test' && e.dsn === false));

    const last = cli(['user', 'remove', 'bob@example.test']);
    assert.match(last.stderr, /warning: alias ops@example\.test points to bob@example\.test \(it has no other target: its mail is refused\)/);
    const none = await send(smtpPort, 'sender@remote.test', ['ops@example.test'], 'ops three');
    assert.match(none.rcpt[0]!, /^550 5\.1\.1 /);
  });

  test('SMTP, two recipients, one mailbox full: 250, the good copy stored once, the other stored once by the local retry', async () => {
    const { rcpt, data } = await send(smtpPort, 'sender@remote.test', ['erin@example.test', 'dave@example.test'], 'partial one');
    assert.deepEqual(rcpt.map((r) => r.slice(0, 3)), ['250', '250']);
    assert.match(data[0]!, /^250 2\.0\.0 /, 'a 451 here would make the sender store erin\'s copy again');
    assert.deepEqual((await imapSubjects('erin@example.test')).filter((x) => x === 'partial one'), ['partial one']);
    assert.equal(copies('dave', 'partial one'), 0);
    const kept = localRetries();
    assert.deepEqual(kept.map((e) => [e.sender, e.recipients]), [['sender@remote.test', ['dave@example.test']]]);
    assert.ok(served.events.some((e) => e.event === 'local-retry-queued' && /452 4\.2\.2/.test(String(e.why))));

    // Still full: the retry is deferred, nothing stored anywhere.
    const deferred = nextEvent((e) => e.event === 'local-retry-deferred');
    await deferred(() => cli(['queue', 'flush']));
    assert.equal(copies('dave', 'partial one'), 0);
    assert.match(localRetries()[0]?.lastError ?? '', /^452 4\.2\.2/);

    // The cause fixed: the retry stores dave's copy, once; erin's stays one.
    cli(['user', 'quota', 'dave@example.test', 'none']);
    const done = nextEvent((e) => e.event === 'local-retry-done');
    await done(() => cli(['queue', 'flush']));
    assert.equal(copies('dave', 'partial one'), 1);
    assert.deepEqual((await imapSubjects('dave@example.test')).filter((x) => x === 'partial one'), ['partial one']);
    assert.equal(copies('erin', 'partial one'), 1);
    assert.deepEqual(localRetries(), []);
    // Another flush finds nothing to do.
    cli(['queue', 'flush']);
    await new Promise((r) => setTimeout(r, 6_000));
    assert.equal(copies('dave', 'partial one'), 1);
    assert.equal(copies('erin', 'partial one'), 1);
  });

  test('SMTP, nothing stored: "try again" for all (here 452 4.2.2), nothing kept (the sender retries everything)', async () => {
    cli(['user', 'quota', 'frank@example.test', '100']);
    cli(['user', 'quota', 'gina@example.test', '100']);
    const { data } = await send(smtpPort, 'sender@remote.test', ['frank@example.test', 'gina@example.test'], 'nothing stored');
    assert.match(data[0]!, /^452 4\.2\.2 /);
    assert.equal(copies('frank', 'nothing stored') + copies('gina', 'nothing stored'), 0);
    assert.deepEqual(localRetries(), []);
    cli(['user', 'quota', 'frank@example.test', 'none']);
    cli(['user', 'quota', 'gina@example.test', 'none']);
  });

  test('LMTP keeps its answer per recipient; an alias stored in part is 250 and its rest retried locally', async () => {
    cli(['user', 'quota', 'dave@example.test', '100']);
    cli(['alias', 'add', 'team@example.test', 'erin@example.test', 'dave@example.test']);
    cli(['user', 'add', 'hank@example.test', '--password-stdin', '--quota', '100'], `${PASSWORD}\n`);
    const { rcpt, data } = await send(lmtpPort, 'sender@remote.test', ['team@example.test', 'frank@example.test', 'hank@example.test'], 'lmtp half', true);
    assert.deepEqual(rcpt.map((r) => r.slice(0, 3)), ['250', '250', '250']);
    assert.match(data[0]!, /^250 2\.0\.0 <team@example\.test> \S+ Queued for local delivery/);
    assert.match(data[1]!, /^250 2\.0\.0 <frank@example\.test> \S+ Saved/);
    assert.match(data[2]!, /^452 4\.2\.2 /, 'a recipient with nothing stored is still asked again');
    assert.equal(copies('erin', 'lmtp half'), 1);
    assert.equal(copies('dave', 'lmtp half'), 0);
    assert.deepEqual(localRetries().map((e) => e.recipients), [['team@example.test']]);

    cli(['user', 'quota', 'dave@example.test', 'none']);
    const done = nextEvent((e) => e.event === 'local-retry-done');
    await done(() => cli(['queue', 'flush']));
    assert.equal(copies('dave', 'lmtp half'), 1);
    assert.equal(copies('erin', 'lmtp half'), 1);
  });

  test('postino deliver: stored for one, the other full: exit 0 (not 75), the rest retried by serve, once', async () => {
    cli(['user', 'quota', 'dave@example.test', '100']);
    const msg = 'From: <sender@remote.test>\r\nTo: <erin@example.test>\r\nSubject: lda half\r\n\r\nbody\r\n';
    const r = postino(s.dir, ['deliver', '--from', 'sender@remote.test', '--to', 'erin@example.test', '--to', 'dave@example.test'], msg);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /local-retry-queued/);
    assert.equal(copies('erin', 'lda half'), 1);
    assert.equal(copies('dave', 'lda half'), 0);
    cli(['user', 'quota', 'dave@example.test', 'none']);
    const done = nextEvent((e) => e.event === 'local-retry-done');
    await done(() => cli(['queue', 'flush']));
    assert.equal(copies('dave', 'lda half'), 1);
    assert.equal(copies('erin', 'lda half'), 1);

    // Nothing stored: still 75, the MTA retries.
    cli(['user', 'quota', 'dave@example.test', '100']);
    const none = postino(s.dir, ['deliver', '--from', 'sender@remote.test', '--to', 'dave@example.test'], msg.replace('lda half', 'lda none'));
    assert.equal(none.code, 75, none.stderr);
    cli(['user', 'quota', 'dave@example.test', 'none']);
  });
});
