// 1,000 deliveries from 8 concurrent writer processes: the Maildir and the
// index agree, and `postino reindex` after the index is lost restores every
// message with the same UID and flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
// The SQLite + Maildir backend's own parts: this test looks at its files and index directly.
import { openSqliteParts as openStorage } from '../../storage/index.js';
import { parseFileName } from '../../storage/maildir/names.js';
import { scratchDir } from '../support/tmp.js';
import { messageId, makeMessage } from '../support/messages.js';
import { cliPath, repoRoot } from '../support/paths.js';

const worker = path.join(repoRoot, 'dist', 'test', 'support', 'append-worker.js');

function runWorker(dataDir: string, address: string, count: number, prefix: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [worker, dataDir, address, String(count), prefix, '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(out.trim().split('\n')) : reject(new Error(`worker exit ${code}: ${err}`))));
  });
}

test('8 concurrent writer processes, 1,000 deliveries: Maildir and index agree; reindex restores UIDs and flags', { timeout: 180_000 }, async () => {
  const scratch = scratchDir();
  try {
    const setup = openStorage(scratch.dir);
    setup.directory.addDomain('example.test');
    const account = setup.directory.addAccount({ address: 'bulk@example.test', passwordHash: 'x', scramSha256: null, quota: null });
    setup.mail.provisionAccount(account.id);
    setup.close();

    const reports = await Promise.all(Array.from({ length: 8 }, (_, w) => runWorker(scratch.dir, 'bulk@example.test', 125, `w${w}`)));
    const reported = new Map<string, number>();
    for (const line of reports.flat().filter((l) => l.startsWith('stored '))) {
      const [, id, uid] = line.split(' ');
      reported.set(id!, Number(uid));
    }
    assert.equal(reported.size, 1000);
    assert.equal(new Set(reported.values()).size, 1000, 'every UID is unique');

    const storage = openStorage(scratch.dir);
    const inbox = storage.mail.getMailbox(account.id, 'INBOX')!;
    const records = storage.mail.listMessages(inbox.id);
    assert.equal(records.length, 1000);
    assert.deepEqual(records.map((r) => r.uid), [...Array(1000).keys()].map((i) => i + 1));
    assert.equal(inbox.uidNext, 1001);

    // Every file has a row and every row a file, with the same UID, size and flags.
    const root = path.join(scratch.dir, 'mail', 'example.test', 'bulk');
    const files = ['new', 'cur'].flatMap((d) => readdirSync(path.join(root, d)).map((f) => `${d}/${f}`));
    assert.equal(files.length, 1000);
    const byUid = new Map(records.map((r) => [r.uid, r]));
    for (const rel of files) {
      const parsed = parseFileName(rel.slice(4));
      const rec = byUid.get(parsed.uid!);
      assert.ok(rec, `row for ${rel}`);
      const raw = readFileSync(path.join(root, rel));
      assert.equal(raw.length, rec.size);
      assert.equal(parsed.size, rec.size);
      const id = messageId(raw)!;
      assert.equal(reported.get(id), rec.uid, `uid of ${id}`);
      assert.deepEqual(raw, makeMessage(id, raw.length === 0 ? 0 : sizeFor(id)));
      const sys = rec.flags.filter((f) => f.startsWith('\\')).sort();
      assert.deepEqual(parsed.flags.sort(), sys);
    }
    assert.equal(storage.mail.quota(account.id).usedMessages, 1000);

    // Change some flags, remember every (uid, flags), then lose the index.
    await storage.mail.setFlags(inbox.id, [1, 2, 3, 500], 'add', ['\\Answered', '$Custom']);
    await storage.mail.setFlags(inbox.id, [4, 5], 'replace', []);
    await storage.mail.expunge(inbox.id, [999, 1000]);
    const beforeRebuild = storage.mail.listMessages(inbox.id).map((r) => [r.uid, [...r.flags].sort()]);
    const uidValidity = inbox.uidValidity;
    storage.db.exec('DELETE FROM messages; DELETE FROM expunged; DELETE FROM mailboxes;');
    storage.close();

    const out = execFileSync(process.execPath, [cliPath, 'reindex', '--data', scratch.dir], { encoding: 'utf8' });
    assert.match(out, /bulk@example.test: 998 messages in 6 folders/);

    const after = openStorage(scratch.dir);
    const inbox2 = after.mail.getMailbox(account.id, 'INBOX')!;
    assert.equal(inbox2.uidValidity, uidValidity);
    assert.ok(inbox2.uidNext >= 1001, 'expunged UIDs are never reused');
    const afterRebuild = after.mail.listMessages(inbox2.id).map((r) => [r.uid, [...r.flags].sort()]);
    assert.deepEqual(afterRebuild, beforeRebuild);
    assert.equal(after.mail.getMailbox(account.id, 'Sent')!.specialUse, '\\Sent');
    after.close();
  } finally {
    scratch.cleanup();
  }
});

function sizeFor(id: string): number {
  const i = Number(id.split('-')[1]);
  return 2000 + (i % 7) * 500;
}
