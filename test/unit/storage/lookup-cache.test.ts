// The index's read caches (storage/index/lookup-cache.ts) see a change made
// through their own connection at once, and one committed by another
// connection (the CLI, `postino deliver`) once their look at SQLite's
// data_version is older than a millisecond: a lookup after that never
// answers from before the change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { openSqliteParts as openStorage } from '../../../storage/index.js';
import { scratchDir } from '../../support/tmp.js';

test("a cached lookup sees its own connection's change at once, and another connection's a moment later", async () => {
  const s = scratchDir();
  const server = openStorage(s.dir);
  try {
    assert.equal(server.directory.hasDomain('example.test'), false);
    // Through the same connection: seen at once, in the same turn.
    server.directory.addDomain('example.test');
    assert.equal(server.directory.hasDomain('example.test'), true);

    assert.equal(server.directory.hasDomain('other.test'), false, 'cached: not local');
    const cli = openStorage(s.dir); // another connection, as the CLI's
    try {
      cli.directory.addDomain('other.test');
      await sleep(5);
      assert.equal(server.directory.hasDomain('other.test'), true, "the other connection's domain is seen");
      cli.directory.removeDomain('other.test');
      await sleep(5);
      assert.equal(server.directory.hasDomain('other.test'), false, 'and its removal');
    } finally {
      cli.close();
    }
  } finally {
    server.close();
    s.cleanup();
  }
});

test("within one long turn of the event loop, another connection's change is seen after a millisecond", async () => {
  const s = scratchDir();
  const server = openStorage(s.dir);
  const cli = openStorage(s.dir);
  try {
    server.directory.addDomain('example.test');
    assert.equal(server.directory.hasDomain('burst.test'), false, 'cached: no such domain');
    // A burst of lookups with no turn of the event loop in between (a busy server's long
    // turn): once it has run a millisecond past the other connection's change, the answer is new.
    cli.directory.addDomain('burst.test');
    const changedAt = performance.now();
    let last = false;
    while (performance.now() - changedAt < 3) last = server.directory.hasDomain('burst.test');
    assert.equal(last, true);
  } finally {
    cli.close();
    server.close();
    s.cleanup();
  }
});
