// The file queue's commit path: concurrent enqueues share directory fsyncs
// (group commit) and each is answered only after an fsync that started
// after its entry was renamed into place; a watcher hears of an entry only
// once it is durable; a store with no watcher leaves the rescan marker for a
// runner in another process; remove({ durable: false }) answers before the
// directory fsync, the default after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { QueueStore, type QueueEntry } from '../../../storage/queue.js';
import { scratchDir } from '../../support/tmp.js';

/** A directory fsync the test opens by hand, recording which entries (.entry names) each one covers. */
class HeldSyncs {
  readonly started: Array<{ covers: Set<string>; done: boolean; open(): void }> = [];

  readonly syncDir = (dir: string): Promise<void> => {
    const covers = new Set(readdirSync(dir).filter((n) => n.endsWith('.entry')).map((n) => n.slice(0, -6)));
    return new Promise<void>((resolve) => {
      const sync = {
        covers,
        done: false,
        open: () => {
          sync.done = true;
          resolve();
        },
      };
      this.started.push(sync);
    });
  };

  /** Ids made durable so far: those renamed before an fsync that has completed. */
  durable(): Set<string> {
    const ids = new Set<string>();
    for (const s of this.started) if (s.done) for (const id of s.covers) ids.add(id);
    return ids;
  }
}

const until = async (cond: () => boolean, what: string): Promise<void> => {
  const deadline = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
};

