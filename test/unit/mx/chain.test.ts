// The hook runner: stage order, the first refusal wins, and a hook that
// throws or never answers yields 451 (logged with its name), never an accept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { HookChain, type Hook, type HookOf, type SessionInfo } from '../../../src/mx/chain.js';
import { ACCEPT, reject, tempfail, type Verdict } from '../../../src/mx/verdict.js';
import { parseMessage } from '../../../mime/index.js';

const session: SessionInfo = { id: 's1', remoteAddress: '192.0.2.7', helo: 'client.test' };

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

function rcptHook(name: string, calls: string[], verdict: Verdict | (() => Promise<Verdict>), timeoutMs = 1000): HookOf<'rcpt'> {
  return {
    name,
    stage: 'rcpt',
    timeoutMs,
    run: async () => {
      calls.push(name);
      return typeof verdict === 'function' ? verdict() : verdict;
    },
  };
}

const rcptCtx = { session, from: 'a@remote.test', recipient: 'b@local.test' };

test('hooks run in their order, only those of the stage asked for', async () => {
  const calls: string[] = [];
  const other: Hook = { name: 'at-mail', stage: 'mail', timeoutMs: 1000, run: async () => (calls.push('at-mail'), ACCEPT) };
  const chain = new HookChain([rcptHook('one', calls, ACCEPT), other, rcptHook('two', calls, ACCEPT), rcptHook('three', calls, ACCEPT)], capturingLogger().log);
  const v = await chain.run('rcpt', rcptCtx);
  assert.equal(v.kind, 'accept');
  assert.deepEqual(calls, ['one', 'two', 'three']);
  // No hook at a stage: accepted.
  assert.equal((await new HookChain([], capturingLogger().log).run('connect', { session })).kind, 'accept');
});

test('the first refusal wins and the hooks after it do not run', async () => {
  const calls: string[] = [];
  const first = reject(554, '5.7.1', 'Relay access denied');
  const chain = new HookChain(
    [rcptHook('ok', calls, ACCEPT), rcptHook('relay', calls, first), rcptHook('later', calls, tempfail(452, '4.2.2', 'full'))],
    capturingLogger().log,
  );
  assert.deepEqual(await chain.run('rcpt', rcptCtx), first);
  assert.deepEqual(calls, ['ok', 'relay']);
});

test('a hook that throws (at once or later) gives 451 4.3.0, logged with its name, and stops the stage', async () => {
  const { log, lines } = capturingLogger();
  const calls: string[] = [];
  const throwsAtOnce: HookOf<'rcpt'> = {
    name: 'throws-at-once',
    stage: 'rcpt',
    timeoutMs: 1000,
    run: () => {
      throw new Error('boom now');
    },
  };
  const rejects = rcptHook('rejects-later', calls, () => Promise.reject(new Error('boom later')));
  for (const hook of [throwsAtOnce, rejects]) {
    const v = await new HookChain([hook, rcptHook('after', calls, ACCEPT)], log).run('rcpt', rcptCtx);
    assert.deepEqual(v, { kind: 'tempfail', code: 451, enhanced: '4.3.0', text: 'Temporary local problem, try again later' });
  }
  assert.deepEqual(calls, ['rejects-later'], 'nothing after a failed hook runs');
  const failures = lines.filter((l) => l.event === 'hook-failed');
  assert.deepEqual(failures.map((l) => [l.hook, l.stage, l.err]), [
    ['throws-at-once', 'rcpt', 'boom now'],
    ['rejects-later', 'rcpt', 'boom later'],
  ]);
  assert.equal(failures[0]!.level, 50, 'logged as an error');
});

test('a hook that never answers gives 451 once its time is up', async () => {
  const { log, lines } = capturingLogger();
  const never: HookOf<'data'> = { name: 'never', stage: 'data', timeoutMs: 50, run: () => new Promise<Verdict>(() => {}) };
  const started = Date.now();
  const v = await new HookChain([never], log).run('data', { session, from: '', recipients: ['b@local.test'], message: parseMessage(Buffer.from('x')) });
  assert.equal(v.kind, 'tempfail');
  assert.equal(v.kind === 'tempfail' && v.code, 451);
  assert.ok(Date.now() - started >= 40, 'waited for the hook its time');
  assert.deepEqual(lines.filter((l) => l.event === 'hook-failed').map((l) => [l.hook, l.err]), [['never', 'no verdict within 50 ms']]);
});

