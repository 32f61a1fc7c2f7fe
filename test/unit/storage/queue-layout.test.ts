// The file queue's layout: one file per entry (<id>.entry: the entry's JSON
// on its first line, the message after it), the state the runner records in
// <id>.json beside it; and the layout of the previous release (<id>.eml and
// <id>.json) still read, claimed, updated, held and removed, so a queue
// written before an upgrade is sent after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { QueueStore, newEntryId, type QueueEntry } from '../../../storage/queue.js';
import { scratchDir } from '../../support/tmp.js';

const raw = (s: string): Buffer => Buffer.from(`Subject: ${s}\r\n\r\nbody of ${s}\r\n`);
const files = (dir: string): string[] => readdirSync(dir).filter((n) => n !== 'rescan-requested').sort();

test('one file per entry: the entry on its first line, the message after it; a recorded state goes beside it; remove leaves nothing', async () => {
  const s = scratchDir();
  try {
    const dir = path.join(s.dir, 'queue');
    const queue = new QueueStore(dir);
    const e = await queue.enqueue('alice@example.test', ['a@remote.test', 'b@remote.test'], raw('one'), 'submission', { smtpId: 'S1' });
    assert.deepEqual(files(dir), [`${e.id}.entry`]);
    const content = readFileSync(path.join(dir, `${e.id}.entry`));
    const nl = content.indexOf(0x0a);
    assert.deepEqual(JSON.parse(content.subarray(0, nl).toString('utf8')), e);
    assert.deepEqual(content.subarray(nl + 1), raw('one'));
    assert.deepEqual(await queue.get(e.id), e);
    assert.deepEqual(await queue.message(e.id), raw('one'));

    // A recorded attempt: the state goes to <id>.json and supersedes the first line; the message is not rewritten.
    const tried: QueueEntry = { ...e, attempts: 1, lastError: '451 4.7.1 later' };
    await queue.update(tried);
    assert.deepEqual(files(dir), [`${e.id}.entry`, `${e.id}.json`]);
    assert.deepEqual(readFileSync(path.join(dir, `${e.id}.entry`)), content);
    assert.deepEqual(await queue.get(e.id), tried);
    assert.deepEqual(await queue.list(), [tried]);
    assert.deepEqual(await queue.message(e.id), raw('one'));

    await queue.hold(e.id);
    assert.equal((await queue.get(e.id))?.held, true);
    await queue.remove(e.id);
    assert.deepEqual(files(dir), []);
    await assert.rejects(queue.message(e.id), /no such queue entry/);

    // A message whose first line is long (a header of one long line) changes nothing: the entry's line ends at the first LF.
    const long = Buffer.from(`X-Long: ${'x'.repeat(200_000)}\n\nbody\n`);
    const big = await queue.enqueue('alice@example.test', Array.from({ length: 3000 }, (_, i) => `r${i}@remote.test`), long, 'submission');
    const other = new QueueStore(dir); // another process: reads the disk
    assert.deepEqual(await other.get(big.id), big);
    assert.deepEqual(await other.message(big.id), long);
    await other.remove(big.id);
    assert.deepEqual(files(dir), []);
  } finally {
    s.cleanup();
  }
});

test('a unit of work: staged under a tmp name (no entry), published by a rename, or discarded leaving nothing', async () => {
  const s = scratchDir();
  try {
    const dir = path.join(s.dir, 'queue');
    const queue = new QueueStore(dir);
    const kept = await queue.stage('', ['a@remote.test'], raw('kept'), 'bounce');
    const dropped = await queue.stage('', ['b@remote.test'], raw('dropped'), 'bounce');
    assert.deepEqual(await queue.list(), [], 'nothing is an entry before the commit');
    assert.equal(files(dir).length, 2);
    assert.ok(files(dir).every((n) => n.endsWith('.tmp')));
    await queue.publish([kept]);
    await queue.discard([dropped.id]);
    assert.deepEqual(files(dir), [`${kept.id}.entry`]);
    assert.deepEqual(await queue.list(), [kept]);
    assert.deepEqual(await queue.message(kept.id), raw('kept'));
  } finally {
    s.cleanup();
  }
});

