// The delivery agent and the local-retry runner on a real scratch data dir:
// a message stored in part is answered as delivered and the rest kept in a
// durable entry; the runner stores it once the cause is gone, gives up after
// days with a DSN, and never stores a copy twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { openStorage } from '../../../storage/index.js';
import type { QueueStore, Storage } from '../../../storage/ports.js';
import { MailError } from '../../../storage/errors.js';
import { DeliveryAgent, type InboundMessage } from '../../../src/delivery/agent.js';
import { failureReply } from '../../../src/mx/smtp-reply.js';
import { LocalRetryRunner, LOCAL_RETRY_SCHEDULE, retryDelay } from '../../../src/delivery/local-retry.js';
import { localRetryData } from '../../../src/delivery/local-retry-entry.js';
import { scratchDir } from '../../support/tmp.js';

async function setup(): Promise<{ storage: Storage; dataDir: string; agent: DeliveryAgent; events: Array<Record<string, unknown>>; cleanup(): void }> {
  const s = scratchDir();
  const storage = openStorage(s.dir);
  const events: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) events.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = pino({ level: 'debug', base: undefined }, sink);
  const d = storage.directory;
  await d.addDomain('example.test');
  for (const u of ['alice', 'bob', 'carol']) {
    const a = await d.addAccount({ address: `${u}@example.test`, passwordHash: 'x', scramSha256: null, quota: null });
    await storage.mail.provisionAccount(a.id);
  }
  const agent = new DeliveryAgent(storage, { hostname: 'mx.example.test', overQuota: 'tempfail' }, log, failureReply);
  return {
    storage,
    dataDir: s.dir,
    agent,
    events,
    cleanup: () => {
      storage.close();
      s.cleanup();
    },
  };
}

const message = (subject: string, from = 'sender@remote.test', recipients: string[] = []): InboundMessage => ({
  raw: Buffer.from(`From: <${from}>\r\nTo: <x@example.test>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@remote.test>\r\n\r\nbody\r\n`),
  from,
  recipients,
  traceHeaders: ['Received: from test by mx.example.test'],
  rejectAtSmtp: false,
});

/** As `user remove` does it: the account's mail, then the account. */
async function removeAccount(storage: Storage, address: string): Promise<void> {
  const account = (await storage.directory.getAccount(address))!;
  await storage.transaction(async (tx) => {
    await tx.mail.deleteAccountMail(account.id);
    await tx.directory.removeAccount(address);
  });
}

const count = async (storage: Storage, user: string) =>
  (await storage.mail.quota((await storage.directory.getAccount(`${user}@example.test`))!.id)).usedMessages;

test('stored for one recipient, full mailbox for the other: delivered, the rest kept, retried until it fits, stored once', async () => {
  const { storage, agent, events, cleanup } = await setup();
  try {
    await storage.directory.setQuota('bob@example.test', 10);
    const outcomes = await agent.deliver(message('half', 'sender@remote.test', ['alice@example.test', 'bob@example.test']), { answer: 'message' });
    assert.deepEqual(outcomes.map((o) => o.kind), ['delivered', 'delivered']);
    assert.equal(await count(storage, 'alice'), 1);
    assert.equal(await count(storage, 'bob'), 0);
    const [entry] = await storage.localRetry.list();
    assert.ok(entry, 'a local-retry entry');
    assert.deepEqual(entry.recipients, ['bob@example.test']);
    assert.deepEqual(localRetryData(entry)?.tasks.map((t) => t.kind), ['store']);
    assert.ok(entry.nextAttempt >= entry.created + 59_000, 'the first retry waits a minute');
    assert.ok(events.some((e) => e.event === 'local-retry-queued'));

    let now = Date.now();
    const runner = new LocalRetryRunner(storage, agent, pino({ level: 'silent' }), LOCAL_RETRY_SCHEDULE, () => now);
    await runner.runOnce();
    assert.equal((await storage.localRetry.list())[0]?.attempts, 0, 'not due yet');

    now += 61_000;
    await runner.runOnce();
    const deferred = (await storage.localRetry.list())[0]!;
    assert.equal(deferred.attempts, 1);
    assert.match(deferred.lastError ?? '', /^452 4\.2\.2/);
    assert.equal(deferred.nextAttempt, now + retryDelay(1));
    assert.equal(await count(storage, 'bob'), 0);

    await storage.directory.setQuota('bob@example.test', null);
    now += retryDelay(1);
    await runner.runOnce();
    assert.deepEqual(await storage.localRetry.list(), [], 'done: the entry is gone');
    assert.equal(await count(storage, 'bob'), 1);
    assert.equal(await count(storage, 'alice'), 1);
    await runner.runOnce();
    assert.equal(await count(storage, 'bob'), 1, 'never twice');
  } finally {
    cleanup();
  }
});

