// The outbound runner over a fake transport (a test double of the seam) and
// a real on-disk queue: what is sent is recorded and not sent again, 4xx is
// retried on the schedule with its deferral class, 5xx bounces once with
// the remote reply, the null sender never gets a notice, a delay warning
// comes once, expiry bounces, holds and flushes are obeyed, forwarded mail
// gets the rewritten sender, the signer runs, and at most N entries are in
// flight at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import path from 'node:path';
import { pino } from 'pino';
import { openStorage } from '../../../storage/index.js';
import { openMemoryStorage } from '../../../storage/memory/index.js';
import type { QueueEntry, Storage } from '../../../storage/ports.js';
import { QueueStore as FileQueueStore, recipientStates } from '../../../storage/queue.js';
import { OutboundRunner, type OutboundRunnerOptions } from '../../../src/outbound/runner.js';
import type { OutboundMessage, OutboundTransport, RecipientOutcome } from '../../../src/outbound/transport.js';
import type { RetrySchedule } from '../../../src/outbound/schedule.js';
import { scratchDir } from '../../support/tmp.js';

const SCHEDULE: RetrySchedule = { retryMs: [60_000, 120_000], warnAfterMs: 3_600_000, expireAfterMs: 86_400_000 };

/** Answers each recipient from a script ("250 ok", "451 4.7.1 greylisted", "550 5.1.1 no such user"); the last reply repeats. */
class FakeTransport implements OutboundTransport {
  readonly sent: OutboundMessage[] = [];
  private readonly tries = new Map<string, number>();
  concurrent = 0;
  maxConcurrent = 0;
  gate: Promise<void> | undefined;

  constructor(private readonly script: Record<string, string[]> = {}) {}

  async send(m: OutboundMessage): Promise<RecipientOutcome[]> {
    this.concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    try {
      await this.gate;
      this.sent.push(m);
      return m.recipients.map((address) => {
        const n = this.tries.get(address) ?? 0;
        this.tries.set(address, n + 1);
        const replies = this.script[address] ?? ['250 2.0.0 ok'];
        const reply = replies[Math.min(n, replies.length - 1)]!;
        const destination = 'mx.remote.test[192.0.2.1]:25';
        if (reply.startsWith('2')) return { address, status: 'sent', reply, destination, tls: 'TLSv1.3' };
        if (reply.startsWith('5')) return { address, status: 'failed', reply, destination };
        return { address, status: 'deferred', reply, destination, deferral: reply.includes('grey') ? 'greylist' : 'remote-4xx' };
      });
    } finally {
      this.concurrent--;
    }
  }

  async close(): Promise<void> {}

  /** Messages that carried `address`. */
  to(address: string): OutboundMessage[] {
    return this.sent.filter((m) => m.recipients.includes(address));
  }
}

interface Setup {
  /** The data dir. */
  dir: string;
  storage: Storage;
  transport: FakeTransport;
  runner: OutboundRunner;
  events: Array<Record<string, unknown>>;
  /** The runner's clock runs `offset` ms ahead of the real one (entries are made at real time). */
  clock: { offset: number };
  /** One look at the queue, and the attempts it started. */
  pass(): Promise<void>;
  newRunner(extra?: Partial<OutboundRunnerOptions>): OutboundRunner;
  cleanup(): void;
}

function setup(script: Record<string, string[]> = {}, extra: Partial<OutboundRunnerOptions> = {}, onDisk = true): Setup {
  const s = scratchDir();
  const storage = onDisk ? openStorage(s.dir) : openMemoryStorage();
  const events: Array<Record<string, unknown>> = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) events.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = pino({ level: 'debug', base: undefined }, out);
  const transport = new FakeTransport(script);
  const clock = { offset: 0 };
  const newRunner = (more: Partial<OutboundRunnerOptions> = {}) =>
    new OutboundRunner({ queue: storage.queue, transport, log, hostname: 'mx.example.test', schedule: SCHEDULE, now: () => Date.now() + clock.offset, ...extra, ...more });
  const runner = newRunner();
  return {
    dir: s.dir,
    storage,
    transport,
    runner,
    events,
    clock,
    newRunner,
    pass: async () => {
      await runner.kick();
      await runner.idle();
    },
    cleanup: () => {
      storage.close();
      s.cleanup();
    },
  };
}

const raw = (subject: string, from = 'alice@example.test') =>
  Buffer.from(`From: <${from}>\r\nTo: <x@remote.test>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.test>\r\n\r\nbody\r\n`);

