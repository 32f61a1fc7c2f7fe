// Postfix (the Debian package, a scratch instance on loopback) relays into
// Postino over LMTP, as a site with Postfix in front of Dovecot would: a
// message submitted to Postfix's smtpd ends up in the Postino Maildir with
// Postino's delivery headers, and LMTP's one-reply-per-recipient reaches
// Postfix (an unknown recipient bounces, the others are delivered once).
// Fails, never skips, when postfix or swaks is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { scratchDir } from '../support/tmp.js';
import { startServe } from '../support/serve.js';
import { postino } from '../support/cli.js';
import { cliPath } from '../support/paths.js';
import { findProgram, postfixInstalled, startPostfix, type RunningPostfix } from '../support/postfix.js';
import { SERVICES } from '../../src/config.js';

const run = promisify(execFile);
const DOMAIN = 'example.test';
const PASSWORD = 'a-good-password-1\n';
const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));

async function swaks(smtpPort: number, to: string[], marker: string): Promise<string> {
  const args = [
    '--server', `127.0.0.1:${smtpPort}`,
    '--from', 'x@remote.test',
    '--helo', 'client.remote.test',
    '--header', `Subject: relayed ${marker}`,
    '--header', `Message-Id: <${marker}@remote.test>`,
    '--body', `Body of ${marker}.\nSecond line.\n`,
  ];
  // swaks takes several recipients as one comma-separated --to (a repeated --to replaces the last).
  args.push('--to', to.join(','));
  const { stdout } = await run('swaks', args, { timeout: 30_000 });
  return stdout;
}

/** The header block of a stored message, unfolded, as [name, value] in order. */
function headers(raw: string): Array<[string, string]> {
  const end = raw.search(/\r?\n\r?\n/);
  const block = raw.slice(0, end < 0 ? raw.length : end).replace(/\r?\n[ \t]+/g, ' ');
  return block.split(/\r?\n/).map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as [string, string];
  });
}

