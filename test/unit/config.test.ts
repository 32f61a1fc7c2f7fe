import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { hostname } from 'node:os';
import { loadConfig, validateConfig, resolveConfig, DEFAULT_PORTS, defaultNodeName } from '../../src/config.js';
import { scratchDir } from '../support/tmp.js';

test('defaults are the embedded ports of INTERFACE.md', () => {
  const c = resolveConfig({}, {});
  assert.deepEqual(c.ports, DEFAULT_PORTS);
  assert.equal(c.ports.imap, 1143);
  assert.equal(c.limits.messageSize, 26214400);
});

test('limits that protect the server: header size and connections per service, defaults and overrides', () => {
  const d = resolveConfig({}, {});
  assert.equal(d.limits.headerSize, 262144);
  assert.deepEqual(d.limits.maxConnections, { smtp: 100, lmtp: 100, imap: 1000, submission: 100 });
  const c = resolveConfig(validateConfig({ limits: { headerSize: 65536, maxConnections: { smtp: 20 } } }), {});
  assert.equal(c.limits.headerSize, 65536);
  assert.deepEqual(c.limits.maxConnections, { smtp: 20, lmtp: 100, imap: 1000, submission: 100 });
  assert.throws(() => validateConfig({ limits: { maxConnections: { smtp: 0 } } }), /limits\.maxConnections\.smtp/);
  assert.throws(() => validateConfig({ limits: { maxConnections: { pop3: 5 } } }), /unknown key limits\.maxConnections\.pop3/);
  assert.throws(() => validateConfig({ limits: { headerSize: 'big' } }), /limits\.headerSize/);
});

test('POSTINO_<SERVICE>_PORT overrides the file', () => {
  const c = resolveConfig({ ports: { imap: 143 } }, { POSTINO_IMAP_PORT: '0', POSTINO_SMTP_PORT: '2626' });
  assert.equal(c.ports.imap, 0);
  assert.equal(c.ports.smtp, 2626);
  assert.throws(() => resolveConfig({}, { POSTINO_POP3_PORT: 'x' }), /POSTINO_POP3_PORT: expected a port number/);
});

test('listen: one address or a list, in the file and in POSTINO_LISTEN (comma-separated); admin.listen apart', () => {
  assert.deepEqual(resolveConfig({}, {}).listen, ['127.0.0.1']);
  assert.deepEqual(resolveConfig({}, {}).admin.listen, ['127.0.0.1']);
  assert.deepEqual(resolveConfig(validateConfig({ listen: '0.0.0.0' }), {}).listen, ['0.0.0.0']);
  assert.deepEqual(resolveConfig(validateConfig({ listen: ['0.0.0.0', '::', '0.0.0.0'] }), {}).listen, ['0.0.0.0', '::'], 'duplicates bound once');
  assert.deepEqual(resolveConfig(validateConfig({ admin: { listen: ['127.0.0.1', '::1'] } }), {}).admin.listen, ['127.0.0.1', '::1']);
  assert.deepEqual(resolveConfig({ listen: '0.0.0.0' }, { POSTINO_LISTEN: '127.0.0.1, ::1' }).listen, ['127.0.0.1', '::1']);
  assert.deepEqual(resolveConfig({}, { POSTINO_ADMIN_LISTEN: '::1,127.0.0.1' }).admin.listen, ['::1', '127.0.0.1']);
  assert.deepEqual(resolveConfig({}, { POSTINO_LISTEN: 'localhost' }).listen, ['localhost']);
  assert.throws(() => resolveConfig({}, { POSTINO_LISTEN: '127.0.0.1;::1' }), /POSTINO_LISTEN: expected IP addresses separated by commas/);
  assert.throws(() => resolveConfig({}, { POSTINO_LISTEN: '127.0.0.1,,::1' }), /POSTINO_LISTEN/);
  assert.throws(() => validateConfig({ listen: '127.0.0.1,::1' }), /listen: expected an IP address or a host name/);
  assert.throws(() => validateConfig({ listen: [] }), /listen/);
  assert.throws(() => validateConfig({ admin: { listen: ['x y'] } }), /admin\.listen/);
});

test('user and group: the account serve runs as once its ports are bound', () => {
  const c = resolveConfig(validateConfig({ user: 'postino', group: 'mail' }), {});
  assert.equal(c.user, 'postino');
  assert.equal(c.group, 'mail');
  assert.equal(resolveConfig({}, {}).user, undefined);
  assert.throws(() => validateConfig({ user: '../root' }), /user: expected a user name/);
  assert.throws(() => validateConfig({ group: 'a b' }), /group: expected a group name/);
});

test('validation errors name the bad key', () => {
  assert.throws(() => validateConfig({ ports: { imap: 'high' } }), /ports\.imap: /);
  assert.throws(() => validateConfig({ limits: { messageSize: -1 } }), /limits\.messageSize/);
  assert.throws(() => validateConfig({ spam: { engine: 'magic' } }), /spam\.engine/);
  assert.throws(() => validateConfig({ relay: { smarthost: { port: 25 } } }), /relay\.smarthost\.host/);
  assert.throws(() => validateConfig({ hostnme: 'x' }), /unknown key hostnme/);
  assert.throws(() => validateConfig({ dns: { servers: ['dns.example.org'] } }), /dns\.servers\.0: expected IP/);
  assert.throws(() => validateConfig({ tls: { cert: 'a', key: 'b', pass: 'c' } }), /unknown key tls\.pass/);
});

