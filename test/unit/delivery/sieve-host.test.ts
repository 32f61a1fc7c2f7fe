// The delivery's Sieve host: the environment extension's items (RFC 5183)
// name this server and the client of each delivery, also when the items are
// made once per configuration and client and reused; spamtest and virustest
// read where the configuration says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, evaluateAsync, type SieveMessage } from '../../../sieve/index.js';
import type { Storage } from '../../../storage/ports.js';
import { deliverySieveHost, type SieveHostConfig } from '../../../src/delivery/sieve-host.js';

const storage = { mail: { hasMailbox: () => true } } as unknown as Storage;
const message: SieveMessage = { headers: [{ name: 'Subject', value: 'hi' }], size: 10, body: () => ({ raw: '', parts: [] }) };
const now = () => new Date(0);

/** The environment items the script sees, as "name=value" (an item the host lacks is not there: its test is false). */
async function seen(config: SieveHostConfig, remote: { remoteIp?: string; remoteHost?: string }): Promise<string[]> {
  const names = ['domain', 'host', 'name', 'phase', 'location', 'remote-ip', 'remote-host'];
  const script = `require ["environment", "variables", "imap4flags"];\n${names
    .map((n) => `if environment :matches "${n}" "*" { addflag "${n}=\${1}"; }`)
    .join('\n')}\nkeep;`;
  const compiled = compile(script);
  assert.ok(compiled.ok, JSON.stringify(!compiled.ok && compiled.errors));
  const host = deliverySieveHost(storage, config, remote, 1, now);
  const r = await evaluateAsync(compiled.program, message, { from: 'a@remote.test', to: 'b@example.test' }, host);
  const keep = r.actions.find((a) => a.type === 'keep');
  return keep && 'flags' in keep ? [...(keep.flags ?? [])] : [];
}

test('environment items: the server, and each delivery its own client, also for a client seen before', async () => {
  const config: SieveHostConfig = { hostname: 'mx.example.test' };
  const server = ['domain=example.test', 'host=mx.example.test', 'name=Postino', 'phase=during', 'location=MDA'];
  const first = await seen(config, { remoteIp: '192.0.2.1', remoteHost: 'a.remote.test' });
  assert.deepEqual(first, [...server, 'remote-ip=192.0.2.1', 'remote-host=a.remote.test']);
  assert.deepEqual(await seen(config, { remoteIp: '192.0.2.2' }), [...server, 'remote-ip=192.0.2.2']);
  assert.deepEqual(await seen(config, {}), server);
  assert.deepEqual(await seen(config, { remoteIp: '192.0.2.1', remoteHost: 'a.remote.test' }), first);
  // Another configuration (a reload with another hostname) has its own.
  assert.deepEqual((await seen({ hostname: 'other.example.net' }, { remoteIp: '192.0.2.1' })).slice(0, 2), ['domain=example.net', 'host=other.example.net']);
});

test('spamtest and virustest: where the configuration says, or nothing when it says nothing', () => {
  const remote = {};
  const configured = deliverySieveHost(storage, { hostname: 'mx.example.test', spamScoreHeader: { header: 'X-Spam-Score', max: 5 }, virusScoreHeader: null }, remote, 1, now);
  assert.deepEqual(configured.spamtest, { header: 'X-Spam-Score', max: 5 });
  assert.equal(configured.virustest, null);
  const unconfigured = deliverySieveHost(storage, { hostname: 'mx.example.test' }, remote, 1, now);
  assert.equal(unconfigured.spamtest, undefined);
  assert.equal(unconfigured.virustest, undefined);
});
