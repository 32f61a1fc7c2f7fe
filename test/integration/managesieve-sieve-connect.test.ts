// sieve-connect (the Debian package) against a real `postino serve`: it
// uploads, lists, activates and downloads a script over STARTTLS; an invalid
// script is refused with the validator's line:col message; and what was
// uploaded governs the next SMTP delivery (then a replaced active script
// governs the one after), while `postino sieve list` shows the same scripts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { scratchDir } from '../support/tmp.js';
import { startServe } from '../support/serve.js';
import { postino } from '../support/cli.js';
import { cliPath } from '../support/paths.js';
import { openDialog } from '../support/smtp-dialog.js';
import { SERVICES } from '../../src/config.js';

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const PASSWORD = 'a long enough passphrase 77';
const USER = 'bob@example.test';

function sieveConnect(port: number, args: string[]): { code: number; out: string } {
  const r = spawnSync('sieve-connect', ['-s', '127.0.0.1', '-p', String(port), '-u', USER, '--passwordfd', '0', '--notlsverify', ...args], {
    input: PASSWORD,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

async function deliver(smtpPort: number, subject: string): Promise<void> {
  const d = await openDialog(smtpPort);
  try {
    await d.send('EHLO client.remote.test');
    assert.match(await d.send('MAIL FROM:<sender@remote.test>'), /^250 /);
    assert.match(await d.send(`RCPT TO:<${USER}>`), /^250 /);
    assert.match(await d.send('DATA'), /^354 /);
    const [reply] = await d.data(`From: sender@remote.test\r\nTo: ${USER}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@remote.test>\r\n\r\nbody\r\n`);
    assert.match(reply!, /^250 /);
  } finally {
    d.close();
  }
}

async function counts(imapsPort: number): Promise<Record<string, number>> {
  const c = new ImapFlow({ host: '127.0.0.1', port: imapsPort, secure: true, auth: { user: USER, pass: PASSWORD }, tls: { rejectUnauthorized: false }, logger: false });
  await c.connect();
  try {
    const out: Record<string, number> = {};
    for (const box of ['INBOX', 'Junk', 'Archive']) {
      const status = await c.status(box, { messages: true });
      out[box] = status ? (status.messages ?? 0) : -1;
    }
    return out;
  } finally {
    await c.logout();
  }
}

test('sieve-connect uploads, lists, activates, downloads; the active script governs delivery', { timeout: 180_000 }, async () => {
  const probe = spawnSync('sieve-connect', ['--help'], { encoding: 'utf8' });
  assert.ok(probe.status !== null && !probe.error, 'sieve-connect is installed (Debian package sieve-connect)');
  const s = scratchDir();
  try {
    const add = postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', USER, '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(add.code, 0, add.stderr);
    const served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], { ...freePorts, POSTINO_DEMO: '0' });
    try {
      const port = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'managesieve')).port);
      const smtp = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'smtp')).port);
      const imaps = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'imaps')).port);

      const junkFile = path.join(s.dir, 'junk.sieve');
      const junk = 'require "fileinto";\nif header :contains "subject" "offer" {\n  fileinto "Junk";\n}\n';
      writeFileSync(junkFile, junk);
      const up = sieveConnect(port, ['--upload', '--localsieve', junkFile, '--remotesieve', 'filters']);
      assert.equal(up.code, 0, up.out);

      const listed = sieveConnect(port, ['--list']);
      assert.equal(listed.code, 0, listed.out);
      assert.match(listed.out, /^"filters"$/m);

      // Not active yet: delivery keeps to the INBOX.
      await deliver(smtp, 'an offer before activation');
      assert.deepEqual(await counts(imaps), { INBOX: 1, Junk: 0, Archive: 0 });

      const act = sieveConnect(port, ['--activate', '--remotesieve', 'filters']);
      assert.equal(act.code, 0, act.out);
      assert.match(sieveConnect(port, ['--list']).out, /^"filters" ACTIVE$/m);

      const back = path.join(s.dir, 'downloaded.sieve');
      const down = sieveConnect(port, ['--download', '--remotesieve', 'filters', '--localsieve', back]);
      assert.equal(down.code, 0, down.out);
      assert.equal(readFileSync(back, 'utf8'), junk);

      // The CLI shows the same scripts.
      const cli = postino(s.dir, ['sieve', 'list', USER, '--json']);
      assert.deepEqual(JSON.parse(cli.stdout), [{ name: 'filters', active: true }]);

      await deliver(smtp, 'a special offer');
      await deliver(smtp, 'a letter');
      assert.deepEqual(await counts(imaps), { INBOX: 2, Junk: 1, Archive: 0 });

      // An invalid script: refused with the positioned message, nothing stored.
      const badFile = path.join(s.dir, 'bad.sieve');
      writeFileSync(badFile, 'require "fileinto";\nif header :contains "subject" { fileinto "Junk"; }\n');
      const bad = sieveConnect(port, ['--upload', '--localsieve', badFile, '--remotesieve', 'filters']);
      assert.notEqual(bad.code, 0);
      const check = postino(s.dir, ['sieve', 'check', badFile]);
      assert.equal(check.code, 1);
      assert.match(check.stderr, /^2:\d+: /);
      assert.ok(bad.out.includes(check.stderr.trim()), `sieve-connect shows the validator's message: ${bad.out}`);
      const again = path.join(s.dir, 'again.sieve');
      assert.equal(sieveConnect(port, ['--download', '--remotesieve', 'filters', '--localsieve', again]).code, 0);
      assert.equal(readFileSync(again, 'utf8'), junk, 'the active script is unchanged');

      // Replacing the active script: the next delivery follows the new text.
      const archiveFile = path.join(s.dir, 'archive.sieve');
      writeFileSync(archiveFile, 'require "fileinto";\nif header :contains "subject" "offer" {\n  fileinto "Archive";\n}\n');
      assert.equal(sieveConnect(port, ['--upload', '--localsieve', archiveFile, '--remotesieve', 'filters']).code, 0);
      await deliver(smtp, 'another offer');
      assert.deepEqual(await counts(imaps), { INBOX: 2, Junk: 1, Archive: 1 });

      // Deactivated: back to the INBOX.
      assert.equal(sieveConnect(port, ['--deactivate']).code, 0);
      await deliver(smtp, 'a last offer');
      assert.deepEqual(await counts(imaps), { INBOX: 3, Junk: 1, Archive: 1 });
    } finally {
      assert.equal(await served.stop(), 0);
    }
  } finally {
    s.cleanup();
  }
});
