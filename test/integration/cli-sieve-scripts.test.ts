// postino sieve put/list/activate/get/remove: scripts are validated before
// they are stored, exactly one (or none) is active, names stay in their dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { postino } from '../support/cli.js';

test('sieve script management from the CLI', () => {
  const s = scratchDir();
  try {
    const run = (args: string[], stdin?: string) => postino(s.dir, args, stdin);
    assert.equal(run(['domain', 'add', 'example.test', '--postmaster', 'alice@example.test', '--password-stdin'], 'tangerine-otter-42\n').code, 0);
    const good = path.join(s.dir, 'good.sieve');
    writeFileSync(good, 'require "fileinto";\nif header :contains "subject" "x" { fileinto "X"; }\n');
    const bad = path.join(s.dir, 'bad.sieve');
    writeFileSync(bad, 'require "fileinto";\nif hedaer :contains "subject" "x" { fileinto "X"; }\n');

    assert.equal(run(['sieve', 'put', 'alice@example.test', 'main', good, '--activate']).code, 0);
    assert.equal(run(['sieve', 'put', 'alice@example.test', 'spare', good]).code, 0);
    assert.deepEqual(JSON.parse(run(['sieve', 'list', 'alice@example.test', '--json']).stdout), [
      { name: 'main', active: true },
      { name: 'spare', active: false },
    ]);
    assert.equal(run(['sieve', 'get', 'alice@example.test', 'main']).stdout, 'require "fileinto";\nif header :contains "subject" "x" { fileinto "X"; }\n');
    assert.equal(run(['sieve', 'activate', 'alice@example.test', 'spare']).code, 0);
    assert.deepEqual(
      (JSON.parse(run(['sieve', 'list', 'alice@example.test', '--json']).stdout) as Array<{ active: boolean }>).filter((x) => x.active).length,
      1,
    );

    // An invalid script is refused with the positioned error, and nothing changes.
    const before = run(['sieve', 'list', 'alice@example.test', '--json']).stdout;
    const r = run(['sieve', 'put', 'alice@example.test', 'broken', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^postino sieve put: 2:4: .*hedaer/);
    assert.equal(run(['sieve', 'list', 'alice@example.test', '--json']).stdout, before);

    // Names never escape the account's script directory.
    for (const evil of ['../../etc/passwd', '.hidden', 'a/b', 'x\u0001y']) {
      const e = run(['sieve', 'put', 'alice@example.test', evil, good]);
      assert.equal(e.code, 1, evil);
      assert.match(e.stderr, /invalid script name/);
    }
    assert.deepEqual(readdirSync(path.join(s.dir, 'sieve', 'example.test', 'alice')).sort(), ['main.sieve', 'spare.sieve']);

    // The active script cannot be removed; others can.
    assert.match(run(['sieve', 'remove', 'alice@example.test', 'spare']).stderr, /is active/);
    assert.equal(run(['sieve', 'remove', 'alice@example.test', 'main']).code, 0);
    assert.match(run(['sieve', 'get', 'alice@example.test', 'main']).stderr, /no such script: main/);
    assert.match(run(['sieve', 'list', 'ghost@example.test']).stderr, /no such account/);
    assert.match(run(['sieve', 'put', 'alice@example.test', 'x', path.join(s.dir, 'missing.sieve')]).stderr, /cannot read/);
  } finally {
    s.cleanup();
  }
});
