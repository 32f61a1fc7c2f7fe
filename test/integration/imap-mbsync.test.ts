// mbsync (isync) syncs a 500-message account both ways, twice, with no
// errors and no duplicates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startImapHarness, USER, PASSWORD } from './imap-harness.js';
import { makeMessage } from '../support/messages.js';

const haveMbsync = spawnSync('mbsync', ['--version'], { stdio: 'ignore' }).status === 0;

function mbsync(config: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('mbsync', ['-c', config, '-a'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out });
    });
  });
}

function localCount(dir: string): number {
  return ['cur', 'new'].reduce((n, sub) => n + readdirSync(path.join(dir, sub)).length, 0);
}

test('mbsync: a 500-message account syncs both ways twice, no errors, no duplicates', { skip: !haveMbsync, timeout: 300_000 }, async () => {
  const h = await startImapHarness();
  try {
    for (let i = 0; i < 500; i++) {
      await h.storage.mail.append(h.accountId, i % 5 === 0 ? 'Archive' : 'INBOX', makeMessage(`sync-${i}`, 2048), { flags: i % 3 === 0 ? ['\\Seen'] : [] });
    }
    const local = path.join(h.dir, 'local');
    mkdirSync(local, { recursive: true });
    const config = path.join(h.dir, 'mbsyncrc');
    writeFileSync(
      config,
      [
        'IMAPAccount postino',
        'Host localhost',
        `Port ${h.tlsPort}`,
        `User ${USER}`,
        `Pass "${PASSWORD}"`,
        'SSLType IMAPS',
        `CertificateFile ${path.join(h.dir, 'tls', 'selfsigned.crt')}`,
        '',
        'IMAPStore remote',
        'Account postino',
        '',
        'MaildirStore local',
        `Path ${local}/`,
        `Inbox ${local}/INBOX`,
        'SubFolders Verbatim',
        '',
        'Channel sync',
        'Far :remote:',
        'Near :local:',
        'Patterns *',
        'Create Both',
        'Expunge Both',
        'SyncState *',
        '',
      ].join('\n'),
    );
    const first = await mbsync(config);
    assert.equal(first.code, 0, first.out);
    assert.equal(localCount(path.join(local, 'INBOX')), 400);
    assert.equal(localCount(path.join(local, 'Archive')), 100);

    // Both sides change: new local messages go up, new server messages come down.
    for (let i = 0; i < 20; i++) {
      writeFileSync(path.join(local, 'INBOX', 'new', `${Date.now()}.local${i}.host`), makeMessage(`local-${i}`, 1024));
    }
    for (let i = 0; i < 30; i++) await h.storage.mail.append(h.accountId, 'INBOX', makeMessage(`remote-${i}`, 1024));
    const second = await mbsync(config);
    assert.equal(second.code, 0, second.out);
    const inbox = h.storage.mail.getMailbox(h.accountId, 'INBOX')!;
    assert.equal(inbox.messages, 450, 'server: 400 + 30 + 20, no duplicates');
    assert.equal(localCount(path.join(local, 'INBOX')), 450, 'local: the same');

    // A third run changes nothing.
    const third = await mbsync(config);
    assert.equal(third.code, 0, third.out);
    assert.equal(h.storage.mail.getMailbox(h.accountId, 'INBOX')!.messages, 450);
    assert.equal(localCount(path.join(local, 'INBOX')), 450);
  } finally {
    await h.close();
  }
});
