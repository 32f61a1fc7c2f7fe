import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
// The SQLite + Maildir backend itself, answering synchronously (its ports are driven by test/contract/).
import { openSqliteParts as openStorage, type SqliteStorageParts as Storage } from '../../../storage/index.js';
import { scratchDir } from '../../support/tmp.js';

describe('ScriptStore.active', () => {
  const scratch = scratchDir();
  let storage: Storage;
  let accountId: number;

  before(() => {
    storage = openStorage(scratch.dir);
    storage.directory.addDomain('example.test');
    accountId = storage.directory.addAccount({ address: 'alice@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
  });
  after(() => {
    storage.close();
    scratch.cleanup();
  });

  test('follows every change of the active script, however quick', () => {
    assert.equal(storage.scripts.active(accountId), undefined);
    storage.scripts.put(accountId, 'main', 'keep;');
    storage.scripts.activate(accountId, 'main');
    assert.deepEqual(storage.scripts.active(accountId), { name: 'main', text: 'keep;' });
    // Same length, same millisecond: the replaced file is still noticed.
    storage.scripts.put(accountId, 'main', 'stop;');
    assert.deepEqual(storage.scripts.active(accountId), { name: 'main', text: 'stop;' });
    storage.scripts.put(accountId, 'other', 'discard;');
    storage.scripts.activate(accountId, 'other');
    assert.deepEqual(storage.scripts.active(accountId), { name: 'other', text: 'discard;' });
    storage.scripts.activate(accountId, undefined);
    assert.equal(storage.scripts.active(accountId), undefined);
  });

  test('a second store (another process) sees a script replaced by the first', () => {
    storage.scripts.put(accountId, 'main', 'keep;');
    storage.scripts.activate(accountId, 'main');
    const other = openStorage(scratch.dir);
    try {
      assert.equal(other.scripts.active(accountId)?.text, 'keep;');
      storage.scripts.put(accountId, 'main', 'require "fileinto"; fileinto "Junk";');
      assert.equal(other.scripts.active(accountId)?.text, 'require "fileinto"; fileinto "Junk";');
    } finally {
      other.close();
    }
  });

  test('a script activated or deactivated by another process counts from the next event-loop turn', async () => {
    storage.scripts.put(accountId, 'main', 'keep;');
    storage.scripts.put(accountId, 'spam', 'discard;');
    storage.scripts.activate(accountId, 'main');
    assert.equal(storage.scripts.active(accountId)?.name, 'main');
    const other = openStorage(scratch.dir);
    try {
      other.scripts.activate(accountId, 'spam');
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(storage.scripts.active(accountId), { name: 'spam', text: 'discard;' });
      other.scripts.activate(accountId, undefined);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(storage.scripts.active(accountId), undefined);
    } finally {
      other.close();
    }
  });
});

test('a unit of work that fails puts a replaced script file back with its row, and leaves no new one', async () => {
  const scratch = scratchDir();
  const storage = openStorage(scratch.dir);
  try {
    storage.directory.addDomain('example.test');
    const id = storage.directory.addAccount({ address: 'bob@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    storage.scripts.put(id, 'main', 'keep;');
    storage.scripts.activate(id, 'main');
    await assert.rejects(
      storage.ports.transaction(async (tx) => {
        await tx.scripts.put(id, 'main', 'discard;');
        await tx.scripts.put(id, 'extra', 'stop;');
        assert.deepEqual(await tx.scripts.active(id), { name: 'main', text: 'discard;' }, 'the unit sees its own change');
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(storage.scripts.active(id), { name: 'main', text: 'keep;' });
    assert.equal(storage.scripts.get(id, 'main'), 'keep;');
    assert.deepEqual(storage.scripts.filesOnDisk(id), ['main.sieve']);
  } finally {
    storage.close();
    scratch.cleanup();
  }
});