test('a config file is read, and broken JSON is one clear error', () => {
  const s = scratchDir();
  try {
    const good = path.join(s.dir, 'good.json');
    writeFileSync(good, JSON.stringify({ hostname: 'mx.example.test', ports: { smtp: 25 }, dns: { servers: ['127.0.0.1:5353'] } }));
    const c = loadConfig(good, {});
    assert.equal(c.hostname, 'mx.example.test');
    assert.equal(c.ports.smtp, 25);
    assert.deepEqual(c.dns.servers, ['127.0.0.1:5353']);
    const bad = path.join(s.dir, 'bad.json');
    writeFileSync(bad, '{ "hostname": ');
    assert.throws(() => loadConfig(bad, {}), /bad\.json: not valid JSON/);
    assert.throws(() => loadConfig(path.join(s.dir, 'missing.json'), {}), /cannot read config/);
  } finally {
    s.cleanup();
  }
});

test('storage: SQLite by default; postgres with a url, from the file or POSTINO_STORAGE_URL (which overrides it)', () => {
  assert.deepEqual(resolveConfig({}, {}).storage, { backend: 'sqlite' });
  const file = validateConfig({ storage: { backend: 'postgres', url: 'postgres://postino@db.internal/mail' } });
  assert.deepEqual(resolveConfig(file, {}).storage, { backend: 'postgres', url: 'postgres://postino@db.internal/mail' });
  assert.deepEqual(resolveConfig(file, { POSTINO_STORAGE_URL: 'postgresql://other/mail' }).storage, { backend: 'postgres', url: 'postgresql://other/mail' });
  assert.deepEqual(resolveConfig({}, { POSTINO_STORAGE_URL: 'postgres://db/mail' }).storage, { backend: 'postgres', url: 'postgres://db/mail' }, 'a url alone means PostgreSQL');
  assert.throws(() => resolveConfig(validateConfig({ storage: { backend: 'postgres' } }), {}), /needs storage\.url/);
  assert.throws(() => resolveConfig(validateConfig({ storage: { backend: 'sqlite', url: 'postgres://db/mail' } }), {}), /backend is "sqlite"/);
  assert.throws(() => resolveConfig({}, { POSTINO_STORAGE_URL: 'mysql://db/mail' }), /POSTINO_STORAGE_URL: expected a postgres:\/\/ URL/);
  assert.throws(() => validateConfig({ storage: { url: 'http://db' } }), /storage\.url: expected a postgres:\/\/ URL/);
  assert.throws(() => validateConfig({ storage: { backend: 'mongo' } }), /storage\.backend/);
});

test('storage.blobs: bodies in a shared directory, with PostgreSQL only, as an absolute path', () => {
  assert.deepEqual(resolveConfig(validateConfig({ storage: { url: 'postgres://db/mail', blobs: '/srv/blobs/' } }), {}).storage, {
    backend: 'postgres',
    url: 'postgres://db/mail',
    blobs: '/srv/blobs/',
  });
  assert.deepEqual(resolveConfig(validateConfig({ storage: { blobs: '/srv/x/../blobs' } }), { POSTINO_STORAGE_URL: 'postgres://db/mail' }).storage, {
    backend: 'postgres',
    url: 'postgres://db/mail',
    blobs: '/srv/blobs',
  });
  assert.equal('blobs' in resolveConfig(validateConfig({ storage: { url: 'postgres://db/mail' } }), {}).storage, false, 'without it, bodies stay in PostgreSQL');
  assert.throws(() => resolveConfig(validateConfig({ storage: { url: 'postgres://db/mail', blobs: 'srv/blobs' } }), {}), /storage\.blobs: expected an absolute path/);
  assert.throws(() => resolveConfig(validateConfig({ storage: { url: 'postgres://db/mail', blobs: '/srv/\nblobs' } }), {}), /storage\.blobs: expected a directory path without control characters/);
  assert.throws(() => resolveConfig(validateConfig({ storage: { blobs: '/srv/blobs' } }), {}), /storage\.blobs: the SQLite backend keeps bodies in the data dir/);
  assert.throws(() => validateConfig({ storage: { url: 'postgres://db/mail', blobs: 7 } }), /storage\.blobs/);
});

test('node.name: the host name by default, the file, or POSTINO_NODE_NAME; only characters safe in a header comment and a log field', () => {
  assert.equal(resolveConfig({}, {}).node.name, defaultNodeName(hostname()));
  assert.deepEqual(resolveConfig({}, {}).node, { name: defaultNodeName(), leaseSeconds: 60 });
  const file = validateConfig({ node: { name: 'mx-a.dc1', leaseSeconds: 10 } });
  assert.deepEqual(resolveConfig(file, {}).node, { name: 'mx-a.dc1', leaseSeconds: 10 });
  assert.equal(resolveConfig(file, { POSTINO_NODE_NAME: 'node_2' }).node.name, 'node_2', 'the environment wins');
  assert.throws(() => validateConfig({ node: { name: 'a b' } }), /node\.name: expected letters, digits/);
  assert.throws(() => validateConfig({ node: { name: 'x)(y' } }), /node\.name/);
  assert.throws(() => validateConfig({ node: { name: 'n'.repeat(64) } }), /node\.name/);
  assert.throws(() => validateConfig({ node: { leaseSeconds: 1 } }), /node\.leaseSeconds/);
  assert.throws(() => validateConfig({ node: { other: 1 } }), /unknown key node\.other/);
  assert.throws(() => resolveConfig({}, { POSTINO_NODE_NAME: 'bad name' }), /POSTINO_NODE_NAME: expected letters/);
  assert.equal(defaultNodeName('host name(1)'), 'host-name-1-');
  assert.equal(defaultNodeName('-'.repeat(5)), 'postino');
  assert.equal(defaultNodeName('x'.repeat(100)).length, 63);
});