async function only(storage: Storage): Promise<QueueEntry> {
  const list = await storage.queue.list();
  assert.equal(list.length, 1, `one entry: ${JSON.stringify(list)}`);
  return list[0]!;
}

test('a queued message is sent once and its entry removed; the attempt is logged with ids, destination, reply and TLS, and says it ended the entry', async () => {
  const t = setup();
  try {
    const entry = await t.storage.queue.enqueue('alice@example.test', ['x@remote.test'], raw('hello'), 'submission', { smtpId: 'ABCDEF012345' });
    await t.pass();
    await t.pass();
    assert.equal(t.transport.sent.length, 1);
    assert.deepEqual(await t.storage.queue.list(), []);
    const attempt = t.events.find((e) => e.event === 'outbound-attempt')!;
    assert.deepEqual(
      [attempt.queueId, attempt.smtpId, attempt.recipient, attempt.status, attempt.destination, attempt.reply, attempt.tls],
      [entry.id, 'ABCDEF012345', 'x@remote.test', 'sent', 'mx.remote.test[192.0.2.1]:25', '250 2.0.0 ok', 'TLSv1.3'],
    );
    // The attempt that ended the entry says so: no line of its own.
    assert.deepEqual([attempt.done, attempt.sender, attempt.sent, attempt.failed], [true, 'alice@example.test', ['x@remote.test'], []]);
    assert.equal(t.events.filter((e) => e.event === 'outbound-done').length, 0);
  } finally {
    t.cleanup();
  }
});

test('451 then 250: deferred with its class and next attempt on the schedule, sent on the retry', async () => {
  const t = setup({ 'grey@remote.test': ['451 4.7.1 greylisted, try again later', '250 ok'] });
  try {
    await t.storage.queue.enqueue('alice@example.test', ['grey@remote.test'], raw('grey'), 'submission');
    await t.pass();
    const e = await only(t.storage);
    const [r] = recipientStates(e);
    assert.deepEqual([r!.status, r!.deferral, r!.attempts, r!.reply], ['deferred', 'greylist', 1, '451 4.7.1 greylisted, try again later']);
    const wait = r!.nextAttempt - e.created;
    assert.ok(wait >= 60_000 && wait < 70_000, `the first retry after the first delay (${wait} ms)`);
    assert.equal(e.nextAttempt, r!.nextAttempt);
    assert.equal(e.lastError, '451 4.7.1 greylisted, try again later');
    await t.pass();
    assert.equal(t.transport.sent.length, 1, 'not before its time');
    t.clock.offset += 60_000;
    await t.pass();
    assert.equal(t.transport.sent.length, 2);
    assert.deepEqual(await t.storage.queue.list(), []);
    assert.equal((await t.storage.queue.list()).filter((q) => q.reason === 'bounce').length, 0);
  } finally {
    t.cleanup();
  }
});

test('550: one bounce to the sender, from the null sender, quoting the remote reply; the entry is gone', async () => {
  const t = setup({ 'nobody@remote.test': ['550 5.1.1 <nobody@remote.test>: Recipient address rejected: User unknown'] });
  try {
    await t.storage.queue.enqueue('alice@example.test', ['nobody@remote.test'], raw('to nobody'), 'submission', { smtpId: 'AAAABBBBCCCC' });
    await t.pass();
    await t.pass();
    // The bounce was queued and, being due at once, went out in the same pass.
    assert.deepEqual(await t.storage.queue.list(), []);
    const bounces = t.transport.to('alice@example.test');
    assert.equal(bounces.length, 1, 'one bounce');
    assert.equal(bounces[0]!.sender, '', 'from the null sender');
    const notice = t.events.find((e) => e.event === 'outbound-bounce')!;
    assert.equal(notice.smtpId, 'AAAABBBBCCCC');
    const dsn = bounces[0]!.raw.toString();
    assert.match(dsn, /To: <alice@example\.test>/);
    assert.match(dsn, /Content-Type: multipart\/report; report-type=delivery-status/);
    assert.match(dsn, /Final-Recipient: rfc822; nobody@remote.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\n/);
    assert.match(dsn, /Remote-MTA: dns; mx\.remote\.test\[192\.0\.2\.1\]:25/);
    assert.match(dsn, /Diagnostic-Code: smtp; 550 5\.1\.1 <nobody@remote\.test>: Recipient address rejected: User unknown/);
    assert.match(dsn, /host mx\.remote\.test\[192\.0\.2\.1\]:25 said: 550 5\.1\.1/, 'the text part quotes it too');
    assert.match(dsn, /Subject: to nobody/, 'the original header section is attached');
  } finally {
    t.cleanup();
  }
});

