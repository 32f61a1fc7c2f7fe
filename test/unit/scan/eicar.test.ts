// The self-test's zip is a real zip: `unzip -p` gets EICAR back out of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../../support/tmp.js';
import { eicar, selfTestMessages, zipOf } from '../../../src/scan/eicar.js';
import { parseMessage } from '../../../mime/index.js';

test('EICAR is the 68-byte test string', () => {
  assert.equal(eicar().length, 68);
  assert.match(eicar().toString('latin1'), /^X5O!P%@AP\[4\\PZX54\(P\^\)7CC\)7\}\$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!\$H\+H\*$/);
});

test('the zip unpacks to the file, and the deflated bytes do not hold it plainly', { skip: spawnSync('unzip', ['-v']).status !== 0 && 'no unzip' }, () => {
  const s = scratchDir();
  try {
    const zip = zipOf('eicar.com', eicar());
    assert.equal(zip.includes(eicar()), false);
    const file = path.join(s.dir, 'e.zip');
    writeFileSync(file, zip);
    const r = spawnSync('unzip', ['-p', file, 'eicar.com']);
    assert.equal(r.status, 0, r.stderr.toString());
    assert.deepEqual(r.stdout, eicar());
  } finally {
    s.cleanup();
  }
});

test('the three self-test messages parse as mail', () => {
  const names = selfTestMessages().map((m) => {
    const parsed = parseMessage(m.raw);
    assert.match(parsed.header.first('subject') ?? '', /self-test/);
    return m.name;
  });
  assert.deepEqual(names, ['plain', 'zipped', 'nested']);
});
