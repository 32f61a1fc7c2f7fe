// FileChanges: the file side of an index transaction, undone as a whole or
// finished as a whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FileChanges } from '../../../storage/maildir/file-changes.js';
import { ensureMaildir } from '../../../storage/maildir/files.js';
import { scratchDir } from '../../support/tmp.js';

test('rollback undoes every change, newest first, back to the state before', () => {
  const s = scratchDir();
  try {
    const box = path.join(s.dir, 'box');
    ensureMaildir(box);
    const meta = path.join(box, 'meta.json');
    writeFileSync(meta, 'original');
    writeFileSync(path.join(box, 'new', 'm1'), 'one');
    writeFileSync(path.join(box, 'cur', 'm2:2,S'), 'two');
    const files = new FileChanges();
    files.replace(meta, 'first', false);
    files.rename(path.join(box, 'new', 'm1'), path.join(box, 'cur', 'm1:2,F'));
    files.replace(meta, 'second', true);
    files.removeMessage(box, 'cur/m2:2,S');
    files.makeMaildir(path.join(box, '.Sub'));
    files.replace(path.join(box, 'fresh.json'), 'new file', false);
    assert.equal(readFileSync(meta, 'utf8'), 'second');
    assert.equal(files.rollback(), 0);
    assert.equal(readFileSync(meta, 'utf8'), 'original');
    assert.equal(readFileSync(path.join(box, 'new', 'm1'), 'utf8'), 'one');
    assert.equal(readFileSync(path.join(box, 'cur', 'm2:2,S'), 'utf8'), 'two');
    assert.ok(!existsSync(path.join(box, '.Sub')));
    assert.ok(!existsSync(path.join(box, 'fresh.json')));
    assert.deepEqual(readdirSync(box).sort(), ['cur', 'meta.json', 'new', 'tmp']);
    assert.deepEqual(readdirSync(path.join(box, 'tmp')), []);
  } finally {
    s.cleanup();
  }
});

test('commit finishes removals and leaves no kept copies; a rollback to a mark undoes only what came after it', async () => {
  const s = scratchDir();
  try {
    const box = path.join(s.dir, 'box');
    ensureMaildir(box);
    const meta = path.join(box, 'meta.json');
    writeFileSync(meta, 'original');
    writeFileSync(path.join(box, 'cur', 'm1:2,S'), 'one');
    writeFileSync(path.join(box, 'cur', 'm2:2,S'), 'two');
    const files = new FileChanges();
    files.removeMessage(box, 'cur/m1:2,S');
    const mark = files.mark();
    files.removeMessage(box, 'cur/m2:2,S');
    files.replace(meta, 'changed', false);
    files.rollback(mark);
    assert.equal(readFileSync(meta, 'utf8'), 'original');
    assert.ok(existsSync(path.join(box, 'cur', 'm2:2,S')));
    assert.ok(!existsSync(path.join(box, 'cur', 'm1:2,S')), 'out of sight until the commit');
    files.replace(meta, 'final', false);
    files.commit();
    assert.equal(readFileSync(meta, 'utf8'), 'final');
    assert.deepEqual(readdirSync(box).sort(), ['cur', 'meta.json', 'new', 'tmp']);
    assert.deepEqual(readdirSync(path.join(box, 'cur')), ['m2:2,S']);
    // The removed message's kept copy is deleted off the event loop after the commit (nothing waits
    // for it): gone soon, not at once.
    const tmp = path.join(box, 'tmp');
    for (let i = 0; i < 200 && readdirSync(tmp).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(readdirSync(tmp), []);
  } finally {
    s.cleanup();
  }
});