test('the null sender gets no bounce and no delay warning', async () => {
  const t = setup({ 'gone@remote.test': ['550 5.1.1 no such user'], 'slow@remote.test': ['451 4.3.0 later'] });
  try {
    await t.storage.queue.enqueue('', ['gone@remote.test'], raw('vacation reply'), 'vacation');
    await t.storage.queue.enqueue('', ['slow@remote.test'], raw('a bounce'), 'bounce');
    await t.pass();
    t.clock.offset += SCHEDULE.warnAfterMs + 1;
    await t.pass();
    const left = await t.storage.queue.list();
    assert.deepEqual(left.map((e) => e.recipients), [['slow@remote.test']], 'only the deferred one is left');
    assert.ok(!t.events.some((e) => e.event === 'outbound-bounce' || e.event === 'outbound-delay-warning'));
  } finally {
    t.cleanup();
  }
});

test('several recipients: the sent one is not sent again, the failed one bounced at once, the deferred one retried', async () => {
  const t = setup({ 'bad@remote.test': ['550 5.1.1 unknown'], 'later@other.test': ['452 4.2.2 mailbox full', '250 ok'] });
  try {
    const e = await t.storage.queue.enqueue('alice@example.test', ['ok@remote.test', 'bad@remote.test', 'later@other.test'], raw('three'), 'submission');
    await t.pass();
    const kept = (await t.storage.queue.get(e.id))!;
    assert.deepEqual(
      recipientStates(kept).map((r) => [r.address, r.status, r.deferral]),
      [
        ['ok@remote.test', 'sent', null],
        ['bad@remote.test', 'failed', null],
        ['later@other.test', 'deferred', 'remote-4xx'],
      ],
    );
    const bounces = t.transport.to('alice@example.test');
    assert.equal(bounces.length, 1);
    const dsn = bounces[0]!.raw.toString();
    assert.match(dsn, /Final-Recipient: rfc822; bad@remote.test/);
    assert.doesNotMatch(dsn, /Final-Recipient: rfc822; (ok|later)@/);
    t.clock.offset += 60_000;
    await t.pass();
    assert.equal(t.transport.to('ok@remote.test').length, 1, 'sent once');
    assert.equal(t.transport.to('bad@remote.test').length, 1, 'failed: not tried again');
    assert.equal(t.transport.to('later@other.test').length, 2);
    assert.deepEqual(await t.storage.queue.list(), []);
    assert.equal(t.events.filter((x) => x.event === 'outbound-bounce').length, 1, 'one bounce in all');
  } finally {
    t.cleanup();
  }
});

test('a delay warning once after warnAfter, then expiry: a bounce saying it gave up', async () => {
  const t = setup({ 'slow@remote.test': ['421 4.4.2 connection timed out'] });
  try {
    const e = await t.storage.queue.enqueue('alice@example.test', ['slow@remote.test'], raw('slow'), 'submission');
    await t.pass();
    t.clock.offset += SCHEDULE.warnAfterMs;
    await t.pass();
    const notices = () => t.transport.to('alice@example.test').map((m) => m.raw.toString());
    assert.equal(notices().length, 1);
    assert.match(notices()[0]!, /Action: delayed/);
    assert.match(notices()[0]!, /Will-Retry-Until: /);
    assert.equal((await t.storage.queue.get(e.id))!.warned, true);
    t.clock.offset += 120_000;
    await t.pass();
    assert.equal(notices().length, 1, 'warned once');
    t.clock.offset = SCHEDULE.expireAfterMs;
    await t.pass();
    assert.equal(await t.storage.queue.get(e.id), undefined, 'given up');
    assert.equal(notices().length, 2, 'bounced');
    const dsn = notices()[1]!;
    assert.match(dsn, /Action: failed\r\nStatus: 5\.4\.2/);
    assert.match(dsn, /421 4\.4\.2 connection timed out \(gave up after 1 days in the queue\)/);
    assert.ok(t.events.some((x) => x.event === 'outbound-expired'));
  } finally {
    t.cleanup();
  }
});