test('nothing stored: every recipient is "try again" and nothing is kept', async () => {
  const { storage, agent, cleanup } = await setup();
  try {
    await storage.directory.setQuota('alice@example.test', 10);
    await storage.directory.setQuota('bob@example.test', 10);
    const outcomes = await agent.deliver(message('none', 'sender@remote.test', ['alice@example.test', 'bob@example.test']), { answer: 'message' });
    assert.deepEqual(outcomes.map((o) => o.kind), ['tempfail', 'tempfail']);
    assert.deepEqual(await storage.localRetry.list(), []);
  } finally {
    cleanup();
  }
});

test('an answer per recipient (LMTP): a separate recipient is "try again", a half-stored alias is delivered and kept', async () => {
  const { storage, agent, cleanup } = await setup();
  try {
    await storage.directory.setQuota('bob@example.test', 10);
    await storage.directory.addAliasTargets('team@example.test', ['alice@example.test', 'bob@example.test']);
    const outcomes = await agent.deliver(message('lmtp', 'sender@remote.test', ['team@example.test', 'carol@example.test', 'bob@example.test']));
    // team: alice stored, bob kept; bob@ directly shares the kept task: not "try again" (that would store bob's copy twice).
    assert.deepEqual(outcomes.map((o) => o.kind), ['delivered', 'delivered', 'delivered']);
    assert.equal((await storage.localRetry.list()).length, 1);

    await storage.directory.setQuota('carol@example.test', 10);
    const second = await agent.deliver(message('lmtp2', 'sender@remote.test', ['alice@example.test', 'carol@example.test']));
    assert.deepEqual(second.map((o) => o.kind), ['delivered', 'tempfail']);
    assert.equal((await storage.localRetry.list()).length, 1, 'nothing more kept');
  } finally {
    cleanup();
  }
});

test('an alias with a removed target: the live target gets it, a DSN names the dead one (none for the null sender)', async () => {
  const { storage, dataDir, agent, events, cleanup } = await setup();
  try {
    await storage.directory.addAliasTargets('ops@example.test', ['alice@example.test', 'bob@example.test']);
    await removeAccount(storage, 'bob@example.test');
    const outcomes = await agent.deliver(message('ops', 'sender@remote.test', ['ops@example.test']), { answer: 'message', bounceRefused: true });
    assert.deepEqual(outcomes.map((o) => o.kind), ['delivered']);
    assert.equal(await count(storage, 'alice'), 1);
    const bounces = (await storage.queue.list()).filter((e) => e.reason === 'bounce');
    assert.equal(bounces.length, 1);
    assert.deepEqual(bounces[0]!.recipients, ['sender@remote.test']);
    assert.equal(bounces[0]!.sender, '');
    const dsn = readFileSync(path.join(dataDir, 'queue', `${bounces[0]!.id}.entry`), 'utf8');
    assert.match(dsn, /Content-Type: multipart\/report; report-type=delivery-status/);
    assert.match(dsn, /Original-Recipient: rfc822; ops@example.test\r\nFinal-Recipient: rfc822; bob@example.test\r\nAction: failed\r\nStatus: 5\.1\.1/);
    assert.ok(events.some((e) => e.event === 'alias-target-missing' && e.target === 'bob@example.test' && e.alias === 'ops@example.test' && e.dsn === true));

    const fromNull = await agent.deliver(message('ops null', '', ['ops@example.test']), { answer: 'message', bounceRefused: true });
    assert.deepEqual(fromNull.map((o) => o.kind), ['delivered']);
    assert.equal(await count(storage, 'alice'), 2);
    assert.equal((await storage.queue.list()).filter((e) => e.reason === 'bounce').length, 1, 'no DSN to <>');
    assert.ok(events.some((e) => e.event === 'alias-target-missing' && e.dsn === false));

    await removeAccount(storage, 'alice@example.test');
    const none = await agent.deliver(message('ops none', 'sender@remote.test', ['ops@example.test']), { answer: 'message' });
    assert.deepEqual(none.map((o) => (o.kind === 'delivered' ? o.kind : o.why)), ['no-such-user']);
  } finally {
    cleanup();
  }
});

