// SIGKILL a storing process at random points, 60 times: no half message is
// ever visible, and every message it reported stored is there, whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { openStorage } from '../../storage/index.js';
import { scratchDir } from '../support/tmp.js';
import { makeMessage, messageId } from '../support/messages.js';
import { repoRoot } from '../support/paths.js';
import { prng } from '../support/prng.js';

const worker = path.join(repoRoot, 'dist', 'test', 'support', 'append-worker.js');
const TRIALS = 60;


function expectedSize(id: string): number {
  const i = Number(id.slice(id.lastIndexOf('-') + 1));
  return 2000 + (i % 7) * 500;
}

test(`a storing process killed with SIGKILL at random points (${TRIALS} trials) never leaves a half message and never loses a reported one`, { timeout: 300_000 }, async () => {
  const scratch = scratchDir();
  const random = prng(20261123);
  try {
    const setup = openStorage(scratch.dir);
    await setup.directory.addDomain('example.test');
    const account = await setup.directory.addAccount({ address: 'crash@example.test', passwordHash: 'x', scramSha256: null, quota: null });
    await setup.mail.provisionAccount(account.id);
    setup.close();
    const root = path.join(scratch.dir, 'mail', 'example.test', 'crash');
    const reportedEver = new Set<string>();
    let killedMidway = 0;

    for (let trial = 0; trial < TRIALS; trial++) {
      const child = spawn(process.execPath, [worker, scratch.dir, 'crash@example.test', '100000', `t${trial}`, '8'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      let onReady: () => void = () => {};
      const ready = new Promise<void>((r) => (onReady = r));
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready\n')) onReady();
      });
      // Kill at a random point once storing has begun (start-up time varies with load).
      await ready;
      const delay = Math.floor(random() * 250);
      await new Promise((r) => setTimeout(r, delay));
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGKILL');
      await exited;
      const reported = out
        .split('\n')
        .filter((l) => l.startsWith('stored '))
        .map((l) => l.split(' ')[1]!);
      if (reported.length > 0) killedMidway++;
      for (const id of reported) reportedEver.add(id);

      // What a restarting server does: reconcile the index with the Maildir.
      const storage = openStorage(scratch.dir);
      await storage.mail.recoverAccount(account.id);
      const inbox = (await storage.mail.getMailbox(account.id, 'INBOX'))!;
      const present = new Set<string>();
      for (const rec of await storage.mail.listMessages(inbox.id)) {
        const raw = await storage.mail.readMessage(inbox.id, rec.uid);
        const id = messageId(raw);
        assert.ok(id, `trial ${trial}: uid ${rec.uid} is one of ours`);
        assert.deepEqual(raw, makeMessage(id, expectedSize(id)), `trial ${trial}: ${id} is whole`);
        assert.equal(rec.size, raw.length);
        present.add(id);
      }
      for (const id of reported) assert.ok(present.has(id), `trial ${trial}: reported ${id} is stored`);
      // Nothing outside the index is visible either: every file in new/ and cur/ is indexed and whole.
      const visible = ['new', 'cur'].flatMap((d) => readdirSync(path.join(root, d)).map((f) => path.join(root, d, f)));
      assert.equal(visible.length, present.size, `trial ${trial}: files and index agree`);
      for (const file of visible) {
        const raw = readFileSync(file);
        const id = messageId(raw)!;
        assert.deepEqual(raw, makeMessage(id, expectedSize(id)));
      }
      // Start the next trial from an empty mailbox so each check stays small.
      await storage.mail.expunge(inbox.id, (await storage.mail.listMessages(inbox.id)).map((r) => r.uid));
      storage.close();
    }
    assert.ok(killedMidway >= TRIALS / 2, `most kills hit a process that was storing (${killedMidway}/${TRIALS})`);
    assert.ok(reportedEver.size > 0);
  } finally {
    scratch.cleanup();
  }
});
