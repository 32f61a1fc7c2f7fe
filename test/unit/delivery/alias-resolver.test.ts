import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStorage } from '../../../storage/index.js';
import { AliasResolver } from '../../../src/delivery/alias-resolver.js';
import { scratchDir } from '../../support/tmp.js';

test('aliases expand through chains, subaddresses and loops', () => {
  const s = scratchDir();
  const storage = openStorage(s.dir);
  try {
    const d = storage.directory;
    d.addDomain('example.test');
    for (const u of ['alice', 'bob']) d.addAccount({ address: `${u}@example.test`, passwordHash: 'x', scramSha256: null, quota: null });
    d.addAliasTargets('team@example.test', ['alice@example.test', 'sales@example.test', 'partner@remote.test']);
    d.addAliasTargets('sales@example.test', ['bob@example.test', 'team@example.test', 'alice@example.test']);
    d.addAliasTargets('ring1@example.test', ['ring2@example.test']);
    d.addAliasTargets('ring2@example.test', ['ring1@example.test']);
    d.addAliasTargets('ghostly@example.test', ['ghost@example.test']);
    const r = new AliasResolver(d);

    const team = r.expand('team@example.test');
    assert.deepEqual(team.local.map((l) => l.account.address).sort(), ['alice@example.test', 'bob@example.test']);
    assert.deepEqual(team.remote, ['partner@remote.test']);

    const sub = r.expand('Alice+Lists@Example.test');
    assert.equal(sub.local[0]!.account.address, 'alice@example.test');
    assert.equal(sub.local[0]!.detail, 'Lists'.toLowerCase());
    assert.deepEqual(r.expand('sales+x@example.test').local.map((l) => l.account.address).sort(), ['alice@example.test', 'bob@example.test']);

    assert.throws(() => r.expand('ring1@example.test'), { code: 'REFUSED', enhanced: '5.4.6' });
    assert.throws(() => r.expand('nobody@example.test'), { code: 'NONEXISTENT', enhanced: '5.1.1' });
    assert.throws(() => r.expand('ghostly@example.test'), { code: 'NONEXISTENT' });
    assert.deepEqual(r.expand('someone@remote.test').remote, ['someone@remote.test']);
  } finally {
    storage.close();
    s.cleanup();
  }
});

test('a target that no longer exists is listed as dead beside the live ones; only an alias with no live target is unknown', () => {
  const s = scratchDir();
  const storage = openStorage(s.dir);
  try {
    const d = storage.directory;
    d.addDomain('example.test');
    for (const u of ['alice', 'bob']) d.addAccount({ address: `${u}@example.test`, passwordHash: 'x', scramSha256: null, quota: null });
    d.addAliasTargets('ops@example.test', ['alice@example.test', 'bob@example.test', 'inner@example.test']);
    d.addAliasTargets('inner@example.test', ['bob@example.test', 'carol@example.test']);
    d.removeAccount('bob@example.test');
    const r = new AliasResolver(d);
    const ops = r.expand('ops@example.test');
    assert.deepEqual(ops.local.map((l) => l.account.address), ['alice@example.test']);
    assert.deepEqual(ops.dead, [
      { target: 'bob@example.test', alias: 'ops@example.test' },
      { target: 'carol@example.test', alias: 'inner@example.test' },
    ]);
    assert.throws(() => r.expand('inner@example.test'), { code: 'NONEXISTENT', enhanced: '5.1.1' });
    assert.throws(() => r.expand('bob@example.test'), { code: 'NONEXISTENT', enhanced: '5.1.1' });
  } finally {
    storage.close();
    s.cleanup();
  }
});
