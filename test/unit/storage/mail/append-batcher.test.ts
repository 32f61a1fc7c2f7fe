// Group commit in the SQLite + Maildir store: concurrent appends are written
// to tmp/ and fdatasynced there (in shared rounds), renamed and committed, then share rounds of directory and WAL fsyncs, and each is
// told "stored" only after a round that began once its file was in new/ or
// cur/ and its row committed has finished. The fsync is observed through the
// blob store's sync (the one entry point to the writer threads' fsyncs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteParts } from '../../../../storage/index.js';
import { MaildirBlobStore } from '../../../../storage/maildir/blob-store.js';
import { scratchDir } from '../../../support/tmp.js';
import { makeMessage } from '../../../support/messages.js';

test('8 concurrent appends: every one is told stored only after an fsync round of its directory and the WAL, begun after its commit; rounds are shared', async () => {
  const scratch = scratchDir();
  const storage = openSqliteParts(scratch.dir);
  const original = MaildirBlobStore.prototype.sync;
  const originalGroup = MaildirBlobStore.prototype.writeGroup;
  // A second connection: what it sees is committed.
  let reader: Database.Database | undefined;
  try {
    storage.directory.addDomain('example.test');
    const accountId = storage.directory.addAccount({ address: 'group@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    storage.mail.provisionAccount(accountId);
    const warm = await storage.mail.append(accountId, 'INBOX', makeMessage('warm-up'));
    reader = new Database(path.join(scratch.dir, 'postino.sqlite'), { readonly: true });
    const committedUids = () =>
      new Set((reader!.prepare('SELECT uid FROM messages WHERE mailbox_id = ?').pluck().all(warm.mailboxId) as number[]).filter((u) => u !== warm.uid));

    const events: string[] = [];
    const rounds: Array<{ dirs: string[]; wal: string[]; committed: Set<number>; files: Set<number> }> = [];
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((r) => (releaseFirst = r));
    MaildirBlobStore.prototype.sync = function (this: MaildirBlobStore, dirs: Iterable<string>, also: string[] = []) {
      const list = [...dirs];
      const k = rounds.length;
      // What is durable after this round: committed rows whose files the round's directories hold.
      const committed = committedUids();
      const files = new Set<number>();
      for (const uid of committed) {
        const file = storage.mail.messagePath(warm.mailboxId, uid);
        if (list.includes(path.dirname(file)) && existsSync(file)) files.add(uid);
      }
      rounds.push({ dirs: list, wal: also, committed, files });
      events.push(`round ${k} start`);
      const run = k === 0 ? firstHeld.then(() => original.call(this, list, also)) : original.call(this, list, also);
      return run.then((v) => {
        events.push(`round ${k} done`);
        return v;
      });
    };

    // The bodies are written and fdatasynced in tmp/, before they are named.
    const dataSynced = new Set<string>();
    MaildirBlobStore.prototype.writeGroup = function (this: MaildirBlobStore, files: Parameters<MaildirBlobStore['writeGroup']>[0]) {
      for (const f of files) assert.equal(path.basename(path.dirname(f.tmpPath)), 'tmp');
      return originalGroup.call(this, files).then((v: unknown) => {
        for (const f of files) {
          assert.ok(existsSync(f.tmpPath), 'not renamed before its fdatasync finished');
          dataSynced.add(path.basename(f.tmpPath));
        }
        return v;
      });
    };

    const appends = Array.from({ length: 8 }, (_, i) =>
      storage.mail.append(accountId, 'INBOX', makeMessage(`group-${i}`), i % 2 ? { flags: ['\\Flagged'] } : {}).then((r) => {
        events.push(`stored ${r.uid}`);
        return r;
      }),
    );
    // Hold the first round until all eight are committed (their tmp writes finish at different times).
    for (let i = 0; i < 500 && committedUids().size < 8; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(committedUids().size, 8, 'all eight committed while the first round is held');
    assert.equal(rounds.length, 1, 'no second round starts while one runs');
    assert.ok(!events.some((e) => e.startsWith('stored')), 'nobody is told stored while the fsync is held');
    releaseFirst();
    const results = await Promise.all(appends);

    // Shared: the commits made while round 0 was held all went into round 1.
    assert.equal(rounds.length, 2);
    for (const r of rounds) assert.deepEqual(r.wal, [path.join(scratch.dir, 'postino.sqlite-wal')], 'each round fsyncs the WAL');
    for (const { uid } of results) {
      const base = path.basename(storage.mail.messagePath(warm.mailboxId, uid)).split(',')[0]!;
      assert.ok(dataSynced.has(base), `uid ${uid}: its body was fdatasynced in tmp/`);
      const told = events.indexOf(`stored ${uid}`);
      const covering = rounds.findIndex((r, k) => r.files.has(uid) && events.indexOf(`round ${k} done`) < told);
      assert.ok(covering >= 0, `uid ${uid} was told stored before a round covering its file and row had finished: ${events.join(', ')}`);
    }
  } finally {
    MaildirBlobStore.prototype.sync = original;
    MaildirBlobStore.prototype.writeGroup = originalGroup;
    reader?.close();
    storage.close();
    scratch.cleanup();
  }
});
