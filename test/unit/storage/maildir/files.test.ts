// writeTmpFiles: a round of new message files written into tmp/ and
// fdatasynced through the descriptors they were written with (more than the
// files it keeps open at once), every one whole with its mtime; when one
// cannot be written, none of the round is left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureMaildir, writeTmpFiles } from '../../../../storage/maildir/files.js';
import { scratchDir } from '../../../support/tmp.js';

const body = (i: number) => Buffer.from(`Subject: ${i}\r\n\r\n${'x'.repeat(i * 37)}\r\n`);

test('writeTmpFiles: 150 files (more than are kept open at once), each whole, with its mtime when given', () => {
  const s = scratchDir();
  try {
    ensureMaildir(s.dir);
    const mtime = Date.UTC(2024, 0, 2, 3, 4, 5);
    const files = Array.from({ length: 150 }, (_, i) => ({ tmpPath: path.join(s.dir, 'tmp', `m${i}`), data: body(i), mtime: i % 2 ? mtime : undefined }));
    writeTmpFiles(files);
    assert.equal(readdirSync(path.join(s.dir, 'tmp')).length, 150);
    for (const [i, f] of files.entries()) {
      assert.deepEqual(readFileSync(f.tmpPath), body(i));
      if (i % 2) assert.equal(statSync(f.tmpPath).mtimeMs, mtime);
    }
  } finally {
    s.cleanup();
  }
});

test('writeTmpFiles: a file that cannot be created (its name taken) fails the round, and none of the round stays', () => {
  const s = scratchDir();
  try {
    ensureMaildir(s.dir);
    const taken = path.join(s.dir, 'tmp', 'm100');
    writeFileSync(taken, 'not ours');
    const files = Array.from({ length: 120 }, (_, i) => ({ tmpPath: path.join(s.dir, 'tmp', `m${i}`), data: body(i), mtime: undefined }));
    assert.throws(() => writeTmpFiles(files), (err: NodeJS.ErrnoException) => err.code === 'EEXIST');
    // Only the file that was there before is left: never overwritten, never removed.
    assert.deepEqual(readdirSync(path.join(s.dir, 'tmp')), ['m100']);
    assert.equal(readFileSync(taken, 'utf8'), 'not ours');
  } finally {
    s.cleanup();
  }
});
