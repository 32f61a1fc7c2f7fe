import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
// The SQLite + Maildir backend itself, answering synchronously (its ports are driven by test/contract/).
import { openSqliteParts as openStorage, type SqliteStorageParts as Storage } from '../../../storage/index.js';
import { readdirSync } from 'node:fs';
import path from 'node:path';
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

  test('follows every change of the active script, however quick', async () => {
    assert.equal(await storage.scripts.active(accountId), undefined);
    await storage.scripts.put(accountId, 'main', 'keep;');
    storage.scripts.activate(accountId, 'main');
    assert.deepEqual(await storage.scripts.active(accountId), { name: 'main', text: 'keep;' });
    // Same length, same millisecond: the replaced file is still noticed.
    await storage.scripts.put(accountId, 'main', 'stop;');
    assert.deepEqual(await storage.scripts.active(accountId), { name: 'main', text: 'stop;' });
    await storage.scripts.put(accountId, 'other', 'discard;');
    storage.scripts.activate(accountId, 'other');
    assert.deepEqual(await storage.scripts.active(accountId), { name: 'other', text: 'discard;' });
    storage.scripts.activate(accountId, undefined);
    assert.equal(await storage.scripts.active(accountId), undefined);
  });

  test('a second store (another process) sees a script replaced by the first', async () => {
    await storage.scripts.put(accountId, 'main', 'keep;');
    storage.scripts.activate(accountId, 'main');
    const other = openStorage(scratch.dir);
    try {
      assert.equal((await other.scripts.active(accountId))?.text, 'keep;');
      await storage.scripts.put(accountId, 'main', 'require "fileinto"; fileinto "Junk";');
      assert.equal((await other.scripts.active(accountId))?.text, 'require "fileinto"; fileinto "Junk";');
    } finally {
      other.close();
    }
  });

  test('a script activated or deactivated by another process counts from the next event-loop turn', async () => {
    await storage.scripts.put(accountId, 'main', 'keep;');
    await storage.scripts.put(accountId, 'spam', 'discard;');
    storage.scripts.activate(accountId, 'main');
    assert.equal((await storage.scripts.active(accountId))?.name, 'main');
    const other = openStorage(scratch.dir);
    try {
      other.scripts.activate(accountId, 'spam');
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(await storage.scripts.active(accountId), { name: 'spam', text: 'discard;' });
      other.scripts.activate(accountId, undefined);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(await storage.scripts.active(accountId), undefined);
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
    await storage.scripts.put(id, 'main', 'keep;');
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
    assert.deepEqual(await storage.scripts.active(id), { name: 'main', text: 'keep;' });
    assert.equal(await storage.scripts.get(id, 'main'), 'keep;');
    assert.deepEqual(await storage.scripts.filesOnDisk(id), ['main.sieve']);
  } finally {
    storage.close();
    scratch.cleanup();
  }
});

test('a removal in a unit of work hides the file until the commit: put back when the unit fails, gone (with no leftover) when it commits', async () => {
  const scratch = scratchDir();
  const storage = openStorage(scratch.dir);
  try {
    storage.directory.addDomain('example.test');
    const id = storage.directory.addAccount({ address: 'carol@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    await storage.scripts.put(id, 'main', 'keep;');
    await storage.scripts.put(id, 'spare', 'stop;');
    await assert.rejects(
      storage.ports.transaction(async (tx) => {
        await tx.scripts.remove(id, 'spare');
        const during = await storage.scripts.filesOnDisk(id);
        assert.ok(!during.includes('spare.sieve'), 'out of sight while the unit is open');
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(await storage.scripts.filesOnDisk(id), ['main.sieve', 'spare.sieve']);
    assert.equal(await storage.scripts.get(id, 'spare'), 'stop;');
    await storage.ports.transaction(async (tx) => tx.scripts.remove(id, 'spare'));
    assert.deepEqual(await storage.scripts.filesOnDisk(id), ['main.sieve']);
    await storage.ports.transaction(async (tx) => tx.scripts.removeAll(id));
    assert.deepEqual(await storage.scripts.filesOnDisk(id), []);
    assert.deepEqual(readdirSync(path.join(scratch.dir, 'sieve', 'example.test')), [], 'no hidden leftover of the account directory');
  } finally {
    storage.close();
    scratch.cleanup();
  }
});

test('put: a failing index change leaves neither the staged file nor a changed script', async () => {
  const scratch = scratchDir();
  const storage = openStorage(scratch.dir);
  try {
    storage.directory.addDomain('example.test');
    const id = storage.directory.addAccount({ address: 'dave@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    for (let i = 0; i < 64; i++) await storage.scripts.put(id, `s${i}`, 'keep;');
    await assert.rejects(storage.scripts.put(id, 'one-too-many', 'keep;'), /too many/);
    const names = await storage.scripts.filesOnDisk(id);
    assert.equal(names.length, 64);
    assert.ok(names.every((n) => n.endsWith('.sieve')), names.join(' '));
  } finally {
    storage.close();
    scratch.cleanup();
  }
});