test('group commit: 8 concurrent enqueues share a few directory fsyncs, and each is answered only after one that covers it', async () => {
  const s = scratchDir();
  try {
    const dir = path.join(s.dir, 'queue');
    const syncs = new HeldSyncs();
    const queue = new QueueStore(dir, { syncDir: syncs.syncDir });
    const told: Array<{ id: string; durable: boolean }> = [];
    queue.watch((e) => {
      if (e) told.push({ id: e.id, durable: syncs.durable().has(e.id) });
    });
    const answered: Array<{ id: string; durable: boolean }> = [];
    const all = Array.from({ length: 8 }, (_, i) =>
      queue.enqueue('alice@example.test', [`r${i}@remote.test`], Buffer.from(`Subject: ${i}\r\n\r\nbody\r\n`), 'submission').then((e: QueueEntry) => {
        answered.push({ id: e.id, durable: syncs.durable().has(e.id) });
        return e;
      }),
    );
    // Every fsync is held open until the test opens it: while one is held, the others' renames queue up behind it.
    while (answered.length < 8) {
      await until(() => syncs.started.some((x) => !x.done) || answered.length === 8, 'a directory fsync');
      const pending = syncs.started.find((x) => !x.done);
      if (!pending) continue;
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(
        answered.every((a) => a.durable),
        'nobody answered before the fsync covering the entry',
      );
      pending.open();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const entries = await Promise.all(all);
    assert.deepEqual(
      answered.filter((a) => !a.durable),
      [],
      'each answer came after an fsync that started after its rename',
    );
    assert.ok(syncs.started.length < 8, `${syncs.started.length} directory fsyncs for 8 entries`);
    assert.equal(told.length, 8, 'the watcher heard of each entry');
    assert.deepEqual(
      told.filter((t) => !t.durable),
      [],
      'and only once it was durable',
    );
    assert.deepEqual(new Set(told.map((t) => t.id)), new Set(entries.map((e) => e.id)));
    assert.equal((await queue.list()).length, 8);
    assert.equal(await queue.takeRescanRequest(), false, 'a store with a watcher leaves no marker');
  } finally {
    s.cleanup();
  }
});

test('a store with no watcher (another process: the CLI, postino deliver) leaves the rescan marker, taken once', async () => {
  const s = scratchDir();
  try {
    const dir = path.join(s.dir, 'queue');
    const cli = new QueueStore(dir);
    const runnerSide = new QueueStore(dir);
    const heard: Array<string | null> = [];
    runnerSide.watch((e) => heard.push(e ? e.id : null));
    assert.equal(await runnerSide.takeRescanRequest(), false);
    const e = await cli.enqueue('alice@example.test', ['x@remote.test'], Buffer.from('Subject: x\r\n\r\nx\r\n'), 'redirect');
    assert.equal(await runnerSide.takeRescanRequest(), true);
    assert.equal(await runnerSide.takeRescanRequest(), false, 'taken once');
    await cli.hold(e.id);
    assert.equal(await runnerSide.takeRescanRequest(), true, 'a hold by another process');
    await cli.release(e.id);
    await cli.requestFlush(e.id);
    assert.equal(await runnerSide.takeRescanRequest(), true, 'a release and a flush of one entry');
    assert.deepEqual(heard, [], 'another store instance hears nothing (it is another process)');
    assert.deepEqual((await runnerSide.listIds()).map((h) => h.id), [e.id], 'the marker is no entry');
  } finally {
    s.cleanup();
  }
});

test('remove: durable by default (after the directory fsync); with durable: false it answers once the files are gone', async () => {
  const s = scratchDir();
  try {
    const dir = path.join(s.dir, 'queue');
    let hold = false;
    const waiting: Array<() => void> = [];
    const queue = new QueueStore(dir, { syncDir: () => (hold ? new Promise<void>((resolve) => waiting.push(resolve)) : Promise.resolve()) });
    const a = await queue.enqueue('alice@example.test', ['a@remote.test'], Buffer.from('a'), 'submission');
    const b = await queue.enqueue('alice@example.test', ['b@remote.test'], Buffer.from('b'), 'submission');
    hold = true;
    await queue.remove(a.id, { durable: false });
    assert.equal(existsSync(path.join(dir, `${a.id}.entry`)), false);
    assert.equal(existsSync(path.join(dir, `${a.id}.json`)), false);
    let removed = false;
    const durable = queue.remove(b.id).then(() => (removed = true));
    await until(() => waiting.length >= 1, 'the fsync');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(removed, false, 'the default waits for the fsync');
    for (const open of waiting.splice(0)) open();
    await until(() => waiting.length > 0 || removed, 'the second fsync');
    for (const open of waiting.splice(0)) open();
    await durable;
    assert.deepEqual(await queue.list(), []);
    await assert.rejects(queue.remove(a.id), /no such queue entry/);
    // A staged entry (a unit of work not yet committed) is no entry: remove leaves it.
    const staged = await queue.stage('alice@example.test', ['c@remote.test'], Buffer.from('c'), 'submission');
    hold = false;
    await assert.rejects(queue.remove(staged.id), /no such queue entry/);
    assert.equal(readdirSync(dir).filter((n) => n.startsWith(`.${staged.id}.`) && n.endsWith('.tmp')).length, 1, 'its tmp file is still there');
  } finally {
    s.cleanup();
  }
});

test('an entry enqueued here is claimed from memory, but a hold or a delete by another process is still seen', async () => {
  const s = scratchDir();
  try {
    const dir = path.join(s.dir, 'queue');
    const serve = new QueueStore(dir);
    serve.watch(() => {}); // a runner in this process: what it enqueues is kept for the first claim
    const cli = new QueueStore(dir);
    const raw = (i: number): Buffer => Buffer.from(`Subject: ${i}\r\n\r\nbody ${i}\r\n`);
    const [plain, held, deleted, unclaimed] = await Promise.all(
      [0, 1, 2, 3].map((i) => serve.enqueue('alice@example.test', [`r${i}@remote.test`], raw(i), 'submission', { smtpId: `S${i}` })),
    );

    // As stored: the same entry a read of the .json gives, and the same message.
    const claimed = await serve.claim(plain!.id, 60_000);
    assert.deepEqual(claimed, await cli.get(plain!.id));
    // (The file is changed behind the store's back only to show where the first answer comes from.)
    const file = path.join(dir, `${plain!.id}.entry`);
    writeFileSync(file, `${readFileSync(file, 'utf8').split('\n')[0]}\nchanged`);
    assert.deepEqual(await serve.message(plain!.id), raw(0), 'the first, from memory');
    assert.equal((await serve.message(plain!.id)).toString(), 'changed', 'then from the disk');

    await cli.hold(held!.id);
    assert.equal(await serve.claim(held!.id, 60_000), undefined, 'held by the CLI after the enqueue');
    await cli.release(held!.id);
    assert.equal((await serve.claim(held!.id, 60_000))?.id, held!.id, 'released');

    await cli.remove(deleted!.id);
    assert.equal(await serve.claim(deleted!.id, 60_000), undefined, 'deleted by the CLI after the enqueue');
    await assert.rejects(serve.message(deleted!.id), /no such queue entry/);

    // message() without a claim looks at the disk: a deleted entry has none.
    await cli.remove(unclaimed!.id);
    await assert.rejects(serve.message(unclaimed!.id), /no such queue entry/);
  } finally {
    s.cleanup();
  }
});

test('the files of an entry are mode 0600, and a failed enqueue leaves nothing behind', async () => {
  const s = scratchDir();
  try {
    const dir = path.join(s.dir, 'queue');
    const queue = new QueueStore(dir);
    const e = await queue.enqueue('alice@example.test', ['a@remote.test'], Buffer.from('a'), 'submission');
    assert.equal(statSync(path.join(dir, `${e.id}.entry`)).mode & 0o777, 0o600);
    await queue.update({ ...e, attempts: 1 });
    assert.equal(statSync(path.join(dir, `${e.id}.json`)).mode & 0o777, 0o600, 'the recorded state too');
    const failing = new QueueStore(dir, { syncDir: () => Promise.reject(new Error('EIO')) });
    await assert.rejects(failing.enqueue('alice@example.test', ['b@remote.test'], Buffer.from('b'), 'submission'), /cannot write to the queue/);
    // (The marker is for a runner elsewhere: these stores have no watcher.)
    assert.deepEqual(readdirSync(dir).filter((n) => n !== 'rescan-requested').sort(), [`${e.id}.entry`, `${e.id}.json`]);
  } finally {
    s.cleanup();
  }
});
