// The script quotas ManageSieve and `postino sieve put` share: the config
// keys (defaults, bounds) and SieveScriptService over the in-memory store
// (the count checked inside the unit of work, so uploads at once cannot pass
// the limit together; the size refused before anything is stored; names
// validated before any quota).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openMemoryStorage } from '../../../storage/memory/index.js';
import { passwordRecords } from '../../../src/auth/password.js';
import { DEFAULT_SIEVE_QUOTAS, resolveConfig, validateConfig } from '../../../src/config.js';
import { SieveScriptService, ScriptQuotaError } from '../../../src/services/sieve-scripts.js';
import { MailError } from '../../../storage/errors.js';

test('config: sieve.maxScripts and sieve.maxScriptSize, with defaults and bounds', () => {
  const d = resolveConfig({}, {});
  assert.equal(d.sieve.maxScripts, DEFAULT_SIEVE_QUOTAS.maxScripts);
  assert.equal(d.sieve.maxScriptSize, 64 * 1024);
  const c = resolveConfig(validateConfig({ sieve: { maxScripts: 5, maxScriptSize: 1000 } }), {});
  assert.deepEqual([c.sieve.maxScripts, c.sieve.maxScriptSize], [5, 1000]);
  assert.throws(() => validateConfig({ sieve: { maxScripts: 0 } }), /sieve\.maxScripts/);
  assert.throws(() => validateConfig({ sieve: { maxScripts: 10_000 } }), /sieve\.maxScripts/, 'not above the store\'s own cap');
  assert.throws(() => validateConfig({ sieve: { maxScriptSize: 1e9 } }), /sieve\.maxScriptSize/);
});

test('SieveScriptService keeps to the quotas', async () => {
  const storage = openMemoryStorage();
  await storage.directory.addDomain('example.test');
  const account = await storage.directory.addAccount({ address: 'bob@example.test', ...(await passwordRecords('a long enough passphrase 77')), quota: null });
  const service = new SieveScriptService(storage, { maxScripts: 3, maxScriptSize: 100 });

  await assert.rejects(service.put(account, 'big', `# ${'x'.repeat(100)}\nkeep;`), (e) => e instanceof ScriptQuotaError && e.quota === 'MAXSIZE');
  await assert.rejects(service.haveSpace(account, 'big', 101), (e) => e instanceof ScriptQuotaError && e.quota === 'MAXSIZE');
  await assert.rejects(service.put(account, 'bad', 'if true {'), (e) => e instanceof MailError && e.code === 'BADINPUT' && /^1:\d+: /.test(e.message));
  await assert.rejects(service.put(account, '../x', 'keep;'), (e) => e instanceof MailError && e.code === 'BADINPUT');
  await assert.rejects(service.haveSpace(account, 'a/b', 1), (e) => e instanceof MailError && e.code === 'BADINPUT');
  assert.deepEqual(await service.list(account), [], 'nothing stored by refusals');

  // Five uploads at once with room for three: exactly three land.
  const results = await Promise.allSettled(['a', 'b', 'c', 'd', 'e'].map((n) => service.put(account, n, 'keep;')));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
  for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof ScriptQuotaError && r.reason.quota === 'MAXSCRIPTS');
  assert.equal((await service.list(account)).length, 3);
  const [first] = await service.list(account);
  await service.put(account, first!.name, 'discard;', true);
  assert.equal(await service.get(account, first!.name), 'discard;', 'replacing at the limit works');
  await service.haveSpace(account, first!.name, 50);
  await assert.rejects(service.haveSpace(account, 'new', 50), (e) => e instanceof ScriptQuotaError && e.quota === 'MAXSCRIPTS');
});
