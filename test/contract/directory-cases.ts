// The Directory port: domains, accounts, aliases, unique addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failsWith, msg, type Fixture } from './suite.js';

export function directoryCases(fx: Fixture): void {
  test('domains: added once, matched without case, listed in order, removed only when empty', async () => {
    const d = fx.s.directory;
    await d.addDomain('b.test');
    await d.addDomain('A.Test');
    assert.equal(await d.hasDomain('a.test'), true);
    assert.equal(await d.hasDomain('B.TEST'), true);
    assert.equal(await d.hasDomain('c.test'), false);
    assert.deepEqual(await d.listDomains(), [{ name: 'a.test' }, { name: 'b.test' }, { name: 'example.test' }]);
    await failsWith('ALREADYEXISTS', () => d.addDomain('b.test'));
    await failsWith('REFUSED', () => d.removeDomain('example.test'));
    await failsWith('NONEXISTENT', () => d.removeDomain('c.test'));
    await d.addAliasTargets('info@b.test', ['alice@example.test']);
    await d.removeDomain('b.test');
    assert.equal(await d.hasDomain('b.test'), false);
    assert.equal(await d.getAlias('info@b.test'), undefined, 'the aliases of a removed domain go with it');
  });

  test('accounts: lower-cased, found without case, unique, ids never reused', async () => {
    const d = fx.s.directory;
    const carol = await d.addAccount({ address: 'Carol@Example.Test', passwordHash: 'h', scramSha256: 's', quota: 1000 });
    assert.equal(carol.address, 'carol@example.test');
    assert.equal(carol.domain, 'example.test');
    assert.equal(carol.localpart, 'carol');
    assert.equal(carol.disabled, false);
    assert.equal(carol.quota, 1000);
    assert.equal(carol.scramSha256, 's');
    assert.ok(carol.id > fx.bob && fx.bob > fx.alice);
    assert.equal((await d.getAccount('CAROL@example.test'))?.id, carol.id);
    assert.equal((await d.getAccountById(carol.id))?.address, 'carol@example.test');
    assert.equal(await d.getAccountById(carol.id + 100), undefined);
    await failsWith('ALREADYEXISTS', () => d.addAccount({ address: 'carol@EXAMPLE.test', passwordHash: 'h', scramSha256: null, quota: null }));
    await failsWith('NONEXISTENT', () => d.addAccount({ address: 'x@nowhere.test', passwordHash: 'h', scramSha256: null, quota: null }));
    await d.addDomain('aa.test');
    await d.addAccount({ address: 'zed@aa.test', passwordHash: 'h', scramSha256: null, quota: null });
    assert.deepEqual(
      (await d.listAccounts()).map((a) => a.address),
      ['zed@aa.test', 'alice@example.test', 'bob@example.test', 'carol@example.test'],
      'ordered by domain, then local part',
    );
    await d.removeAccount('carol@example.test');
    assert.equal(await d.getAccount('carol@example.test'), undefined);
    const again = await d.addAccount({ address: 'carol@example.test', passwordHash: 'h', scramSha256: null, quota: null });
    assert.ok(again.id > carol.id, 'a new account never gets an old id');
    await failsWith('NONEXISTENT', () => d.removeAccount('nobody@example.test'));
  });

  test('accounts: password, disabled and quota change; unknown addresses are NONEXISTENT', async () => {
    const d = fx.s.directory;
    await d.setPassword('alice@example.test', 'new-hash', 'new-scram');
    await d.setDisabled('alice@example.test', true);
    await d.setQuota('alice@example.test', 5000);
    const a = (await d.getAccount('alice@example.test'))!;
    assert.deepEqual([a.passwordHash, a.scramSha256, a.disabled, a.quota], ['new-hash', 'new-scram', true, 5000]);
    await d.setDisabled('alice@example.test', false);
    await d.setQuota('alice@example.test', null);
    const b = (await d.getAccountById(fx.alice))!;
    assert.deepEqual([b.disabled, b.quota], [false, null]);
    await failsWith('NONEXISTENT', () => d.setPassword('nobody@example.test', 'h', null));
    await failsWith('NONEXISTENT', () => d.setDisabled('nobody@example.test', true));
    await failsWith('NONEXISTENT', () => d.setQuota('nobody@example.test', 1));
  });

  test('aliases: targets lower-cased and sorted, an address is an account or an alias, never both', async () => {
    const d = fx.s.directory;
    await d.addAliasTargets('Sales@example.test', ['Bob@example.test', 'alice@example.test']);
    await d.addAliasTargets('sales@example.test', ['alice@example.test', 'x@remote.test']);
    assert.deepEqual(await d.getAlias('SALES@example.test'), { address: 'sales@example.test', targets: ['alice@example.test', 'bob@example.test', 'x@remote.test'] });
    await failsWith('ALREADYEXISTS', () => d.addAliasTargets('alice@example.test', ['bob@example.test']));
    await failsWith('ALREADYEXISTS', () => d.addAccount({ address: 'sales@example.test', passwordHash: 'h', scramSha256: null, quota: null }));
    await failsWith('NONEXISTENT', () => d.addAliasTargets('x@nowhere.test', ['alice@example.test']));
    await d.addAliasTargets('abuse@example.test', ['alice@example.test']);
    assert.deepEqual(
      (await d.listAliases()).map((a) => [a.address, a.targets.length]),
      [
        ['abuse@example.test', 1],
        ['sales@example.test', 3],
      ],
    );
    await d.removeAliasTargets('sales@example.test', ['x@remote.test']);
    assert.deepEqual((await d.getAlias('sales@example.test'))?.targets, ['alice@example.test', 'bob@example.test']);
    await failsWith('NONEXISTENT', () => d.removeAliasTargets('sales@example.test', ['nobody@example.test']));
    await d.removeAliasTargets('sales@example.test');
    assert.equal(await d.getAlias('sales@example.test'), undefined);
    await failsWith('NONEXISTENT', () => d.removeAliasTargets('sales@example.test'));
  });

  test('removeAccount while its mail is still indexed fails and changes nothing', async () => {
    const { directory: d, mail } = fx.s;
    await mail.append(fx.bob, 'INBOX', msg('b'));
    await assert.rejects(async () => d.removeAccount('bob@example.test'));
    assert.equal((await d.getAccount('bob@example.test'))?.id, fx.bob);
    assert.equal((await mail.getMailbox(fx.bob, 'INBOX'))?.messages, 1);
  });
}
