// The admin HTTP API against a real `postino serve` over HTTPS: every
// route refuses without a login, sessions need the CSRF header, tokens stop
// at once when revoked, a domain admin stays in its domains, 400s name the
// field with the CLI's message for the same input, changes reach the audit
// log, the OpenAPI document lists every route, and an out-of-office reply
// set through /me/vacation answers an SMTP delivery.
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { startServe, type Served } from '../support/serve.js';
import { postino } from '../support/cli.js';
import { cliPath } from '../support/paths.js';
import { openDialog } from '../support/smtp-dialog.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';
import { SERVICES } from '../../src/config.js';
import { apiRoutes } from '../../src/admin/api/module.js';

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const PASSWORD = 'tangerine-otter-42';

interface Reply {
  status: number;
  type: string;
  headers: Record<string, string | string[] | undefined>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

interface Creds {
  token?: string;
  cookie?: string;
  csrf?: string;
}

let adminPort = 0;

function api(method: string, p: string, body?: unknown, creds: Creds = {}, raw?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    const payload = raw ?? (body === undefined ? undefined : JSON.stringify(body));
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (creds.token) headers.authorization = `Bearer ${creds.token}`;
    if (creds.cookie) headers.cookie = creds.cookie;
    if (creds.csrf) headers['x-csrf-token'] = creds.csrf;
    const req = request({ host: '127.0.0.1', port: adminPort, path: `/api/v1${p}`, method, headers, rejectUnauthorized: false, agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = text === '' ? undefined : JSON.parse(text);
        } catch {
          // not JSON: kept as text
        }
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), headers: res.headers, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** A browser login: the session cookie and the CSRF token. */
async function login(username: string, password: string): Promise<Creds & { reply: Reply }> {
  const reply = await api('POST', '/session', { username, password });
  const setCookie = reply.headers['set-cookie'];
  const cookie = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  return { reply, cookie: cookie?.split(';')[0], csrf: reply.body?.csrfToken };
}

const enc = encodeURIComponent;

describe('admin HTTP API', { timeout: 300_000 }, () => {
  const s = scratchDir();
  let served: Served;
  let dns: DnsFixture;
  let smtpPort = 0;
  let root: Creds & { reply: Reply };
  const cli = (args: string[], stdin?: string) => postino(s.dir, args, stdin);
  const cliOk = (args: string[], stdin?: string) => {
    const r = cli(args, stdin);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  before(async () => {
    dns = await startDnsFixture({ 'remote.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] } });
    writeFileSync(
      path.join(s.dir, 'postino.json'),
      JSON.stringify({ hostname: 'mx.example.test', dns: { servers: dns.servers }, relay: { smarthost: { host: '127.0.0.1', port: 1, tls: 'opportunistic' } } }),
    );
    cliOk(['domain', 'add', 'example.test', '--postmaster', 'alice@example.test', '--password-stdin'], PASSWORD);
    cliOk(['domain', 'add', 'other.test', '--postmaster', 'olga@other.test', '--password-stdin'], PASSWORD);
    cliOk(['admin', 'add', 'root', '--password-stdin'], `${PASSWORD}\n`);
    cliOk(['admin', 'add', 'ex', '--password-stdin', '--domain', 'example.test'], PASSWORD);
    served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], { ...freePorts, POSTINO_LISTEN: '127.0.0.1' });
    adminPort = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'admin')).port);
    smtpPort = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'smtp')).port);
    await served.waitFor((e) => e.event === 'ready');
    root = await login('root', PASSWORD);
    assert.equal(root.reply.status, 200, JSON.stringify(root.reply.body));
  });

  after(async () => {
    if (served) assert.equal(await served.stop(), 0);
    await dns?.close();
    s.cleanup();
  });

  test('the CLI bootstraps admins: list --json, a weak password and an unknown domain refused, the last superadmin kept', () => {
    const list = JSON.parse(cliOk(['admin', 'list', '--json'])) as Array<{ username: string; kind: string; domains: string[] }>;
    assert.deepEqual(list.map((a) => [a.username, a.kind, a.domains]), [['ex', 'domainadmin', ['example.test']], ['root', 'superadmin', []]]);
    assert.match(cli(['admin', 'add', 'weak', '--password-stdin'], 'password12345').stderr, /password is too common/);
    assert.match(cli(['admin', 'add', 'x', '--password-stdin', '--domain', 'nowhere.test'], PASSWORD).stderr, /no such domain: nowhere\.test/);
    assert.match(cli(['admin', 'remove', 'root']).stderr, /root is the last superadmin/);
  });

  test('every route but the login answers 401 without a credential, and with a made-up or malformed one', async () => {
    for (const r of apiRoutes) {
      if (r.access === 'public') continue;
      const p = r.path.replace(/\{\w+\}/g, 'x%40example.test');
      for (const creds of [{}, { token: 'pt_' + 'A'.repeat(43) }, { token: 'garbage' }, { cookie: 'postino_session=ps_' + 'B'.repeat(43) }] as Creds[]) {
        const reply = await api(r.method, p, r.body ? {} : undefined, creds);
        assert.equal(reply.status, 401, `${r.method} ${r.path} ${JSON.stringify(creds)}`);
        assert.match(reply.type, /application\/problem\+json/);
      }
    }
  });

  test('a session cookie is Secure, HttpOnly, SameSite=Strict; a write without the CSRF header is refused; logout ends it', async () => {
    const setCookie = String(root.reply.headers['set-cookie']);
    assert.match(setCookie, /postino_session=ps_/);
    assert.match(setCookie, /Secure/);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.match(setCookie, /Path=\//);
    assert.deepEqual(root.reply.body.principal, { kind: 'superadmin', name: 'root' });
    const who = await api('GET', '/session', undefined, { cookie: root.cookie });
    assert.equal(who.status, 200);
    assert.equal(who.body.csrfToken, root.csrf);

    const noCsrf = await api('POST', '/tokens', { name: 'x' }, { cookie: root.cookie });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.body.type, 'urn:postino:problem:csrf');
    const wrongCsrf = await api('POST', '/tokens', { name: 'x' }, { cookie: root.cookie, csrf: 'A'.repeat(43) });
    assert.equal(wrongCsrf.status, 403);

    const other = await login('root', PASSWORD);
    assert.equal((await api('DELETE', '/session', undefined, { cookie: other.cookie })).status, 403, 'logout is a write too');
    assert.equal((await api('DELETE', '/session', undefined, other)).status, 204);
    assert.equal((await api('GET', '/session', undefined, { cookie: other.cookie })).status, 401);
  });

  test('a failed login is 401 and logged as auth-failed by the shared authenticator', async () => {
    const bad = await api('POST', '/session', { username: 'root', password: 'wrong-password-1' });
    assert.equal(bad.status, 401);
    await served.waitFor((e) => e.event === 'auth-failed' && e.service === 'admin' && e.user === 'root');
    const badUser = await api('POST', '/session', { username: 'alice@example.test', password: 'wrong-password-1' });
    assert.equal(badUser.status, 401);
    await served.waitFor((e) => e.event === 'auth-failed' && e.service === 'admin' && e.user === 'alice@example.test');
    const missing = await api('POST', '/session', { username: 'root' });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.errors[0].field, 'password');
  });

  test('an API token is shown once, works without CSRF, is listed without its secret, and stops at once when revoked', async () => {
    const made = await api('POST', '/tokens', { name: 'backup script' }, root);
    assert.equal(made.status, 201);
    const token = made.body.token as string;
    assert.match(token, /^pt_/);
    const list = await api('GET', '/tokens', undefined, { token });
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.map((t: { name: string }) => t.name), ['backup script']);
    assert.ok(!JSON.stringify(list.body).includes(token));
    assert.equal((await api('GET', '/domains', undefined, { token })).status, 200);
    assert.equal((await api('DELETE', `/tokens/${made.body.id}`, undefined, { token })).status, 204);
    assert.equal((await api('GET', '/domains', undefined, { token })).status, 401);
    assert.equal((await api('DELETE', `/tokens/${made.body.id}`, undefined, root)).status, 404);
  });

  test('domains, accounts and aliases: 201, 200, 204, and 404, 409 as the CLI', async () => {
    assert.equal((await api('POST', '/domains', { domain: 'new.test', postmaster: 'pm@new.test', password: PASSWORD }, root)).status, 201);
    const dup = await api('POST', '/domains', { domain: 'new.test', postmaster: 'pm@new.test', password: PASSWORD }, root);
    assert.equal(dup.status, 409);
    assert.equal(dup.body.detail, 'domain new.test exists already');
    const domains = await api('GET', '/domains', undefined, root);
    assert.deepEqual(domains.body.find((d: { domain: string }) => d.domain === 'new.test'), { domain: 'new.test', accounts: 1, aliases: 2 });

    const add = await api('POST', '/accounts', { address: 'Box@new.test', password: PASSWORD, quota: 1000000 }, root);
    assert.equal(add.status, 201, JSON.stringify(add.body));
    assert.deepEqual(add.body, { address: 'box@new.test', quota: 1000000, usage: 0, messages: 0, disabled: false });
    assert.equal((await api('POST', '/accounts', { address: 'box@new.test', password: PASSWORD }, root)).status, 409);
    const patched = await api('PATCH', `/accounts/${enc('box@new.test')}`, { disabled: true, quota: null }, root);
    assert.equal(patched.status, 200);
    assert.deepEqual([patched.body.disabled, patched.body.quota], [true, null]);
    assert.equal((await api('GET', `/accounts/${enc('nobody@new.test')}`, undefined, root)).status, 404);
    assert.equal((await api('GET', '/domains/none.test/accounts', undefined, root)).status, 404);

    const alias = await api('PUT', `/aliases/${enc('team@new.test')}`, { targets: ['box@new.test', 'friend@remote.test'] }, root);
    assert.equal(alias.status, 200);
    assert.deepEqual(alias.body.targets, ['box@new.test', 'friend@remote.test']);
    const replaced = await api('PUT', `/aliases/${enc('team@new.test')}`, { targets: ['pm@new.test'] }, root);
    assert.deepEqual(replaced.body.targets, ['pm@new.test']);
    const shadow = await api('PUT', `/aliases/${enc('box@new.test')}`, { targets: ['pm@new.test'] }, root);
    assert.equal(shadow.status, 409);
    assert.equal(shadow.body.detail, 'box@new.test is an account; an alias cannot shadow it');
    assert.equal((await api('DELETE', `/aliases/${enc('team@new.test')}`, undefined, root)).status, 204);
    assert.equal((await api('DELETE', `/aliases/${enc('team@new.test')}`, undefined, root)).status, 404);
    assert.equal((await api('DELETE', `/accounts/${enc('box@new.test')}`, undefined, root)).status, 204);
  });

  test('nothing the CLI refuses is accepted through the API: the same input, the same message, the field named', async () => {
    const same = async (cliArgs: string[], stdin: string | undefined, reply: Reply, field: string | undefined, status = 400) => {
      const r = cli(cliArgs, stdin);
      assert.notEqual(r.code, 0, `the CLI refuses ${cliArgs.join(' ')}`);
      assert.equal(reply.status, status, JSON.stringify(reply.body));
      assert.equal(r.stderr.trim().replace(/^postino [a-z ]+: /, ''), reply.body.detail);
      if (field !== undefined) assert.equal(reply.body.errors[0].field, field);
    };
    await same(['user', 'add', 'weak@example.test', '--password-stdin'], 'password1', await api('POST', '/accounts', { address: 'weak@example.test', password: 'password1' }, root), 'password');
    await same(['user', 'add', 'not an address', '--password-stdin'], PASSWORD, await api('POST', '/accounts', { address: 'not an address', password: PASSWORD }, root), 'address');
    await same(['user', 'add', 'x@nowhere.test', '--password-stdin'], PASSWORD, await api('POST', '/accounts', { address: 'x@nowhere.test', password: PASSWORD }, root), undefined, 404);
    await same(['domain', 'add', 'bad_domain', '--postmaster', 'a@b.test'], undefined, await api('POST', '/domains', { domain: 'bad_domain', postmaster: 'a@b.test' }, root), 'domain');
    await same(['alias', 'remove', 'postmaster@example.test'], undefined, await api('DELETE', `/aliases/${enc('postmaster@example.test')}`, undefined, root), undefined, 409);
    await same(['alias', 'add', 'x@example.test', 'ghost@example.test'], undefined, await api('PUT', `/aliases/${enc('x@example.test')}`, { targets: ['ghost@example.test'] }, root), undefined, 404);
    await same(['alias', 'add', 'x@example.test', 'bad target'], undefined, await api('PUT', `/aliases/${enc('x@example.test')}`, { targets: ['alice@example.test', 'bad target'] }, root), 'targets.1');
    await same(['user', 'passwd', 'alice@example.test', '--password-stdin'], 'alice123456', await api('PATCH', `/accounts/${enc('alice@example.test')}`, { password: 'alice123456' }, root), 'password');
    await same(['user', 'remove', 'alice@example.test'], undefined, await api('DELETE', `/accounts/${enc('alice@example.test')}`, undefined, root), undefined, 409);

    const bad = 'require "fileinto";\nif header :contains "Subject" "x" {\n  fileinto "Junk"\n}\n';
    const file = path.join(s.dir, 'bad.sieve');
    writeFileSync(file, bad);
    const put = await api('PUT', `/accounts/${enc('alice@example.test')}/scripts/bad`, { script: bad }, root);
    await same(['sieve', 'put', 'alice@example.test', 'bad', file], undefined, put, 'script');
    assert.match(put.body.errors[0].message, /^\d+:\d+: /, 'line:col first');

    const zod = await api('POST', '/accounts', { address: 'y@example.test', password: PASSWORD, quota: -1 }, root);
    assert.equal(zod.status, 400);
    assert.equal(zod.body.errors[0].field, 'quota');
    const notJson = await api('POST', '/accounts', undefined, root, '{not json');
    assert.equal(notJson.status, 400);
    const huge = await api('POST', '/accounts', undefined, root, JSON.stringify({ address: 'y@example.test', password: 'x'.repeat(2 * 1024 * 1024) }));
    assert.equal(huge.status, 413);
  });

  test('Sieve scripts: put, get, list, activate, delete; 404 for an unknown one', async () => {
    const a = enc('alice@example.test');
    const ok = await api('PUT', `/accounts/${a}/scripts/spam`, { script: 'require "fileinto";\nfileinto "Junk";\n', activate: true }, root);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.active, true);
    assert.deepEqual((await api('GET', `/accounts/${a}/scripts`, undefined, root)).body, [{ name: 'spam', active: true, size: Buffer.byteLength('require "fileinto";\nfileinto "Junk";\n') }]);
    assert.equal((await api('GET', `/accounts/${a}/scripts/spam`, undefined, root)).body.script, 'require "fileinto";\nfileinto "Junk";\n');
    assert.equal((await api('GET', `/accounts/${a}/scripts/none`, undefined, root)).status, 404);
    assert.equal((await api('POST', `/accounts/${a}/scripts/none/activate`, undefined, root)).status, 404);
    assert.equal((await api('POST', `/accounts/${a}/scripts/spam/activate`, undefined, root)).status, 200);
  });

  test('a domain admin sees and changes only its domains (403 elsewhere), and no superadmin route', async () => {
    const ex = await login('ex', PASSWORD);
    assert.deepEqual(ex.reply.body.principal, { kind: 'domainadmin', name: 'ex', domains: ['example.test'] });
    const domains = await api('GET', '/domains', undefined, ex);
    assert.deepEqual(domains.body.map((d: { domain: string }) => d.domain), ['example.test']);
    const o = enc('olga@other.test');
    const refused: Array<[string, string, unknown?]> = [
      ['GET', '/domains/other.test/accounts'],
      ['GET', '/domains/other.test/aliases'],
      ['GET', '/domains/other.test/dkim'],
      ['GET', '/domains/other.test/dns'],
      ['GET', '/domains/other.test/dns-check'],
      ['POST', '/domains/other.test/dkim', {}],
      ['POST', '/accounts', { address: 'new@other.test', password: PASSWORD }],
      ['GET', `/accounts/${o}`],
      ['PATCH', `/accounts/${o}`, { disabled: true }],
      ['DELETE', `/accounts/${o}`],
      ['PUT', `/aliases/${enc('x@other.test')}`, { targets: ['olga@other.test'] }],
      ['DELETE', `/aliases/${enc('postmaster@other.test')}`],
      ['GET', `/accounts/${o}/scripts`],
      ['GET', `/accounts/${o}/scripts/x`],
      ['PUT', `/accounts/${o}/scripts/x`, { script: 'keep;' }],
      ['POST', `/accounts/${o}/scripts/x/activate`],
      ['DELETE', `/accounts/${o}/scripts/x`],
      ['POST', '/domains', { domain: 'mine.test', postmaster: 'a@example.test' }],
      ['DELETE', '/domains/other.test'],
      ['GET', '/admins'],
      ['POST', '/admins', { username: 'y', password: PASSWORD }],
      ['DELETE', '/admins/root'],
      ['POST', '/queue/flush'],
      ['GET', '/me'],
    ];
    for (const [method, p, body] of refused) {
      const reply = await api(method, p, body, ex);
      assert.equal(reply.status, 403, `${method} ${p}: ${JSON.stringify(reply.body)}`);
    }
    const mine = await api('POST', '/accounts', { address: 'eve@example.test', password: PASSWORD }, ex);
    assert.equal(mine.status, 201, JSON.stringify(mine.body));
    assert.equal((await api('GET', '/domains/example.test/accounts', undefined, ex)).status, 200);
    const audit = await api('GET', '/audit?limit=1000', undefined, ex);
    assert.ok(audit.body.length > 0);
    assert.ok(audit.body.every((e: { target: string }) => !e.target.includes('other.test')), 'no other domain in its audit log');
  });

  test('admins: a superadmin adds and removes one; 400 names the field, 409 for a taken name', async () => {
    const weak = await api('POST', '/admins', { username: 'ops', password: 'password1' }, root);
    assert.equal(weak.status, 400);
    assert.equal(weak.body.errors[0].field, 'password');
    assert.equal(cli(['admin', 'add', 'ops', '--password-stdin'], 'password1').stderr.trim(), `postino admin add: ${weak.body.detail}`);
    const badName = await api('POST', '/admins', { username: 'a@b', password: PASSWORD }, root);
    assert.equal(badName.body.errors[0].field, 'username');
    const badDomain = await api('POST', '/admins', { username: 'ops', password: PASSWORD, domains: ['example.test', 'x_y'] }, root);
    assert.equal(badDomain.body.errors[0].field, 'domains.1');
    assert.equal((await api('POST', '/admins', { username: 'ops', password: PASSWORD, domains: ['other.test'] }, root)).status, 201);
    assert.equal((await api('POST', '/admins', { username: 'ops', password: PASSWORD }, root)).status, 409);
    const ops = await login('ops', PASSWORD);
    assert.equal(ops.reply.status, 200);
    assert.equal((await api('DELETE', '/admins/ops', undefined, root)).status, 204);
    assert.equal((await api('GET', '/domains', undefined, ops)).status, 401, 'a removed admin\'s session ends');
    assert.equal((await api('DELETE', '/admins/ops', undefined, root)).status, 404);
  });

  test('a user gets only /me routes; vacation set through the API answers an SMTP delivery with a reply in the queue', async () => {
    const alice = await login('alice@example.test', PASSWORD);
    assert.deepEqual(alice.reply.body.principal, { kind: 'user', name: 'alice@example.test' });
    assert.equal((await api('GET', '/domains', undefined, alice)).status, 403);
    assert.equal((await api('GET', '/me', undefined, alice)).body.address, 'alice@example.test');
    assert.deepEqual((await api('GET', '/me/vacation', undefined, alice)).body, { enabled: false, subject: '', message: '', days: 7 });
    const off = await api('PUT', '/me/vacation', { enabled: true, subject: 'Away "until" Monday', message: 'I am away.\nBack on Monday.', days: 3 }, alice);
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.equal(off.body.enabled, true);
    const scripts = await api('GET', '/me/scripts', undefined, alice);
    assert.deepEqual(scripts.body.map((x: { name: string; active: boolean }) => [x.name, x.active]), [['spam', false], ['vacation', true]]);

    const d = await openDialog(smtpPort);
    assert.match(await d.send('EHLO remote.test'), /^250/);
    assert.match(await d.send('MAIL FROM:<friend@remote.test>'), /^250/);
    assert.match(await d.send('RCPT TO:<alice@example.test>'), /^250/);
    assert.match(await d.send('DATA'), /^354/);
    const [done] = await d.data('From: friend@remote.test\r\nTo: alice@example.test\r\nSubject: hello\r\nMessage-ID: <v1@remote.test>\r\n\r\nAre you there?\r\n');
    assert.match(done!, /^250/);
    await d.send('QUIT');
    d.close();
    const queue = await api('GET', '/queue', undefined, root);
    const reply = queue.body.find((e: { reason: string; recipients: string[] }) => e.reason === 'vacation' && e.recipients.includes('friend@remote.test'));
    assert.ok(reply, JSON.stringify(queue.body));
    assert.equal(reply.sender, '');

    const back = await api('PUT', '/me/vacation', { enabled: false, subject: 'Away', message: 'x', days: 3 }, alice);
    assert.equal(back.body.enabled, false);
    const after = await api('GET', '/me/scripts', undefined, alice);
    assert.deepEqual(after.body.map((x: { name: string; active: boolean }) => [x.name, x.active]), [['spam', true], ['vacation', false]], 'the script active before is active again');

    const wrong = await api('POST', '/me/password', { current: 'not-the-password', password: 'a-new-secret-77' }, alice);
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.errors[0].field, 'current');
    assert.equal((await api('POST', '/me/password', { current: PASSWORD, password: 'a-new-secret-77' }, alice)).status, 204);
    assert.equal((await api('GET', '/me', undefined, alice)).status, 200, 'the session that changed it goes on');
    assert.equal((await login('alice@example.test', 'a-new-secret-77')).reply.status, 200);
  });

  test('queue routes: hold, release, delete an entry; 404 for an unknown id; flush asks serve', async () => {
    const entries = (await api('GET', '/queue', undefined, root)).body as Array<{ id: string; held: boolean }>;
    assert.ok(entries.length > 0);
    const id = entries[0]!.id;
    assert.equal((await api('POST', `/queue/${id}/hold`, undefined, root)).status, 200);
    assert.equal((await api('GET', '/queue', undefined, root)).body.find((e: { id: string }) => e.id === id).held, true);
    assert.equal((await api('POST', `/queue/${id}/release`, undefined, root)).status, 200);
    assert.equal((await api('POST', '/queue/flush', undefined, root)).status, 204);
    assert.equal((await api('POST', '/queue/NOSUCHID/hold', undefined, root)).status, 404);
    assert.equal((await api('DELETE', `/queue/${id}`, undefined, root)).status, 204);
    assert.equal((await api('DELETE', `/queue/${id}`, undefined, root)).status, 404);
  });

  test('DKIM and DNS: a key made through the API appears in the records to publish', async () => {
    const made = await api('POST', '/domains/example.test/dkim', { type: 'ed25519', selector: 'api1' }, root);
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.match(made.body.record, /^api1\._domainkey\.example\.test/);
    assert.deepEqual((await api('GET', '/domains/example.test/dkim', undefined, root)).body.map((k: { selector: string }) => k.selector), ['api1']);
    const records = (await api('GET', '/domains/example.test/dns', undefined, root)).body as Array<{ type: string; name: string }>;
    for (const name of ['example.test.', 'api1._domainkey.example.test.', '_dmarc.example.test.', 'autoconfig.example.test.', '_imaps._tcp.example.test.']) {
      assert.ok(records.some((r) => r.name === name), name);
    }
    assert.equal((await api('GET', '/domains/none.test/dns', undefined, root)).status, 404);
    const check = await api('GET', '/domains/example.test/dns-check', undefined, root);
    assert.equal(check.status, 200);
    assert.equal(check.body.domain, 'example.test');
  });

  test('changes reach the audit log: who, what, before and after, never a password', async () => {
    const log = (await api('GET', '/audit?limit=1000', undefined, root)).body as Array<{ id: number; actor: string; action: string; target: string; before: unknown; after: unknown }>;
    const find = (action: string, target: string) => log.find((e) => e.action === action && e.target === target);
    assert.deepEqual(find('account.add', 'box@new.test')?.after, { address: 'box@new.test', quota: 1000000, disabled: false });
    assert.equal(find('account.add', 'box@new.test')?.actor, 'root');
    assert.deepEqual(find('account.disable', 'box@new.test')?.before, { disabled: false });
    assert.equal(find('account.add', 'eve@example.test')?.actor, 'ex');
    assert.equal(find('domain.add', 'example.test')?.actor, 'cli');
    assert.equal(find('vacation.set', 'alice@example.test')?.actor, 'alice@example.test');
    assert.ok(find('alias.put', 'team@new.test'));
    assert.ok(find('token.remove', log.find((e) => e.action === 'token.add')!.target));
    assert.ok(!JSON.stringify(log).includes(PASSWORD));
    assert.ok(log.every((e, i) => i === 0 || e.id < log[i - 1]!.id), 'newest first');
    const page = (await api('GET', `/audit?limit=2&before=${log[1]!.id}`, undefined, root)).body as Array<{ id: number }>;
    assert.deepEqual(page.map((e) => e.id), [log[2]!.id, log[3]!.id]);
    assert.equal((await api('GET', '/audit?limit=0', undefined, root)).body.errors[0].field, 'limit');
  });

  test('the OpenAPI 3.1 document is JSON naming every route, with the request schemas', async () => {
    const doc = await api('GET', '/openapi.json');
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, '3.1.0');
    for (const r of apiRoutes) {
      const op = doc.body.paths[`/api/v1${r.path}`]?.[r.method.toLowerCase()];
      assert.ok(op, `${r.method} ${r.path}`);
      if (r.body) assert.ok(op.requestBody.content['application/json'].schema, `${r.method} ${r.path} body`);
    }
    assert.deepEqual(doc.body.paths['/api/v1/accounts'].post.requestBody.content['application/json'].schema.required, ['address', 'password']);
  });
});