test('held entries wait (a flush does not take them); released they go; a flush tries deferred entries at once, all or one', async () => {
  const t = setup({ 'a@remote.test': ['451 later', '250 ok'], 'b@remote.test': ['451 later', '250 ok'] });
  try {
    const held = await t.storage.queue.enqueue('alice@example.test', ['h@remote.test'], raw('held'), 'submission');
    await t.storage.queue.hold(held.id);
    assert.equal((await t.storage.queue.get(held.id))!.held, true);
    const a = await t.storage.queue.enqueue('alice@example.test', ['a@remote.test'], raw('a'), 'submission');
    const b = await t.storage.queue.enqueue('alice@example.test', ['b@remote.test'], raw('b'), 'submission');
    await t.pass();
    assert.equal(t.transport.to('h@remote.test').length, 0, 'held');
    await t.storage.queue.requestFlush(a.id);
    await t.pass();
    assert.equal(t.transport.to('a@remote.test').length, 2, 'a flush of one entry');
    assert.equal(t.transport.to('b@remote.test').length, 1, 'the other waits');
    await t.storage.queue.requestFlush();
    await t.pass();
    assert.equal(t.transport.to('b@remote.test').length, 2, 'a flush of all');
    assert.equal(t.transport.to('h@remote.test').length, 0, 'still held');
    assert.deepEqual((await t.storage.queue.list()).map((e) => e.id), [held.id]);
    await t.storage.queue.release(held.id);
    await t.pass();
    assert.equal(t.transport.to('h@remote.test').length, 1);
    assert.deepEqual(await t.storage.queue.list(), []);
    void b;
  } finally {
    t.cleanup();
  }
});

