// The submission hooks on the memory store: whose addresses a user may send
// as (own, subaddress, alias reaching them; not another user's, not an
// alias without them, not a remote one), the From header checked the same
// way (hostile and odd From fields included), unauthenticated sessions
// refused, and the per-user limits counted over a moving hour and day.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { openMemoryStorage } from '../../../storage/memory/index.js';
import { AliasResolver } from '../../../src/delivery/alias-resolver.js';
import { HookChain, type SessionInfo } from '../../../src/mx/chain.js';
import { ownsAddress, submissionSenderHook } from '../../../src/mx/hooks/submission-sender.js';
import { submissionFromHeaderHook } from '../../../src/mx/hooks/submission-from-header.js';
import { SendingCounter, submissionLimitHooks } from '../../../src/mx/hooks/submission-limits.js';
import { parseMessage } from '../../../mime/index.js';

const quiet = pino({ level: 'silent' });
const alice: SessionInfo = { id: 's', remoteAddress: '192.0.2.1', helo: 'client.test', user: 'alice@example.test' };
const anonymous: SessionInfo = { id: 's', remoteAddress: '192.0.2.1', helo: 'client.test' };

async function directory() {
  const storage = openMemoryStorage();
  const d = storage.directory;
  await d.addDomain('example.test');
  for (const u of ['alice', 'bob']) await d.addAccount({ address: `${u}@example.test`, passwordHash: 'x', scramSha256: null, quota: null });
  await d.addAliasTargets('team@example.test', ['bob@example.test', 'alice@example.test']);
  await d.addAliasTargets('all@example.test', ['team@example.test']);
  await d.addAliasTargets('bobs@example.test', ['bob@example.test', 'someone@remote.test']);
  await d.addAliasTargets('loop@example.test', ['loop2@example.test']);
  await d.addAliasTargets('loop2@example.test', ['loop@example.test']);
  return { storage, aliases: new AliasResolver(d) };
}

test('MAIL FROM: own address, subaddress and aliases reaching the user; else 553 5.7.1; no AUTH, 530', async () => {
  const { storage, aliases } = await directory();
  try {
    const chain = new HookChain([submissionSenderHook(aliases)], quiet);
    const mail = async (from: string, session = alice) => {
      const v = await chain.run('mail', { session, from });
      return v.kind === 'accept' ? 'accept' : `${v.code} ${v.enhanced} ${v.text}`;
    };
    for (const from of ['alice@example.test', 'ALICE@Example.Test', 'alice+x@example.test', 'team@example.test', 'all@example.test', '']) {
      assert.equal(await mail(from), 'accept', from);
    }
    assert.equal(await mail('bob@example.test'), '553 5.7.1 <bob@example.test>: Sender address rejected: not owned by user alice@example.test');
    for (const from of ['bobs@example.test', 'nobody@example.test', 'loop@example.test', 'alice@remote.test', 'alice@example.test.evil.test']) {
      assert.match(await mail(from), /^553 5\.7\.1 /, from);
    }
    assert.match(await mail('alice@example.test', anonymous), /^530 5\.7\.0 /);
    assert.equal(await ownsAddress(aliases, 'bob@example.test', 'bobs@example.test'), true);
  } finally {
    storage.close();
  }
});

test('From header: every address must be the user\'s; odd and hostile fields get a clean 553', async () => {
  const { storage, aliases } = await directory();
  try {
    const chain = new HookChain([submissionFromHeaderHook(aliases)], quiet);
    const data = async (header: string) => {
      const message = parseMessage(Buffer.from(`${header}Subject: s\r\n\r\nbody\r\n`));
      const v = await chain.run('data', { session: alice, from: 'alice@example.test', recipients: ['x@remote.test'], message });
      return v.kind === 'accept' ? 'accept' : `${v.code} ${v.enhanced}`;
    };
    assert.equal(await data('From: Alice <alice@example.test>\r\n'), 'accept');
    assert.equal(await data('From: =?utf-8?q?Bob=2C_=3Cbob=40example.test=3E?= <alice@example.test>\r\n'), 'accept', 'an encoded display name is not an address');
    assert.equal(await data('From: =?utf-8?q?Bob_<bob@example.test>?= <alice@example.test>\r\n'), '553 5.7.1', 'an address written out in the header is one, encoded word or not');
    assert.equal(await data('From: "Team" <team@example.test>, alice@example.test\r\n'), 'accept');
    assert.equal(await data('To: x@remote.test\r\n'), 'accept', 'no From: nothing claimed');
    assert.equal(await data('From: Bob <bob@example.test>\r\n'), '553 5.7.1');
    assert.equal(await data('From: alice@example.test, bob@example.test\r\n'), '553 5.7.1');
    assert.equal(await data('From: alice@example.test\r\nFrom: bob@example.test\r\n'), '553 5.7.1', 'a second From field is checked too');
    assert.equal(await data('From: undisclosed\r\n'), '553 5.7.1');
    assert.equal(await data('From: "alice@example.test" <bob@example.test>\r\n'), '553 5.7.1');
    assert.equal(await data(`From: ${'a,'.repeat(50_000)}alice@example.test\r\n`), 'accept', 'empty entries are skipped');
    assert.equal(await data(`From: ${Array.from({ length: 100 }, () => 'alice@example.test').join(', ')}\r\n`), '553 5.7.1', 'too many authors');
    const started = Date.now();
    assert.equal(await data(`From: ${'"'.repeat(200_000)}<${'('.repeat(100_000)}\r\n`), '553 5.7.1');
    assert.ok(Date.now() - started < 5000, 'a hostile From field is read in linear time');
  } finally {
    storage.close();
  }
});

