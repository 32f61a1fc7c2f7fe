// ExpungedKeep: what is kept for the views that still number an expunged
// message, and when it is let go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExpungedKeep } from '../../../storage/mail/expunged-keep.js';
import type { MessageRecord } from '../../../storage/ports.js';

const record = (uid: number, mime: string | null = '{}'): MessageRecord => ({ mailboxId: 1, uid, modseq: uid, flags: [], internalDate: 0, size: 10, mime });

async function eventually(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check());
}

test('kept only while some view numbers the UID; released and close let it go, with its file', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'postino-keep-'));
  try {
    const keep = new ExpungedKeep();
    // Nobody holds mailbox 1: nothing kept, the caller deletes the file.
    assert.equal(keep.keep(1, () => record(5), 5, 'x'), false);
    const a = new Set([5, 6]);
    const b = new Set([5]);
    const ha = keep.hold(1, (uid) => a.has(uid));
    const hb = keep.hold(1, (uid) => b.has(uid));
    const file = path.join(dir, '5,removed');
    writeFileSync(file, 'body');
    assert.equal(keep.keep(1, () => record(5), 5, file), true);
    assert.equal(keep.keep(1, () => record(7), 7), false, 'no view numbers 7');
    assert.equal(ha.record(5)?.uid, 5);
    assert.equal((await hb.read(5))?.toString(), 'body');
    assert.equal(keep.hold(2, () => true).record(5), undefined, 'another mailbox sees nothing of it');
    // a was told: b still numbers it.
    a.delete(5);
    ha.released();
    assert.equal(keep.counts().records, 1);
    // b goes away: let go, file deleted.
    hb.close();
    assert.deepEqual(keep.counts(), { records: 0, files: 0, bytes: 0 });
    await eventually(() => !existsSync(file));
    assert.equal(ha.record(5), undefined);
    ha.close();
    ha.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bounded: the oldest records go past the count and the bytes, the oldest files past 256', async () => {
  let now = 0;
  const keep = new ExpungedKeep(() => now);
  const h = keep.hold(1, () => true);
  for (let uid = 1; uid <= 2100; uid++) keep.keep(1, () => record(uid), uid);
  assert.equal(keep.counts().records, 2000);
  assert.equal(h.record(1), undefined);
  assert.equal(h.record(2100)?.uid, 2100);
  // Large MIME indexes count by bytes.
  const big = 'x'.repeat(1024 * 1024);
  for (let uid = 3000; uid < 3020; uid++) keep.keep(1, () => record(uid, big), uid);
  assert.ok(keep.counts().bytes <= 16 * 1024 * 1024);
  assert.equal(h.record(3019)?.uid, 3019);
  // Files: at most 256 wait (the oldest are deleted first; these names do not exist, which is no error).
  for (let uid = 4000; uid < 4300; uid++) keep.keep(1, () => record(uid), uid, `/nonexistent/${uid},removed`);
  assert.equal(keep.counts().files, 256);
  assert.equal(await h.read(4000), undefined);
  h.close();
  assert.deepEqual(keep.counts(), { records: 0, files: 0, bytes: 0 });
  keep.close();
});

test('a kept file is deleted when its time is up; the record stays while a view numbers it', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'postino-keep-'));
  try {
    const keep = new ExpungedKeep(Date.now, 50);
    const h = keep.hold(1, () => true);
    const file = path.join(dir, '9,removed');
    writeFileSync(file, 'body');
    assert.equal(keep.keep(1, () => record(9), 9, file), true);
    await eventually(() => !existsSync(file));
    assert.equal(await h.read(9), undefined);
    assert.equal(h.record(9)?.uid, 9);
    assert.equal(keep.counts().files, 0);
    h.close();
    keep.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