test('a deleted entry is not sent, and one deleted while in flight stays deleted', async () => {
  const t = setup({ 'd@remote.test': ['451 later'] });
  try {
    const gone = await t.storage.queue.enqueue('alice@example.test', ['g@remote.test'], raw('gone'), 'submission');
    await t.storage.queue.remove(gone.id);
    const e = await t.storage.queue.enqueue('alice@example.test', ['d@remote.test'], raw('d'), 'submission');
    let open!: () => void;
    t.transport.gate = new Promise((resolve) => (open = resolve));
    await t.runner.kick();
    while (t.transport.concurrent === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await t.storage.queue.remove(e.id);
    open();
    await t.runner.idle();
    assert.equal(t.transport.to('g@remote.test').length, 0);
    assert.deepEqual(await t.storage.queue.list(), [], 'not brought back by the runner');
    assert.ok(t.events.some((x) => x.event === 'outbound-deleted'));
  } finally {
    t.cleanup();
  }
});

test('forwarded mail leaves with the rewritten sender, submitted mail with its own; every message goes through the signer', async () => {
  const signed: string[] = [];
  const t = setup(
    {},
    {
      rewriter: { forwardSender: async (s) => `SRS0=abcd=XY=${s.split('@')[1]}=${s.split('@')[0]}@example.test` },
      signer: {
        sign: async (m) => {
          signed.push(m.toString());
          return Buffer.concat([Buffer.from('DKIM-Signature: v=1; test\r\n'), m]);
        },
      },
    },
  );
  try {
    await t.storage.queue.enqueue('someone@far.test', ['r@remote.test'], raw('redirected', 'someone@far.test'), 'redirect');
    await t.storage.queue.enqueue('someone@far.test', ['a@remote.test'], raw('aliased', 'someone@far.test'), 'alias');
    await t.storage.queue.enqueue('alice@example.test', ['s@remote.test'], raw('submitted'), 'submission');
    await t.storage.queue.enqueue('', ['v@remote.test'], raw('vacation'), 'redirect');
    await t.pass();
    assert.equal(t.transport.to('r@remote.test')[0]!.sender, 'SRS0=abcd=XY=far.test=someone@example.test');
    assert.equal(t.transport.to('a@remote.test')[0]!.sender, 'SRS0=abcd=XY=far.test=someone@example.test');
    assert.equal(t.transport.to('s@remote.test')[0]!.sender, 'alice@example.test');
    assert.equal(t.transport.to('v@remote.test')[0]!.sender, '', 'the null sender stays null');
    assert.equal(signed.length, 4);
    assert.ok(t.transport.sent.every((m) => m.raw.toString().startsWith('DKIM-Signature: v=1; test\r\n')));
  } finally {
    t.cleanup();
  }
});

test('a failing signer or a throwing transport defers (class "local"), and nothing is lost', async () => {
  const t = setup({}, { signer: { sign: async () => Promise.reject(new Error('key unreadable')) } });
  try {
    await t.storage.queue.enqueue('alice@example.test', ['x@remote.test'], raw('x'), 'submission');
    await t.pass();
    const [r] = recipientStates(await only(t.storage));
    assert.deepEqual([r!.status, r!.deferral, r!.reply], ['deferred', 'local', 'local error: key unreadable']);
    assert.equal(t.transport.sent.length, 0);
  } finally {
    t.cleanup();
  }
});

test('at most maxInFlight entries are sent at once', async () => {
  const t = setup({}, { maxInFlight: 3 });
  try {
    for (let i = 0; i < 10; i++) await t.storage.queue.enqueue('alice@example.test', [`r${i}@remote.test`], raw(`m${i}`), 'submission');
    let open!: () => void;
    t.transport.gate = new Promise((resolve) => (open = resolve));
    await t.runner.kick();
    while (t.transport.concurrent < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(t.transport.concurrent, 3, 'no more than 3');
    open();
    await t.runner.idle();
    assert.equal(t.transport.maxConcurrent, 3);
    assert.equal(t.transport.sent.length, 10);
    assert.deepEqual(await t.storage.queue.list(), []);
  } finally {
    t.cleanup();
  }
});

test('a new runner on the same queue (a restart) finds the recorded state: sent recipients are not sent again', async () => {
  const t = setup({ 'later@remote.test': ['451 later', '250 ok'] });
  try {
    await t.storage.queue.enqueue('alice@example.test', ['now@remote.test', 'later@remote.test'], raw('two'), 'submission');
    await t.pass();
    const restarted = t.newRunner();
    t.clock.offset += 60_000;
    await restarted.kick();
    await restarted.idle();
    assert.equal(t.transport.to('now@remote.test').length, 1);
    assert.equal(t.transport.to('later@remote.test').length, 2);
    assert.deepEqual(await t.storage.queue.list(), []);
  } finally {
    t.cleanup();
  }
});

test('the memory backend runs the same way', async () => {
  const t = setup({ 'nobody@remote.test': ['550 5.1.1 unknown'] }, {}, false);
  try {
    await t.storage.queue.enqueue('alice@example.test', ['nobody@remote.test', 'ok@remote.test'], raw('m'), 'submission');
    await t.pass();
    await t.pass();
    assert.deepEqual(await t.storage.queue.list(), []);
    assert.equal(t.transport.to('alice@example.test').length, 1, 'the bounce went out');
  } finally {
    t.cleanup();
  }
});

/** Polls until cond() holds (generous: a loaded machine). */
async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('a started runner is told of entries made in its process: it sends them without reading the queue directory again', async () => {
  const t = setup();
  let looks = 0;
  const queue = { ...t.storage.queue, listIds: () => (looks++, t.storage.queue.listIds()) };
  const runner = t.newRunner({ queue, rescanMs: 3_600_000 });
  try {
    runner.start();
    await until(() => looks >= 1, 'the look at start');
    await runner.idle();
    const before = looks;
    for (let i = 0; i < 20; i++) await t.storage.queue.enqueue('alice@example.test', [`n${i}@remote.test`], raw(`n${i}`), 'submission');
    await until(() => t.transport.sent.length === 20, '20 sent');
    await until(async () => (await t.storage.queue.list()).length === 0, 'an empty queue');
    assert.equal(looks, before, 'no directory read for entries it was told of');
  } finally {
    await runner.stop();
    t.cleanup();
  }
});

test('a started runner finds an entry another process made (its marker) and one held there, within a tick', async () => {
  const t = setup();
  const runner = t.newRunner({ scanMs: 20, rescanMs: 3_600_000 });
  try {
    runner.start();
    await runner.idle();
    // Another process's view of the same queue: a store of its own, with no watcher.
    const other = new FileQueueStore(path.join(t.dir, 'queue'));
    const held = await other.enqueue('alice@example.test', ['held@remote.test'], raw('held'), 'redirect', { nextAttempt: Date.now() + 300 });
    await other.hold(held.id);
    await other.enqueue('alice@example.test', ['other@remote.test'], raw('other'), 'redirect');
    await until(() => t.transport.to('other@remote.test').length === 1, 'the other process\'s entry sent');
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(t.transport.to('held@remote.test').length, 0, 'held: not tried');
    await other.release(held.id);
    await until(() => t.transport.to('held@remote.test').length === 1, 'released: sent');
  } finally {
    await runner.stop();
    t.cleanup();
  }
});

test('a deferred entry is tried again when due, by the runner\'s own timer (no look at the queue)', async () => {
  const t = setup({ 'later@remote.test': ['451 4.7.1 later', '250 ok'] }, { schedule: { ...SCHEDULE, retryMs: [300] } });
  const runner = t.newRunner({ rescanMs: 3_600_000 });
  try {
    runner.start();
    await t.storage.queue.enqueue('alice@example.test', ['later@remote.test'], raw('later'), 'submission');
    await until(() => t.transport.to('later@remote.test').length === 2, 'the retry');
    await until(async () => (await t.storage.queue.list()).length === 0, 'an empty queue');
  } finally {
    await runner.stop();
    t.cleanup();
  }
});

test('an entry found with every recipient done (a crash after its record, before its removal) is removed, never sent again', async () => {
  const t = setup();
  try {
    const e = await t.storage.queue.enqueue('alice@example.test', ['a@remote.test', 'b@remote.test'], raw('done'), 'submission');
    const states = recipientStates(e).map((r) => ({ ...r, status: 'sent' as const, attempts: 1, reply: '250 ok' }));
    await t.storage.queue.update({ ...e, states, attempts: 1 });
    await t.pass();
    assert.equal(t.transport.sent.length, 0, 'not sent again');
    assert.deepEqual(await t.storage.queue.list(), []);
  } finally {
    t.cleanup();
  }
});

test('a recipient one destination took is recorded at once, while the message\'s other destinations are still under way (the duplicate window ends with its 250)', async () => {
  const t = setup();
  try {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let toldAt: string | undefined;
    t.transport.send = async (m: OutboundMessage) => {
      // The first domain's MX took its recipient; the second's is still answering.
      m.onSent?.([m.recipients[0]!]);
      toldAt = 'told';
      await held;
      return [
        { address: m.recipients[0]!, status: 'sent', reply: '250 ok' },
        { address: m.recipients[1]!, status: 'deferred', reply: '451 later', deferral: 'remote-4xx' },
      ];
    };
    const e = await t.storage.queue.enqueue('alice@example.test', ['a@one.test', 'b@two.test'], raw('early'), 'submission');
    const pass = t.pass();
    const end = Date.now() + 10_000;
    let recorded: QueueEntry | undefined;
    while (Date.now() < end) {
      recorded = await t.storage.queue.get(e.id);
      if (toldAt && recorded?.states?.[0]?.status === 'sent') break;
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(recorded?.states?.map((r) => r.status), ['sent', 'pending'], 'recorded before the transport returned');
    // A crash now (a new runner on the same queue) would not send a@one.test again.
    release();
    await pass;
    const after = (await t.storage.queue.get(e.id))!;
    assert.deepEqual(after.states?.map((r) => r.status), ['sent', 'deferred'], 'the full record follows');
    assert.equal(after.attempts, 1);
  } finally {
    t.cleanup();
  }
});

test('a runner claims each entry before its attempt and gives it back after; an entry it cannot claim (another node\'s) waits, unsent', async () => {
  const t = setup();
  try {
    const calls: string[] = [];
    const queue = t.storage.queue;
    let refuse = true;
    const claimed = Object.assign(Object.create(queue) as typeof queue, {
      claim: async (id: string, leaseMs: number) => {
        calls.push(`claim ${leaseMs}`);
        return refuse ? undefined : queue.claim(id, leaseMs);
      },
      releaseClaim: async (id: string) => {
        calls.push('release');
        return queue.releaseClaim(id);
      },
    });
    await queue.enqueue('alice@example.test', ['x@remote.test'], raw('claimed'), 'submission');
    const runner = t.newRunner({ queue: claimed, leaseMs: 5000 });
    await runner.kick();
    await runner.idle();
    assert.equal(t.transport.sent.length, 0, 'another node holds it: not sent');
    assert.deepEqual(calls, ['claim 5000']);
    refuse = false;
    // It waits out the lease before looking again (the runner's clock moves past it).
    t.clock.offset = 6000;
    const again = t.newRunner({ queue: claimed, leaseMs: 5000 });
    await again.kick();
    await again.idle();
    assert.equal(t.transport.sent.length, 1);
    assert.deepEqual(calls, ['claim 5000', 'claim 5000', 'release']);
    assert.deepEqual(await queue.list(), []);
  } finally {
    t.cleanup();
  }
});