/** Polls a Maildir's new/ for the message carrying marker; returns every copy found. */
async function waitForMessage(newDir: string, marker: string, timeoutMs: number, describe: () => string): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = existsSync(newDir)
      ? readdirSync(newDir)
          .map((f) => readFileSync(path.join(newDir, f), 'utf8'))
          .filter((m) => m.includes(`<${marker}@remote.test>`))
      : [];
    if (found.length > 0) return found;
    if (Date.now() > deadline) throw new Error(`no message ${marker} in ${newDir} after ${timeoutMs} ms\n${describe()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Polls the maillog for a line (postlogd writes it a moment after the delivery it reports). */
async function waitForLog(pf: RunningPostfix, re: RegExp, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!re.test(pf.logText())) {
    if (Date.now() > deadline) assert.fail(`no maillog line matching ${re} after ${timeoutMs} ms\n${describe()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function assertPostinoDelivery(raw: string, rcpt: string, marker: string): void {
  const h = headers(raw);
  const names = h.map(([n]) => n);
  // Postfix's own Received ("by postfix.scratch.test (Postfix) with ESMTP") is below what Postino adds.
  const postfixReceived = h.findIndex(([n, v]) => n === 'received' && /\(Postfix\)/.test(v));
  assert.ok(postfixReceived >= 0, `Postfix's Received header is kept:\n${raw.slice(0, 2000)}`);
  const added = h.slice(0, postfixReceived);
  assert.deepEqual(
    added.filter(([n]) => n === 'return-path').map(([, v]) => v),
    ['<x@remote.test>'],
    `one Return-Path with the envelope sender, added by Postino above Postfix's trace:\n${raw.slice(0, 2000)}`,
  );
  assert.deepEqual(
    added.filter(([n]) => n === 'delivered-to').map(([, v]) => v.toLowerCase()),
    [rcpt],
    `one Delivered-To naming the recipient, added by Postino:\n${raw.slice(0, 2000)}`,
  );
  const ours = added.filter(([n]) => n === 'received').map(([, v]) => v);
  assert.equal(ours.length, 1, `Postino adds one Received header above Postfix's:\n${raw.slice(0, 2000)}`);
  // RFC 3848: the protocol of an LMTP hand-off is LMTP (LMTPS/LMTPA/LMTPSA with TLS/AUTH).
  assert.match(ours[0]!, /\bwith LMTPS?A?\b/i, `Postino's Received names the LMTP hop: ${ours[0]}`);
  assert.match(ours[0]!, /;\s*\S.*\d{2}:\d{2}:\d{2}/, `Received ends with a date: ${ours[0]}`);
  assert.ok(names.includes('subject') && raw.includes(`Subject: relayed ${marker}`));
  assert.match(raw, new RegExp(`\\r?\\n\\r?\\nBody of ${marker}\\.\\r?\\nSecond line\\.`), 'the body arrives whole');
}

test('Postfix relays into Postino over LMTP; the message lands in the Maildir with Postino\'s headers', { timeout: 180_000 }, async (t) => {
  // Checked first so a missing peer fails here, with a clear reason.
  assert.ok(postfixInstalled(), 'postfix must be installed (apt-get install postfix): this test fails, it does not skip');
  assert.ok(findProgram('swaks'), 'swaks must be installed (apt-get install swaks)');

  const s = scratchDir('postino-postfix-lmtp-');
  let postfix: RunningPostfix | undefined;
  let served: ReturnType<typeof startServe> | undefined;
  let exitCode: number | null = null;
  try {
    const add = postino(s.dir, ['domain', 'add', DOMAIN, '--postmaster', `alice@${DOMAIN}`, '--password-stdin'], PASSWORD);
    assert.equal(add.code, 0, add.stderr);
    const bob = postino(s.dir, ['user', 'add', `bob@${DOMAIN}`, '--password-stdin'], PASSWORD);
    assert.equal(bob.code, 0, bob.stderr);

    served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], freePorts);
    // `listening` lines come before `ready`: a ready server without an LMTP line has no LMTP listener.
    const listening = await served.waitFor((e) => (e.event === 'listening' && e.service === 'lmtp') || e.event === 'ready', 30_000);
    assert.equal(listening.event, 'listening', `serve is ready without an LMTP listener: ${JSON.stringify(listening)}`);
    const lmtpPort = Number(listening.port);
    assert.ok(lmtpPort > 0, `LMTP port from the log: ${JSON.stringify(listening)}`);

    postfix = await startPostfix({ domain: DOMAIN, lmtpPort });
    const pf = postfix;
    const describe = () => `postfix maillog:\n${pf.logText()}\npostino stderr:\n${served?.stderr() ?? ''}\npostino log:\n${served?.events.map((e) => JSON.stringify(e)).join('\n') ?? ''}`;

    await t.test('one recipient: delivered to alice/new with Return-Path, Delivered-To and an LMTP Received', async () => {
      const marker = `pf-one-${Date.now()}`;
      const out = await swaks(pf.smtpPort, [`alice@${DOMAIN}`], marker);
      assert.match(out, /<-\s+250 2\.0\.0 Ok: queued/, `Postfix accepted the message:\n${out}`);
      const newDir = path.join(s.dir, 'mail', DOMAIN, 'alice', 'new');
      const copies = await waitForMessage(newDir, marker, 30_000, describe);
      assert.equal(copies.length, 1, 'exactly one copy');
      assertPostinoDelivery(copies[0]!, `alice@${DOMAIN}`, marker);
      await waitForLog(pf, new RegExp(`to=<alice@${DOMAIN}>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${lmtpPort},.*status=sent \\(250 `), 30_000, describe);
    });

    await t.test('several recipients: one LMTP reply each; the unknown one bounces in Postfix, the others are delivered once', async () => {
      const marker = `pf-many-${Date.now()}`;
      const out = await swaks(pf.smtpPort, [`alice@${DOMAIN}`, `nobody@${DOMAIN}`, `bob@${DOMAIN}`], marker);
      assert.match(out, /<-\s+250 2\.0\.0 Ok: queued/, `Postfix accepted the message:\n${out}`);
      for (const user of ['alice', 'bob']) {
        const copies = await waitForMessage(path.join(s.dir, 'mail', DOMAIN, user, 'new'), marker, 30_000, describe);
        assert.equal(copies.length, 1, `exactly one copy for ${user}`);
        assertPostinoDelivery(copies[0]!, `${user}@${DOMAIN}`, marker);
      }
      // Postfix logs each recipient's own LMTP reply: the unknown one refused (at RCPT or after DATA), the others sent.
      const relay = `relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${lmtpPort},`;
      await waitForLog(pf, new RegExp(`to=<nobody@${DOMAIN}>, ${relay}.*status=bounced \\(host 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\] said: 550 5\\.1\\.1`), 30_000, describe);
      for (const user of ['alice', 'bob']) {
        await waitForLog(pf, new RegExp(`to=<${user}@${DOMAIN}>, ${relay}.*status=sent \\(250 `), 30_000, describe);
        // Postfix is done with the message: a partial failure must not have made it retry the delivered ones.
        const again = await waitForMessage(path.join(s.dir, 'mail', DOMAIN, user, 'new'), marker, 1_000, describe);
        assert.equal(again.length, 1, `still exactly one copy for ${user}`);
      }
    });
  } finally {
    await postfix?.stop();
    if (served) exitCode = await served.stop();
    s.cleanup();
  }
  assert.equal(exitCode, 0, 'serve exits 0 on SIGTERM');
});
