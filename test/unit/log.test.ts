// A log that cannot be written (stdout sent to a file on a full disk; here
// /dev/full, where every write fails with ENOSPC) must not stop the process
// nor keep it from exiting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { repoRoot } from '../support/paths.js';

test('a log on a full disk: the process goes on, says so once on stderr, and exits', { skip: process.platform !== 'linux' && 'needs /dev/full' }, () => {
  const logModule = pathToFileURL(path.join(repoRoot, 'dist', 'src', 'log.js')).href;
  const script = `
    const { createLogger } = await import(${JSON.stringify(logModule)});
    const log = createLogger();
    for (let i = 0; i < 100; i++) log.info({ event: 'x', i });
    await new Promise((r) => setTimeout(r, 50));
    log.info({ event: 'later' });
    await new Promise((r) => setTimeout(r, 50));
    process.stderr.write('still running\\n');
  `;
  const full = openSync('/dev/full', 'w');
  try {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.signal, null, 'exits by itself');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /cannot write the log \(ENOSPC\)/);
    assert.equal(r.stderr.match(/cannot write the log/g)!.length, 1, 'once');
    assert.match(r.stderr, /still running/);
  } finally {
    closeSync(full);
  }
});
