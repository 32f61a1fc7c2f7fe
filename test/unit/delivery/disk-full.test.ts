// A delivery that meets a full disk is deferred with 452 4.3.1 (the
// server's storage, not the account's quota), and nothing is stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { openStorage, sqliteParts } from '../../../storage/index.js';
import { DeliveryAgent } from '../../../src/delivery/agent.js';
import { failureReply } from '../../../src/mx/smtp-reply.js';
import { scratchDir } from '../../support/tmp.js';

test('a full disk defers the delivery with 452 4.3.1 and stores nothing; with room it is delivered', async () => {
  const s = scratchDir();
  const storage = openStorage(s.dir);
  try {
    const { db } = sqliteParts(storage);
    await storage.directory.addDomain('example.test');
    const account = await storage.directory.addAccount({ address: 'bob@example.test', passwordHash: 'x', scramSha256: null, quota: null });
    await storage.mail.provisionAccount(account.id);
    const agent = new DeliveryAgent(storage, { hostname: 'mx.example.test', overQuota: 'reject' }, pino({ level: 'silent' }), failureReply);
    // Large header fields: the index row needs new pages, which max_page_count refuses as SQLite does on a full disk.
    const raw = Buffer.from(`From: <a@remote.test>\r\nSubject: ${'y'.repeat(20_000)}\r\nMessage-ID: <full@remote.test>\r\n\r\nhello\r\n`);
    const message = { raw, from: 'a@remote.test', recipients: ['bob@example.test'], traceHeaders: [], rejectAtSmtp: true };
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    const [deferred] = await agent.deliver(message);
    assert.deepEqual(deferred, { recipient: 'bob@example.test', kind: 'tempfail', why: 'no-space' });
    assert.equal((await storage.mail.getMailbox(account.id, 'INBOX'))!.messages, 0);
    db.pragma('max_page_count = 1073741823');
    const [delivered] = await agent.deliver(message);
    assert.equal(delivered!.kind, 'delivered');
    assert.equal((await storage.mail.getMailbox(account.id, 'INBOX'))!.messages, 1);
  } finally {
    storage.close();
    s.cleanup();
  }
});
