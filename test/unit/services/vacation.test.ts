// The vacation script: valid Sieve for any subject and text (quotes,
// backslashes, newlines), with or without a date range; its settings read
// back; turning it off re-activates the script that was active before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../../sieve/index.js';
import { openMemoryStorage } from '../../../storage/memory/index.js';
import { VacationService, vacationScript } from '../../../src/services/vacation.js';
import { DEFAULT_SIEVE_QUOTAS } from '../../../src/config.js';

test('vacation script compiles with hostile text and with a date range', () => {
  for (const s of [
    { enabled: true, subject: 'Away "now" \\ back', message: 'Line 1\r\nLine "2" \\\n.\n', days: 3 },
    { enabled: true, subject: 'x', message: 'y', days: 1, from: '2026-12-01', until: '2026-12-31' },
    { enabled: true, subject: 'x', message: 'y', days: 1, until: '2026-12-31' },
  ]) {
    const r = compile(vacationScript(s));
    assert.ok(r.ok, JSON.stringify(r));
  }
  assert.throws(() => vacationScript({ enabled: true, subject: 'x', message: 'y', days: 1, from: '2026-13-45' }), /from: not a date/);
});

test('vacation on and off: the script named vacation is active while on; the one active before comes back', async () => {
  const storage = openMemoryStorage();
  await storage.directory.addDomain('example.test');
  const account = await storage.directory.addAccount({ address: 'a@example.test', passwordHash: 'x', scramSha256: null, quota: null });
  await storage.scripts.put(account.id, 'filters', 'keep;');
  await storage.scripts.activate(account.id, 'filters');
  const v = new VacationService(storage, DEFAULT_SIEVE_QUOTAS, 'a@example.test');
  assert.deepEqual(await v.get(account.id), { enabled: false, subject: '', message: '', days: 7 });
  const on = await v.set(account, { enabled: true, subject: 'Away', message: 'Back soon', days: 2 });
  assert.deepEqual(on, { enabled: true, subject: 'Away', message: 'Back soon', days: 2 });
  assert.equal((await storage.scripts.active(account.id))?.name, 'vacation');
  // Changed while on: still remembers "filters".
  await v.set(account, { enabled: true, subject: 'Away!', message: 'Back soon', days: 2 });
  const off = await v.set(account, { enabled: false, subject: 'Away!', message: 'Back soon', days: 2 });
  assert.equal(off.enabled, false);
  assert.equal((await storage.scripts.active(account.id))?.name, 'filters');
  const [entry] = await storage.admin.listAudit(1);
  assert.equal(entry!.action, 'vacation.set');
  assert.equal(entry!.actor, 'a@example.test');
});
