// Handing the data dir to the service account: everything under it changes
// owner, and a symbolic link is changed itself, never followed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chownDataDir } from '../../../storage/data-dir-owner.js';
import { scratchDir } from '../../support/tmp.js';

const isRoot = process.getuid?.() === 0;

test('chownDataDir gives the tree to uid:gid, links included but not their targets; a second pass changes nothing', { skip: isRoot ? false : 'needs root to change owners' }, () => {
  const s = scratchDir();
  try {
    const data = path.join(s.dir, 'data');
    mkdirSync(path.join(data, 'mail', 'example.test', 'bob', 'cur'), { recursive: true });
    writeFileSync(path.join(data, 'postino.sqlite'), '');
    writeFileSync(path.join(data, 'mail', 'example.test', 'bob', 'cur', '1.eml'), 'x');
    const outside = path.join(s.dir, 'outside.txt');
    writeFileSync(outside, 'not the service account\'s');
    symlinkSync(outside, path.join(data, 'link'));
    const changed = chownDataDir(data, 65534, 65534);
    assert.equal(changed, 8, 'data, mail, example.test, bob, cur, 1.eml, postino.sqlite, link');
    for (const p of ['', 'postino.sqlite', 'mail/example.test/bob/cur', 'mail/example.test/bob/cur/1.eml']) {
      const st = statSync(path.join(data, p));
      assert.deepEqual([st.uid, st.gid], [65534, 65534], p || 'the data dir');
    }
    assert.equal(lstatSync(path.join(data, 'link')).uid, 65534, 'the link itself');
    assert.equal(statSync(outside).uid, 0, 'not what it points to');
    assert.equal(chownDataDir(data, 65534, 65534), 0);
  } finally {
    s.cleanup();
  }
});
