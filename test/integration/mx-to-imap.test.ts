// The whole path: a message sent to the MX over SMTP, filtered by the
// user's Sieve script, appears in IMAP in the folder Sieve chose with the
// flags Sieve set, and an IDLE session hears of a delivery at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { ImapFlow } from 'imapflow';
import { scratchDir } from '../support/tmp.js';
import { postino } from '../support/cli.js';
import { startServe } from '../support/serve.js';
import { cliPath, fixturesDir } from '../support/paths.js';
import { SERVICES } from '../../src/config.js';

const PASSWORD = 'tangerine-otter-42';

test('SMTP -> Sieve -> Maildir -> IMAP: folders, flags and IDLE', { timeout: 120_000 }, async () => {
  const s = scratchDir();
  const env = Object.fromEntries(SERVICES.map((x) => [`POSTINO_${x.toUpperCase()}_PORT`, '0']));
  writeFileSync(path.join(s.dir, 'postino.json'), JSON.stringify({ hostname: 'mx.example.test', smtp: { greetDelayMs: 0 }, dns: { servers: ['127.0.0.1:9'] } }));
  assert.equal(postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', 'dave@example.test', '--password-stdin'], `${PASSWORD}\n`).code, 0);
  assert.equal(postino(s.dir, ['sieve', 'put', 'dave@example.test', 'rules', path.join(fixturesDir, 'sieve', 'delivery', 'fileinto-create.sieve'), '--activate']).code, 0);
  const served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], env);
  let imap: ImapFlow | undefined;
  try {
    const smtpPort = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'smtp')).port);
    const imapsPort = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'imaps')).port);
    imap = new ImapFlow({ host: '127.0.0.1', port: imapsPort, secure: true, auth: { user: 'dave@example.test', pass: PASSWORD }, tls: { rejectUnauthorized: false }, logger: false });
    await imap.connect();
    await imap.mailboxOpen('INBOX');
    // imapflow IDLEs on its own while the mailbox is open and nothing else runs.
    const heard = new Promise<number>((resolve, reject) => {
      imap!.on('exists', (d: { count: number }) => resolve(d.count));
      setTimeout(() => reject(new Error('no EXISTS within 20 s')), 20_000).unref();
    });
    await new Promise((r) => setTimeout(r, 300));
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false, ignoreTLS: true });
    await transport.sendMail({ from: 'someone@remote.test', to: 'dave@example.test', subject: 'hello dave', text: 'plain mail' });
    await transport.sendMail({ from: 'list@remote.test', to: 'dave@example.test', subject: 'the weekly newsletter', text: 'news' });
    transport.close();
    assert.equal(await heard, 1, 'IDLE heard the INBOX delivery');

    const inbox = await imap.fetchOne('*', { envelope: true, flags: true }, { uid: false });
    assert.ok(inbox);
    assert.equal(inbox.envelope?.subject, 'hello dave');

    const news = await imap.status('Lists/News', { messages: true });
    assert.equal(news && news.messages, 1);
    await imap.mailboxOpen('Lists/News');
    const filed = await imap.fetchOne('1', { envelope: true, flags: true });
    assert.ok(filed);
    assert.equal(filed.envelope?.subject, 'the weekly newsletter');
    assert.ok(filed.flags?.has('\\Flagged'), 'Sieve :flags \\Flagged');
    assert.ok(filed.flags?.has('$News'), 'Sieve :flags $News');
    await imap.logout();
  } finally {
    imap?.close();
    assert.equal(await served.stop(), 0);
    s.cleanup();
  }
});