test('given up after days: a DSN to the sender for what was never stored, and the entry is gone', async () => {
  const { storage, dataDir, agent, cleanup } = await setup();
  try {
    await storage.directory.setQuota('bob@example.test', 10);
    await agent.deliver(message('late', 'sender@remote.test', ['alice@example.test', 'bob@example.test']), { answer: 'message' });
    const created = (await storage.localRetry.list())[0]!.created;
    const runner = new LocalRetryRunner(storage, agent, pino({ level: 'silent' }), LOCAL_RETRY_SCHEDULE, () => created + LOCAL_RETRY_SCHEDULE.giveUpMs + 1);
    await runner.runOnce();
    assert.deepEqual(await storage.localRetry.list(), []);
    const bounces = (await storage.queue.list()).filter((e) => e.reason === 'bounce');
    assert.equal(bounces.length, 1);
    const dsn = readFileSync(path.join(dataDir, 'queue', `${bounces[0]!.id}.entry`), 'utf8');
    assert.match(dsn, /Final-Recipient: rfc822; bob@example.test\r\nAction: failed\r\nStatus: 4\.2\.2\r\nDiagnostic-Code: smtp; 452 4\.2\.2 Mailbox full, try again later \(gave up after 5 days\)/);
    assert.equal(await count(storage, 'bob'), 0);
  } finally {
    cleanup();
  }
});

test('a flush request makes every entry due; a refused retry becomes a DSN', async () => {
  const { storage, agent, cleanup } = await setup();
  try {
    await storage.directory.setQuota('bob@example.test', 10);
    await agent.deliver(message('flush', 'sender@remote.test', ['alice@example.test', 'bob@example.test']), { answer: 'message' });
    const runner = new LocalRetryRunner(storage, agent, pino({ level: 'silent' }));
    await removeAccount(storage, 'bob@example.test');
    await runner.runOnce();
    assert.equal((await storage.localRetry.list()).length, 1, 'not due, no flush');
    await storage.localRetry.requestFlush();
    await runner.runOnce();
    assert.deepEqual(await storage.localRetry.list(), []);
    const bounces = (await storage.queue.list()).filter((e) => e.reason === 'bounce');
    assert.equal(bounces.length, 1, 'bob is gone for good: a DSN');
  } finally {
    cleanup();
  }
});

test('stored, then the last step fails (the DSN cannot be queued): still delivered, the DSN kept and sent by the retry, once', async () => {
  const { storage, dataDir, agent, cleanup } = await setup();
  const outbound = storage.queue;
  try {
    await storage.directory.addAliasTargets('ops@example.test', ['alice@example.test', 'bob@example.test']);
    await removeAccount(storage, 'bob@example.test');
    // The outbound queue cannot be written (as when its directory is unwritable), the local-retry queue can.
    const broken: QueueStore = { ...outbound, enqueue: () => Promise.reject(new MailError('TEMPFAIL', 'cannot write to the queue')) };
    (storage as { queue: QueueStore }).queue = broken;
    const outcomes = await agent.deliver(message('last step', 'sender@remote.test', ['ops@example.test']), { answer: 'message', bounceRefused: true });
    assert.deepEqual(outcomes.map((o) => o.kind), ['delivered'], 'a 451 would make the sender store alice\'s copy again');
    assert.equal(await count(storage, 'alice'), 1);
    const [entry] = await storage.localRetry.list();
    assert.deepEqual(localRetryData(entry!)?.tasks.map((t) => t.kind), ['bounce']);

    (storage as { queue: QueueStore }).queue = outbound;
    await storage.localRetry.requestFlush();
    await new LocalRetryRunner(storage, agent, pino({ level: 'silent' })).runOnce();
    assert.deepEqual(await storage.localRetry.list(), []);
    assert.equal((await outbound.list()).filter((e) => e.reason === 'bounce').length, 1);
    assert.equal(await count(storage, 'alice'), 1, 'never twice');
  } finally {
    (storage as { queue: QueueStore }).queue = outbound;
    cleanup();
  }
});
