// The MX hooks on a real store: relay and recipient decisions at RCPT, and a
// sender check that throws gives the chain's 451 instead of a delivery
// without a verdict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { openStorage } from '../../../storage/index.js';
import { AliasResolver } from '../../../src/delivery/alias-resolver.js';
import { resolveConfig } from '../../../src/config.js';
import { HookChain, type SessionInfo } from '../../../src/mx/chain.js';
import { endpointHooks } from '../../../src/mx/hooks/index.js';
import { relayHook, looksLikeRelayTrick, bareAddressPostmaster } from '../../../src/mx/hooks/relay.js';
import { recipientHook } from '../../../src/mx/hooks/recipient.js';
import { senderAuthenticationHook } from '../../../src/mx/hooks/sender-authentication.js';
import { createDnsResolver } from '../../../src/net/dns.js';
import { scratchDir } from '../../support/tmp.js';
import type { ParsedMessage } from '../../../mime/index.js';

const session: SessionInfo = { id: 's', remoteAddress: '192.0.2.1', helo: 'client.test' };
const quiet = pino({ level: 'silent' });

test('relay and recipient hooks: relay tricks and foreign domains 554 5.7.1, unknown users 550 5.1.1, a full mailbox 452', async () => {
  const s = scratchDir();
  const storage = openStorage(s.dir);
  try {
    const d = storage.directory;
    await d.addDomain('example.test');
    await d.addAccount({ address: 'bob@example.test', passwordHash: 'x', scramSha256: null, quota: null });
    await d.addAccount({ address: 'full@example.test', passwordHash: 'x', scramSha256: null, quota: 0 });
    const aliases = new AliasResolver(d);
    const chain = new HookChain([relayHook(aliases), recipientHook(aliases, storage.mail, { overQuota: 'tempfail' })], quiet);
    const at = async (recipient: string, user?: string) => {
      const v = await chain.run('rcpt', { session: user ? { ...session, user } : session, from: 'a@remote.test', recipient });
      return v.kind === 'accept' ? 'accept' : `${v.code} ${v.enhanced}`;
    };
    assert.equal(await at('bob@example.test'), 'accept');
    assert.equal(await at('bob+tag@example.test'), 'accept');
    assert.equal(await at('someone@remote.test'), '554 5.7.1');
    assert.equal(await at('someone@remote.test', 'bob@example.test'), 'accept', 'an authenticated user may relay');
    assert.equal(await at('bob%remote.test@example.test'), '554 5.7.1');
    assert.equal(await at('nobody@example.test'), '550 5.1.1');
    assert.equal(await at('no-domain'), '550 5.1.3');
    assert.equal(await at('full@example.test'), '452 4.2.2');
    assert.ok(looksLikeRelayTrick('<@hop.test:bob@example.test>'));
    assert.ok(!looksLikeRelayTrick('<bob@example.test>'));
    assert.equal(await bareAddressPostmaster(d, 'mx.example.test'), 'postmaster@example.test');
  } finally {
    storage.close();
    s.cleanup();
  }
});

test('a sender check that throws yields 451 4.3.0 and no verdict, never a delivery', async () => {
  const config = resolveConfig({ hostname: 'mx.example.test', demo: false }, {});
  // A resolver nobody answers (nothing listens on port 9 here); the check throws before asking it.
  const hook = senderAuthenticationHook(config, createDnsResolver(['127.0.0.1:9']));
  const v = await new HookChain([hook], quiet).run('data', { session, from: 'a@remote.test', recipients: ['bob@example.test'], message: null as unknown as ParsedMessage });
  assert.deepEqual(v, { kind: 'tempfail', code: 451, enhanced: '4.3.0', text: 'Temporary local problem, try again later' });
});

test('the MX checks the sender at the end of DATA; LMTP leaves that to the MTA in front', () => {
  const s = scratchDir();
  const storage = openStorage(s.dir);
  try {
    const config = resolveConfig({ hostname: 'mx.example.test', demo: false, dns: { servers: ['127.0.0.1:9'] } }, {});
    const names = (kind: 'smtp' | 'lmtp') => endpointHooks(kind, config, storage).map((h) => `${h.stage}:${h.name}`);
    assert.deepEqual(names('smtp'), ['rcpt:relay', 'rcpt:recipient', 'data:sender-authentication']);
    assert.deepEqual(names('lmtp'), ['rcpt:relay', 'rcpt:recipient']);
  } finally {
    storage.close();
    s.cleanup();
  }
});
