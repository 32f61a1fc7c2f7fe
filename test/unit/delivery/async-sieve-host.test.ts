// The delivery's Sieve host over a store whose reads answer a turn of the
// event loop later (as a networked backend will): the same messages end in
// the same mailboxes as over the synchronous SQLite store, duplicates
// included, and an include that cannot be read counts as missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { openStorage } from '../../../storage/index.js';
import type { Storage } from '../../../storage/ports.js';
import { DeliveryAgent } from '../../../src/delivery/agent.js';
import { failureReply } from '../../../src/mx/smtp-reply.js';
import { scratchDir } from '../../support/tmp.js';

const later = <T>(v: () => T): Promise<T> => new Promise((resolve, reject) => setImmediate(() => {
  try {
    resolve(v());
  } catch (err) {
    reject(err);
  }
}));

/** The same storage, with the reads Sieve's host makes answered later (a turn later than the ports answer by themselves). */
function slowReads(storage: Storage, broken: { scripts?: boolean } = {}): Storage {
  const mail = Object.create(storage.mail) as Storage['mail'];
  mail.hasMailbox = ((id: number, name: string) => later(() => storage.mail.hasMailbox(id, name))) as unknown as Storage['mail']['hasMailbox'];
  const scripts = Object.create(storage.scripts) as Storage['scripts'];
  scripts.exists = ((id: number, name: string) =>
    later(() => {
      if (broken.scripts) throw new Error('script store unreachable');
      return storage.scripts.exists(id, name);
    })) as unknown as Storage['scripts']['exists'];
  scripts.get = ((id: number, name: string) => later(() => storage.scripts.get(id, name))) as unknown as Storage['scripts']['get'];
  scripts.active = ((id: number) => later(() => storage.scripts.active(id))) as unknown as Storage['scripts']['active'];
  const memory = Object.create(storage.memory) as Storage['memory'];
  memory.checkDuplicate = ((...args: Parameters<Storage['memory']['checkDuplicate']>) =>
    later(() => storage.memory.checkDuplicate(...args))) as unknown as Storage['memory']['checkDuplicate'];
  return { ...storage, mail, scripts, memory };
}

const MAIN = 'require ["include", "fileinto"]; include "lists"; fileinto "Other";';
const LISTS =
  'require ["fileinto", "mailbox", "duplicate", "variables", "regex"];\n' +
  'if duplicate { fileinto "Dups"; stop; }\n' +
  'if header :regex "list-id" "<([a-z]+)[.]" { if mailboxexists "Lists.${1}" { fileinto "Lists.${1}"; stop; } }\n';

async function scenario(slow: boolean, broken: { scripts?: boolean } = {}): Promise<Record<string, number>> {
  const s = scratchDir();
  const real = openStorage(s.dir);
  try {
    await real.directory.addDomain('example.test');
    const account = await real.directory.addAccount({ address: 'bob@example.test', passwordHash: 'x', scramSha256: null, quota: null });
    await real.mail.provisionAccount(account.id);
    for (const m of ['Lists.dev', 'Other', 'Dups']) await real.mail.createMailbox(account.id, m);
    await real.scripts.put(account.id, 'lists', LISTS);
    await real.scripts.put(account.id, 'main', MAIN);
    await real.scripts.activate(account.id, 'main');
    const storage = slow ? slowReads(real, broken) : real;
    const agent = new DeliveryAgent(storage, { hostname: 'mx.example.test', overQuota: 'reject' }, pino({ level: 'silent' }), failureReply);
    const msg = (id: string, list: string) => ({
      raw: Buffer.from(`From: <a@remote.test>\r\nTo: bob@example.test\r\nList-Id: <${list}.example.org>\r\nMessage-ID: <${id}@remote.test>\r\nSubject: hi\r\n\r\nhello\r\n`),
      from: 'a@remote.test',
      recipients: ['bob@example.test'],
      traceHeaders: [],
      rejectAtSmtp: true,
    });
    for (const m of [msg('1', 'dev'), msg('2', 'ops'), msg('1', 'dev')]) {
      const [o] = await agent.deliver(m);
      assert.equal(o!.kind, 'delivered');
    }
    const counts: Record<string, number> = {};
    for (const m of ['INBOX', 'Lists.dev', 'Other', 'Dups']) counts[m] = (await real.mail.getMailbox(account.id, m))!.messages;
    return counts;
  } finally {
    real.close();
    s.cleanup();
  }
}

test('over a store that answers later, Sieve files the same messages in the same mailboxes', async () => {
  const expected = { INBOX: 0, 'Lists.dev': 1, Other: 1, Dups: 1 };
  assert.deepEqual(await scenario(false), expected);
  assert.deepEqual(await scenario(true), expected);
});

test('an include the store cannot read is a missing one: the script fails and the message is kept in INBOX', async () => {
  assert.deepEqual(await scenario(true, { scripts: true }), { INBOX: 3, 'Lists.dev': 0, Other: 0, Dups: 0 });
});