test('limits: recipients per message and per day at RCPT, messages per hour at MAIL, over a moving window', async () => {
  let now = 1_000_000_000;
  const counter = new SendingCounter(() => now);
  const [mail, rcpt, data] = submissionLimitHooks(counter, () => ({ messagesPerHour: 2, recipientsPerMessage: 2, recipientsPerDay: 5 }));
  const chain = new HookChain([mail, rcpt, data], quiet);
  const code = (v: { kind: string; code?: number; enhanced?: string; text?: string }) => (v.kind === 'accept' ? 'accept' : `${v.code} ${v.enhanced} ${v.text}`);
  const send = async (recipients: string[]) => code(await chain.run('data', { session: alice, from: 'alice@example.test', recipients, message: parseMessage(Buffer.from('\r\n')) }));
  const rcptWith = async (accepted: string[]) => code(await chain.run('rcpt', { session: alice, from: 'alice@example.test', recipient: 'z@remote.test', accepted }));
  const mailNow = async () => code(await chain.run('mail', { session: alice, from: 'alice@example.test' }));

  assert.equal(await rcptWith(['a@remote.test']), 'accept');
  assert.equal(await rcptWith(['a@remote.test', 'b@remote.test']), '451 4.7.1 Sending limit reached (recipients per message), try again later');
  assert.equal(await send(['a@remote.test', 'b@remote.test']), 'accept');
  assert.equal(await mailNow(), 'accept');
  assert.equal(await send(['c@remote.test', 'd@remote.test']), 'accept');
  assert.equal(await mailNow(), '451 4.7.1 Sending limit reached (messages per hour), try again later');
  assert.equal(code(await chain.run('mail', { session: { ...alice, user: 'bob@example.test' }, from: 'bob@example.test' })), 'accept', 'per user');
  now += 3600_000 + 1;
  assert.equal(await mailNow(), 'accept', 'an hour later');
  assert.equal(await rcptWith([]), 'accept', '4 of 5 today');
  assert.equal(await rcptWith(['e@remote.test']), '451 4.7.1 Sending limit reached (recipients per day), try again later');
  now += 23 * 3600_000;
  assert.equal(await rcptWith(['e@remote.test']), 'accept', 'a day later');
  assert.match(code(await chain.run('mail', { session: anonymous, from: 'a@example.test' })), /^530 /);
});

test('limits: the counter agrees with a plain count of the last hour and day over 50,000 sends across three days', () => {
  let now = 1_000_000_000;
  const counter = new SendingCounter(() => now);
  const plain: Array<{ at: number; recipients: number }> = [];
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 50_000; i++) {
    now += Math.floor(random() * 15_000); // about 6 s apart: 50,000 sends span about 3.5 days
    const recipients = 1 + Math.floor(random() * 5);
    counter.record('Alice@example.test', recipients);
    plain.push({ at: now, recipients });
    if (i % 997 === 0) {
      const day = plain.filter((s) => s.at > now - 24 * 3600_000);
      const expected = { messagesLastHour: day.filter((s) => s.at > now - 3600_000).length, recipientsLastDay: day.reduce((n, s) => n + s.recipients, 0) };
      assert.deepEqual(counter.usage('alice@example.test'), expected, `after ${i + 1} sends`);
    }
  }
  now += 24 * 3600_000;
  assert.deepEqual(counter.usage('alice@example.test'), { messagesLastHour: 0, recipientsLastDay: 0 }, 'a quiet day later');
});