test('stages running at once on one chain each get their own hook\'s time; an answer stops the clock', async () => {
  const { log } = capturingLogger();
  const hang = () => new Promise<Verdict>(() => {});
  const hooks: Hook[] = [
    { name: 'answers', stage: 'connect', timeoutMs: 30, run: () => new Promise<Verdict>((resolve) => setTimeout(() => resolve(ACCEPT), 5)) },
    { name: 'slow', stage: 'mail', timeoutMs: 600, run: hang },
    rcptHook('fast', [], hang, 30),
  ];
  const chain = new HookChain(hooks, log);
  const order: string[] = [];
  const started = Date.now();
  const [c, m, r] = await Promise.all([
    chain.run('connect', { session }).then((v) => (order.push('connect'), v)),
    chain.run('mail', { session, from: 'a@remote.test' }).then((v) => (order.push('mail'), v)),
    chain.run('rcpt', rcptCtx).then((v) => (order.push('rcpt'), v)),
  ]);
  assert.deepEqual(order, ['connect', 'rcpt', 'mail']);
  assert.equal(c.kind, 'accept');
  assert.equal(r.kind, 'tempfail');
  assert.equal(m.kind, 'tempfail');
  assert.ok(Date.now() - started >= 550, 'the long hook had its time');
});

test('one chain, stages at once: the earliest deadline is kept, a later stage does not push it back', async () => {
  const { log } = capturingLogger();
  const hooks: Hook[] = [
    { name: 'long', stage: 'mail', timeoutMs: 600, run: () => new Promise<Verdict>(() => {}) },
    { name: 'short', stage: 'rcpt', timeoutMs: 30, run: () => new Promise<Verdict>(() => {}) },
  ];
  const chain = new HookChain(hooks, log);
  const order: string[] = [];
  const long = chain.run('mail', { session, from: 'a@remote.test' }).then((v) => (order.push('long'), v));
  const short = chain.run('rcpt', rcptCtx).then((v) => (order.push('short'), v));
  const [l, s] = await Promise.all([long, short]);
  assert.deepEqual(order, ['short', 'long']);
  assert.equal(l.kind, 'tempfail');
  assert.equal(s.kind, 'tempfail');
});

test('a hook that answers something other than a verdict gives 451', async () => {
  const bad = { name: 'bad', stage: 'mail', timeoutMs: 1000, run: async () => ({ kind: 'accept-ish' }) } as unknown as Hook;
  const v = await new HookChain([bad], capturingLogger().log).run('mail', { session, from: 'a@remote.test' });
  assert.equal(v.kind, 'tempfail');
});

test('data hooks hand on headers, Junk and the cleaned message to the next hook', async () => {
  const seen: string[] = [];
  const clean: HookOf<'data'> = {
    name: 'clean',
    stage: 'data',
    timeoutMs: 1000,
    run: async ({ message }) => (seen.push(message.raw.toString()), { kind: 'accept', headers: ['A: 1'], message: parseMessage(Buffer.from('cleaned')) }),
  };
  const junk: HookOf<'data'> = {
    name: 'junk',
    stage: 'data',
    timeoutMs: 1000,
    run: async ({ message }) => (seen.push(message.raw.toString()), { kind: 'accept', headers: ['B: 2'], junk: true }),
  };
  const v = await new HookChain([clean, junk], capturingLogger().log).run('data', { session, from: '', recipients: [], message: parseMessage(Buffer.from('original')) });
  assert.deepEqual(seen, ['original', 'cleaned']);
  assert.equal(v.kind, 'accept');
  if (v.kind !== 'accept') return;
  assert.deepEqual(v.headers, ['A: 1', 'B: 2']);
  assert.equal(v.junk, true);
  assert.equal(v.message?.raw.toString(), 'cleaned');
});
