// The admin API's auth over the in-memory storage, through Hono's
// app.request (no socket): an expired or revoked session is refused, the
// CSRF header is needed for writes with a cookie and not with a token, and
// changes are audited in the unit of work they are made in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openMemoryStorage } from '../../../storage/memory/index.js';
import { buildAdminApp, type AdminDeps } from '../../../src/admin/app.js';
import { adminApiModule } from '../../../src/admin/api/module.js';
import { Authenticator } from '../../../src/auth/authenticator.js';
import { AuthPenalty, DEFAULT_PENALTY } from '../../../src/auth/penalty.js';
import { resolveConfig } from '../../../src/config.js';
import { AdminAccountService } from '../../../src/services/admin-accounts.js';
import { hashSecret } from '../../../src/admin/api/credentials.js';

const PASSWORD = 'tangerine-otter-42';

async function setup() {
  const storage = openMemoryStorage();
  const failures: Array<Record<string, unknown>> = [];
  const deps: AdminDeps = {
    config: () => resolveConfig({}, {}),
    storage,
    log: { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} } as unknown as AdminDeps['log'],
    authenticator: new Authenticator(storage.directory, { log: { warn: (e) => failures.push(e) }, penalty: new AuthPenalty({ ...DEFAULT_PENALTY, firstDelayMs: 0, maxDelayMs: 0 }) }),
    dataDir: '/nonexistent',
  };
  await new AdminAccountService(storage).add('root', PASSWORD);
  const app = buildAdminApp(deps, [adminApiModule]);
  const call = (method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}) =>
    app.request(`https://admin.test/api/v1${path}`, {
      method,
      headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  const login = async () => {
    const res = await call('POST', '/session', { body: { username: 'root', password: PASSWORD } });
    assert.equal(res.status, 200);
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    const { csrfToken } = (await res.json()) as { csrfToken: string };
    return { cookie, csrfToken, secret: cookie.slice(cookie.indexOf('=') + 1) };
  };
  return { storage, call, login, failures };
}

test('a session past its expiry is refused, and one removed is refused at once', async () => {
  const { storage, call, login } = await setup();
  const s = await login();
  assert.equal((await call('GET', '/session', { headers: { cookie: s.cookie } })).status, 200);
  const cred = (await storage.admin.findCredential(hashSecret(s.secret)))!;
  assert.ok(cred.expires! > Date.now());
  await storage.admin.touchCredential(cred.id, Date.now(), Date.now() - 1);
  assert.equal((await call('GET', '/session', { headers: { cookie: s.cookie } })).status, 401);

  const s2 = await login();
  const cred2 = (await storage.admin.findCredential(hashSecret(s2.secret)))!;
  await storage.admin.removeCredential(cred2.id);
  assert.equal((await call('GET', '/domains', { headers: { cookie: s2.cookie } })).status, 401);
});

test('CSRF: a cookie write needs the header, a token write does not; a token is not accepted as a cookie', async () => {
  const { call, login } = await setup();
  const s = await login();
  const noHeader = await call('POST', '/tokens', { body: { name: 't' }, headers: { cookie: s.cookie } });
  assert.equal(noHeader.status, 403);
  assert.equal(((await noHeader.json()) as { type: string }).type, 'urn:postino:problem:csrf');
  const made = await call('POST', '/tokens', { body: { name: 't' }, headers: { cookie: s.cookie, 'x-csrf-token': s.csrfToken } });
  assert.equal(made.status, 201);
  const { token } = (await made.json()) as { token: string };
  assert.equal((await call('POST', '/tokens', { body: { name: 't2' }, headers: { authorization: `Bearer ${token}` } })).status, 201);
  assert.equal((await call('GET', '/tokens', { headers: { cookie: `postino_session=${token}` } })).status, 401);
  assert.equal((await call('GET', '/tokens', { headers: { authorization: `Bearer ${s.secret}` } })).status, 401, 'a session secret is not a token');
});

test('a failed admin login goes through the shared authenticator: logged as auth-failed, service admin', async () => {
  const { call, failures } = await setup();
  assert.equal((await call('POST', '/session', { body: { username: 'root', password: 'nope-nope-nope' } })).status, 401);
  assert.equal((await call('POST', '/session', { body: { username: 'ghost', password: 'nope-nope-nope' } })).status, 401);
  assert.deepEqual(
    failures.map((f) => [f.event, f.service, f.user, f.reason]),
    [
      ['auth-failed', 'admin', 'root', 'wrong password'],
      ['auth-failed', 'admin', 'ghost', 'unknown user'],
    ],
  );
});

test('a change and its audit entry land together: a refused change leaves no entry', async () => {
  const { storage, call, login } = await setup();
  const s = await login();
  const h = { cookie: s.cookie, 'x-csrf-token': s.csrfToken };
  assert.equal((await call('POST', '/domains', { body: { domain: 'a.test', postmaster: 'pm@a.test', password: PASSWORD }, headers: h })).status, 201);
  const n = (await storage.admin.listAudit(100)).length;
  assert.equal((await call('POST', '/domains', { body: { domain: 'a.test', postmaster: 'pm@a.test', password: PASSWORD }, headers: h })).status, 409);
  assert.equal((await storage.admin.listAudit(100)).length, n);
  const [last] = await storage.admin.listAudit(1);
  assert.deepEqual([last!.actor, last!.action, last!.target], ['root', 'domain.add', 'a.test']);
});