/** An entry as the previous release wrote it: <id>.eml, then <id>.json. */
function writeLegacy(dir: string, entry: QueueEntry, message: Buffer): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${entry.id}.eml`), message, { mode: 0o600 });
  writeFileSync(path.join(dir, `${entry.id}.json`), JSON.stringify(entry), { mode: 0o600 });
}

function legacyEntry(i: number, created: number): QueueEntry {
  return { id: newEntryId(created), sender: 'alice@example.test', recipients: [`r${i}@remote.test`], created, attempts: 0, nextAttempt: created, lastError: null, reason: 'submission', smtpId: `OLD${i}` };
}

test('a queue written in the previous layout (<id>.eml + <id>.json) is listed, claimed, updated, held, released and removed', async () => {
  const s = scratchDir();
  try {
    const dir = path.join(s.dir, 'queue');
    const t0 = Date.now() - 60_000;
    const [a, b, c] = [legacyEntry(0, t0), legacyEntry(1, t0 + 1), legacyEntry(2, t0 + 2)];
    for (const e of [a!, b!, c!]) writeLegacy(dir, e, raw(e.smtpId!));
    // A crash mid-enqueue in the previous release left an .eml without its .json: no entry.
    const orphan = newEntryId(t0 + 3);
    writeFileSync(path.join(dir, `${orphan}.eml`), raw('orphan'));

    const queue = new QueueStore(dir);
    queue.watch(() => {});
    const newer = await queue.enqueue('alice@example.test', ['new@remote.test'], raw('new'), 'submission');
    assert.deepEqual((await queue.listIds()).map((h) => h.id), [a!.id, b!.id, c!.id, newer.id]);
    assert.deepEqual((await queue.list()).map((e) => e.id), [a!.id, b!.id, c!.id, newer.id]);
    assert.deepEqual(await queue.get(a!.id), a);
    assert.equal(await queue.get(orphan), undefined);

    assert.deepEqual(await queue.claim(a!.id, 60_000), a);
    assert.deepEqual(await queue.message(a!.id), raw('OLD0'));
    assert.equal(await queue.renewClaim(a!.id, 60_000), true);
    const tried: QueueEntry = { ...a!, attempts: 1, lastError: '451 4.7.1 later' };
    await queue.update(tried);
    assert.deepEqual(await queue.get(a!.id), tried);
    assert.deepEqual(await queue.message(a!.id), raw('OLD0'), 'the message file is left as it was');

    await queue.hold(b!.id);
    assert.equal(await queue.claim(b!.id, 60_000), undefined, 'held');
    assert.deepEqual((await queue.listIds()).find((h) => h.id === b!.id), { id: b!.id, held: true });
    await queue.release(b!.id);
    assert.deepEqual(await queue.claim(b!.id, 60_000), b);

    for (const e of [a!, b!, newer]) await queue.remove(e.id, { durable: false });
    await queue.remove(c!.id);
    assert.deepEqual(files(dir), [`${orphan}.eml`]);
    await assert.rejects(queue.remove(orphan), /no such queue entry/, 'an orphan .eml is no entry');
    await assert.rejects(queue.message(orphan), /no such queue entry/);

    // Old enough, what crashes left is cleaned; a fresh one may be an enqueue under way.
    await queue.cleanOrphans();
    assert.deepEqual(files(dir), [`${orphan}.eml`]);
    const old = new Date(Date.now() - 2 * 3600_000);
    utimesSync(path.join(dir, `${orphan}.eml`), old, old);
    await queue.cleanOrphans();
    assert.deepEqual(files(dir), []);
  } finally {
    s.cleanup();
  }
});

test('cleanOrphans: an old tmp file and a .json whose entry is gone go; a whole entry in either layout stays', async () => {
  const s = scratchDir();
  try {
    const dir = path.join(s.dir, 'queue');
    const queue = new QueueStore(dir);
    const kept = await queue.enqueue('alice@example.test', ['a@remote.test'], raw('kept'), 'submission');
    await queue.update({ ...kept, attempts: 1 });
    const legacy = legacyEntry(9, Date.now() - 1000);
    writeLegacy(dir, legacy, raw('legacy'));
    const stray = newEntryId();
    writeFileSync(path.join(dir, `${stray}.json`), '{}');
    writeFileSync(path.join(dir, `${stray}.hold`), '');
    writeFileSync(path.join(dir, `.${stray}.1.1.tmp`), 'partial');
    const old = new Date(Date.now() - 2 * 3600_000);
    for (const n of readdirSync(dir)) utimesSync(path.join(dir, n), old, old);
    await queue.cleanOrphans();
    assert.deepEqual(files(dir), [`${kept.id}.entry`, `${kept.id}.json`, `${legacy.id}.eml`, `${legacy.id}.json`].sort());
    assert.equal(existsSync(path.join(dir, `${stray}.json`)), false);
    assert.deepEqual((await queue.list()).map((e) => e.id).sort(), [kept.id, legacy.id].sort());
  } finally {
    s.cleanup();
  }
});
