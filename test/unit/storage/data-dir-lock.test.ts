// One serve per data dir: the lock refuses a second holder, names the first,
// and is free again once released.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../../support/tmp.js';
import { lockDataDir, LOCK_FILE, PID_FILE } from '../../../storage/data-dir-lock.js';
import { isMailError } from '../../../storage/errors.js';

test('a second lock is refused with the holder PID; release lets the next one in', () => {
  const s = scratchDir();
  try {
    const dir = path.join(s.dir, 'data');
    // The parent stands for another serve: a live PID that is not this process.
    const first = lockDataDir(dir, process.ppid);
    assert.equal(readFileSync(path.join(dir, PID_FILE), 'utf8'), `${process.ppid}\n`);
    assert.throws(
      () => lockDataDir(dir),
      (err: unknown) => isMailError(err, 'REFUSED') && err.message === `${dir} is in use by another postino serve (PID ${process.ppid}); stop it first, or give this one another --data`,
    );
    first.release();
    assert.ok(!existsSync(path.join(dir, PID_FILE)), 'the PID file goes with the lock');
    assert.ok(existsSync(path.join(dir, LOCK_FILE)), 'the lock file stays: a waiter may have it open');
    const second = lockDataDir(dir);
    assert.equal(readFileSync(path.join(dir, PID_FILE), 'utf8'), `${process.pid}\n`);
    second.release();
    second.release();
  } finally {
    s.cleanup();
  }
});

test('a refusal says PID unknown rather than naming a PID that is not running', () => {
  const s = scratchDir();
  try {
    const first = lockDataDir(s.dir, 2 ** 22 + 12345);
    assert.throws(() => lockDataDir(s.dir), /in use by another postino serve \(PID unknown\)/);
    first.release();
  } finally {
    s.cleanup();
  }
});
