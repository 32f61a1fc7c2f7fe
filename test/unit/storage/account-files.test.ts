// A removed account's files: set aside under DIR/removed/ by rename, or purged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AccountFiles, removalStamp } from '../../../storage/account-files.js';
import { accountSegment } from '../../../storage/maildir/names.js';
import { scratchDir } from '../../support/tmp.js';

function setup(dir: string): AccountFiles {
  return new AccountFiles({ mail: path.join(dir, 'mail'), sieve: path.join(dir, 'sieve'), removed: path.join(dir, 'removed') });
}

function plant(dir: string, local: string, text: string): void {
  mkdirSync(path.join(dir, 'mail', 'example.test', local, 'new'), { recursive: true });
  writeFileSync(path.join(dir, 'mail', 'example.test', local, 'new', 'm1'), text);
  mkdirSync(path.join(dir, 'sieve', 'example.test', local), { recursive: true });
  writeFileSync(path.join(dir, 'sieve', 'example.test', local, 'main.sieve'), 'keep;');
}

test('removalStamp is the UTC time to the second', () => {
  assert.equal(removalStamp(new Date('2025-01-31T12:34:56.789Z')), '20250131T123456Z');
});

test('setAside moves the Maildir and the scripts together; one second, two removals, two directories', () => {
  const s = scratchDir();
  try {
    const files = setup(s.dir);
    const now = new Date('2025-01-31T12:34:56Z');
    const name = { domain: 'example.test', localpart: 'kim' };
    plant(s.dir, 'kim', 'first');
    const first = files.setAside(name, now);
    assert.equal(first, path.join(s.dir, 'removed', 'example.test', 'kim-20250131T123456Z'));
    assert.equal(readFileSync(path.join(first, 'mail', 'new', 'm1'), 'utf8'), 'first');
    assert.ok(existsSync(path.join(first, 'sieve', 'main.sieve')));
    assert.ok(!existsSync(path.join(s.dir, 'mail', 'example.test', 'kim')));
    assert.ok(!existsSync(path.join(s.dir, 'sieve', 'example.test', 'kim')));

    plant(s.dir, 'kim', 'second');
    const second = files.setAside(name, now);
    assert.equal(second, `${first}-2`);
    assert.equal(readFileSync(path.join(second!, 'mail', 'new', 'm1'), 'utf8'), 'second');
    assert.equal(readFileSync(path.join(first!, 'mail', 'new', 'm1'), 'utf8'), 'first', 'the first copy is untouched');

    assert.equal(files.setAside(name, now), undefined, 'nothing on disk: nothing to keep');
    assert.deepEqual(readdirSync(path.join(s.dir, 'removed', 'example.test')).sort(), ['kim-20250131T123456Z', 'kim-20250131T123456Z-2']);
  } finally {
    s.cleanup();
  }
});

test('purge deletes both; a local part that looks like a path stays one segment', () => {
  const s = scratchDir();
  try {
    const files = setup(s.dir);
    plant(s.dir, 'lee', 'x');
    files.purge({ domain: 'example.test', localpart: 'lee' });
    assert.ok(!existsSync(path.join(s.dir, 'mail', 'example.test', 'lee')));
    assert.ok(!existsSync(path.join(s.dir, 'sieve', 'example.test', 'lee')));
    assert.ok(!existsSync(path.join(s.dir, 'removed')));
    // accountSegment encodes what could climb out of DIR/removed/DOMAIN.
    mkdirSync(path.join(s.dir, 'mail', 'example.test', accountSegment('..')), { recursive: true });
    const kept = files.setAside({ domain: 'example.test', localpart: '..' }, new Date(0));
    assert.equal(path.dirname(kept!), path.join(s.dir, 'removed', 'example.test'));
  } finally {
    s.cleanup();
  }
});
