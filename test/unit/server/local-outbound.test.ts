// LocalFirstTransport: of a queue entry's recipients, those in local domains
// are stored through the delivery agent (a bounce to a local sender), the rest
// go to the next transport; outcomes come back in the entry's order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { openStorage } from '../../../storage/index.js';
import { DeliveryAgent } from '../../../src/delivery/agent.js';
import { failureReply } from '../../../src/mx/smtp-reply.js';
import { LocalFirstTransport } from '../../../src/server/local-outbound.js';
import type { OutboundMessage, OutboundTransport, RecipientOutcome } from '../../../src/outbound/transport.js';
import { scratchDir } from '../../support/tmp.js';

test('local recipients are stored, unknown local ones fail, remote ones go to the next transport, in order', async (t) => {
  const s = scratchDir();
  const storage = openStorage(s.dir);
  t.after(() => {
    storage.close();
    s.cleanup();
  });
  await storage.directory.addDomain('example.test');
  const alice = await storage.directory.addAccount({ address: 'alice@example.test', passwordHash: 'x', scramSha256: null, quota: null });
  await storage.mail.provisionAccount(alice.id);
  const agent = new DeliveryAgent(storage, { hostname: 'mx.example.test', overQuota: 'tempfail' }, pino({ level: 'silent' }), failureReply);
  const passed: OutboundMessage[] = [];
  const next: OutboundTransport = {
    async send(m) {
      passed.push(m);
      return m.recipients.map((address): RecipientOutcome => ({ address, status: 'sent', reply: '250 ok', destination: 'mx' }));
    },
    close: async () => {},
  };
  const transport = new LocalFirstTransport(next, agent, (d) => storage.directory.hasDomain(d));
  const raw = Buffer.from('From: <MAILER-DAEMON@mx.example.test>\r\nSubject: bounce\r\nMessage-ID: <b1@mx.example.test>\r\n\r\nundelivered\r\n');
  const outcomes = await transport.send({ queueId: 'Q1', sender: '', recipients: ['x@remote.test', 'alice@example.test', 'ghost@example.test'], raw });
  assert.deepEqual(
    outcomes.map((o) => [o.address, o.status, o.destination]),
    [
      ['x@remote.test', 'sent', 'mx'],
      ['alice@example.test', 'sent', 'local'],
      ['ghost@example.test', 'failed', 'local'],
    ],
  );
  assert.match(outcomes[2]!.reply, /^550 5\.1\.1 /);
  assert.deepEqual(passed.map((m) => m.recipients), [['x@remote.test']]);
  assert.equal(readdirSync(path.join(s.dir, 'mail', 'example.test', 'alice', 'new')).length, 1, 'stored once in the INBOX');

  // Nothing local: the message goes on untouched.
  await transport.send({ queueId: 'Q2', sender: 'alice@example.test', recipients: ['y@remote.test'], raw });
  assert.equal(passed.length, 2);
});
