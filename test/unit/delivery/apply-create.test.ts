// fileinto :create for a folder that does not exist yet, by deliveries
// arriving together (the first messages of a list): the folder is created
// once, every copy lands in it, and a creation that fails sends the copies
// to INBOX, never nowhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { openStorage } from '../../../storage/index.js';
import type { Storage } from '../../../storage/ports.js';
import { MailError } from '../../../storage/errors.js';
import { DeliveryAgent } from '../../../src/delivery/agent.js';
import { failureReply } from '../../../src/mx/smtp-reply.js';
import { scratchDir } from '../../support/tmp.js';

const SCRIPT = 'require ["fileinto", "mailbox"]; fileinto :create "Lists.new";';

async function deliverTogether(failCreate: boolean): Promise<{ counts: Record<string, number>; creates: number }> {
  const s = scratchDir();
  const real = openStorage(s.dir);
  try {
    await real.directory.addDomain('example.test');
    const account = await real.directory.addAccount({ address: 'carol@example.test', passwordHash: 'x', scramSha256: null, quota: null });
    await real.mail.provisionAccount(account.id);
    await real.scripts.put(account.id, 'main', SCRIPT);
    await real.scripts.activate(account.id, 'main');
    let creates = 0;
    const mail = Object.create(real.mail) as Storage['mail'];
    mail.createMailbox = (async (id: number, name: string) => {
      creates++;
      if (failCreate) throw new MailError('TEMPFAIL', 'cannot create');
      return real.mail.createMailbox(id, name);
    }) as Storage['mail']['createMailbox'];
    const agent = new DeliveryAgent({ ...real, mail }, { hostname: 'mx.example.test', overQuota: 'reject' }, pino({ level: 'silent' }), failureReply);
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        agent.deliver({
          raw: Buffer.from(`From: <a@remote.test>\r\nTo: carol@example.test\r\nMessage-ID: <${i}@remote.test>\r\nSubject: m${i}\r\n\r\nhello\r\n`),
          from: 'a@remote.test',
          recipients: ['carol@example.test'],
          traceHeaders: [],
          rejectAtSmtp: true,
        }),
      ),
    );
    for (const [o] of outcomes) assert.equal(o!.kind, 'delivered');
    const counts: Record<string, number> = {};
    for (const m of ['INBOX', 'Lists.new']) counts[m] = (await real.mail.getMailbox(account.id, m))?.messages ?? -1;
    return { counts, creates };
  } finally {
    real.close();
    s.cleanup();
  }
}

test('six deliveries together into a folder made by fileinto :create: one creation, six copies in it', async () => {
  assert.deepEqual(await deliverTogether(false), { counts: { INBOX: 0, 'Lists.new': 6 }, creates: 1 });
});

test('when the folder cannot be made, every copy goes to INBOX', async () => {
  const { counts, creates } = await deliverTogether(true);
  assert.deepEqual(counts, { INBOX: 6, 'Lists.new': -1 });
  assert.ok(creates >= 1 && creates <= 6);
});
