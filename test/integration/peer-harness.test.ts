// The real-peer harnesses on their own, without Postino: a scratch Postfix
// relays to a scratch Dovecot LMTP, so a failure in postfix-lmtp.test.ts or
// bench/smtp.ts can be told apart from a broken harness. Fails, never skips,
// when the packages are missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { startPostfix, type RunningPostfix } from '../support/postfix.js';
import { startDovecotLmtp, type RunningDovecot } from '../support/dovecot-lmtp.js';

const run = promisify(execFile);

async function waitForFile(dir: string, marker: string, timeoutMs: number, describe: () => string): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const sub of ['new', 'cur']) {
      const d = path.join(dir, sub);
      if (!existsSync(d)) continue;
      for (const f of readdirSync(d)) {
        const text = readFileSync(path.join(d, f), 'utf8');
        if (text.includes(marker)) return text;
      }
    }
    if (Date.now() > deadline) assert.fail(`no message with ${marker} in ${dir} after ${timeoutMs} ms\n${describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Reads one IMAP tagged exchange over a plain socket. */
async function imapLogin(port: number, user: string, password: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let sent = false;
    socket.setTimeout(10_000, () => socket.destroy(new Error(`IMAP timeout: ${text}`)));
    socket.on('data', (d: Buffer) => {
      text += d.toString();
      if (!sent && text.includes('\r\n')) {
        sent = true;
        socket.write(`a LOGIN "${user}" "${password}"\r\nb STATUS INBOX (MESSAGES)\r\nc LOGOUT\r\n`);
      }
      if (/^c OK/m.test(text)) {
        socket.end();
        resolve(text);
      }
    });
    socket.on('error', reject);
  });
}

test('scratch Postfix relays to scratch Dovecot LMTP on loopback, and both stop cleanly', { timeout: 120_000 }, async () => {
  let dovecot: RunningDovecot | undefined;
  let postfix: RunningPostfix | undefined;
  try {
    dovecot = await startDovecotLmtp({ users: ['carol@example.test'] });
    postfix = await startPostfix({ domain: 'example.test', lmtpPort: dovecot.lmtpPort });
    const dc = dovecot;
    const pf = postfix;
    const describe = () => `postfix maillog:\n${pf.logText()}\ndovecot log:\n${dc.logText()}`;
    assert.ok(existsSync(path.join(pf.dir, 'queue', 'pid', 'master.pid')), 'the queue is the scratch one');

    const marker = `harness-${Date.now()}`;
    const { stdout } = await run('swaks', ['--server', `127.0.0.1:${pf.smtpPort}`, '--from', 'x@remote.test', '--to', 'carol@example.test', '--header', `Subject: ${marker}`], { timeout: 30_000 });
    assert.match(stdout, /<-\s+250 2\.0\.0 Ok: queued/);
    const text = await waitForFile(dc.maildirOf('carol@example.test'), marker, 30_000, describe);
    assert.match(text, /^Return-Path: <x@remote\.test>/m);
    assert.match(text, /by postfix\.scratch\.test \(Postfix\) with ESMTP/);

    // Mail for any other domain never leaves: Postfix refuses to relay it.
    const relay = await run('swaks', ['--server', `127.0.0.1:${pf.smtpPort}`, '--from', 'x@remote.test', '--to', 'y@elsewhere.test', '--quit-after', 'RCPT'], { timeout: 30_000 }).catch((e: { stdout: string }) => e);
    assert.match(relay.stdout, /<\*\*\s+554 5\.7\.1 .*Relay access denied/);

    const imap = await imapLogin(dc.imapPort, 'carol@example.test', dc.password);
    assert.match(imap, /^a OK/m, imap);
    assert.match(imap, /\* STATUS INBOX \(MESSAGES 1\)/, imap);
  } finally {
    const dir = postfix?.dir;
    await postfix?.stop();
    await dovecot?.stop();
    if (dir) assert.ok(!existsSync(dir), 'the scratch Postfix dir is removed');
  }
});
