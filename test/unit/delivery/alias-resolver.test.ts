import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStorage } from '../../../storage/index.js';
import { AliasResolver } from '../../../src/delivery/alias-resolver.js';
import { scratchDir } from '../../support/tmp.js';

test('aliases expand through chains, subaddresses and loops', async () => {
  const s = scratchDir();
  const storage = openStorage(s.dir);
  try {
    const d = storage.directory;
    await d.addDomain('example.test');
    for (const u of ['alice', 'bob']) await d.addAccount({ address: `${u}@example.test`, passwordHash: 'x', scramSha256: null, quota: null });
    await d.addAliasTargets('team@example.test', ['alice@example.test', 'sales@example.test', 'partner@remote.test']);
    await d.addAliasTargets('sales@example.test', ['bob@example.test', 'team@example.test', 'alice@example.test']);
    await d.addAliasTargets('ring1@example.test', ['ring2@example.test']);
    await d.addAliasTargets('ring2@example.test', ['ring1@example.test']);
    await d.addAliasTargets('ghostly@example.test', ['ghost@example.test']);
    const r = new AliasResolver(d);

    const team = await r.expand('team@example.test');
    assert.deepEqual(team.local.map((l) => l.account.address).sort(), ['alice@example.test', 'bob@example.test']);
    assert.deepEqual(team.remote, ['partner@remote.test']);

    const sub = await r.expand('Alice+Lists@Example.test');
    assert.equal(sub.local[0]!.account.address, 'alice@example.test');
    assert.equal(sub.local[0]!.detail, 'Lists'.toLowerCase());
    assert.deepEqual((await r.expand('sales+x@example.test')).local.map((l) => l.account.address).sort(), ['alice@example.test', 'bob@example.test']);

    await assert.rejects(() => r.expand('ring1@example.test'), { code: 'REFUSED', enhanced: '5.4.6' });
    await assert.rejects(() => r.expand('nobody@example.test'), { code: 'NONEXISTENT', enhanced: '5.1.1' });
    await assert.rejects(() => r.expand('ghostly@example.test'), { code: 'NONEXISTENT' });
    assert.deepEqual((await r.expand('someone@remote.test')).remote, ['someone@remote.test']);
  } finally {
    storage.close();
    s.cleanup();
  }
});

test('a target that no longer exists is listed as dead beside the live ones; only an alias with no live target is unknown', async () => {
  const s = scratchDir();
  const storage = openStorage(s.dir);
  try {
    const d = storage.directory;
    await d.addDomain('example.test');
    for (const u of ['alice', 'bob']) await d.addAccount({ address: `${u}@example.test`, passwordHash: 'x', scramSha256: null, quota: null });
    await d.addAliasTargets('ops@example.test', ['alice@example.test', 'bob@example.test', 'inner@example.test']);
    await d.addAliasTargets('inner@example.test', ['bob@example.test', 'carol@example.test']);
    await d.removeAccount('bob@example.test');
    const r = new AliasResolver(d);
    const ops = await r.expand('ops@example.test');
    assert.deepEqual(ops.local.map((l) => l.account.address), ['alice@example.test']);
    assert.deepEqual(ops.dead, [
      { target: 'bob@example.test', alias: 'ops@example.test' },
      { target: 'carol@example.test', alias: 'inner@example.test' },
    ]);
    await assert.rejects(() => r.expand('inner@example.test'), { code: 'NONEXISTENT', enhanced: '5.1.1' });
    await assert.rejects(() => r.expand('bob@example.test'), { code: 'NONEXISTENT', enhanced: '5.1.1' });
  } finally {
    storage.close();
    s.cleanup();
  }
});
