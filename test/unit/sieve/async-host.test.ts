// evaluateAsync: a host that answers mailboxexists, duplicate and include
// with promises gives the same actions as one that answers at once, asks
// each question once, never asks duplicate off the real path, and a failing
// or endlessly questioned evaluation ends in the implicit keep.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, evaluate, evaluateAsync, type AsyncSieveHost, type SieveHost, type SieveProgram } from '../../../sieve/index.js';
import { message, RFC5228_MESSAGE, summary } from './helpers.js';

const ENVELOPE = { from: 'coyote@desert.example.org', to: 'roadrunner@acme.example.com' };

function program(script: string): SieveProgram {
  const r = compile(script);
  if (!r.ok) assert.fail(r.errors.map((e) => e.message).join('; '));
  return r.program;
}

/** A host over fixed facts, answering at once or (later) through promises that settle on a later turn; counts the questions. */
function host(mode: 'sync' | 'async', facts: { mailboxes?: string[]; seen?: string[]; scripts?: Record<string, string> }) {
  const asked: string[] = [];
  const seen = new Set(facts.seen ?? []);
  const later = <T>(v: T): T | Promise<T> => (mode === 'sync' ? v : new Promise<T>((resolve) => setImmediate(() => resolve(v))));
  const h: AsyncSieveHost = {
    now: () => new Date('2026-03-01T12:00:00Z'),
    mailboxExists: (name) => {
      asked.push(`mailbox ${name}`);
      return later((facts.mailboxes ?? []).includes(name));
    },
    duplicate: (id) => {
      asked.push(`duplicate ${id}`);
      const dup = seen.has(id);
      seen.add(id);
      return later(dup);
    },
    includeScript: (name) => {
      asked.push(`include ${name}`);
      return later(facts.scripts?.[name]);
    },
  };
  return { h, asked };
}

const SCRIPTS = [
  'require ["fileinto", "mailbox"]; if mailboxexists "Friends" { fileinto "Friends"; } elsif mailboxexists "Other" { fileinto "Other"; }',
  'require ["fileinto", "mailbox"]; if mailboxexists ["Friends", "Other"] { fileinto "Both"; } if mailboxexists "Nope" { discard; }',
  'require ["duplicate", "fileinto"]; if duplicate { fileinto "Dups"; } if duplicate :uniqueid "x" { discard; }',
  'require ["include", "fileinto"]; include "outer"; if true { fileinto "After"; }',
  'require ["include"]; include :optional "missing"; include "outer";',
  'require ["include", "variables"]; global "where"; include "setter"; include "user";',
  'require ["date", "relational", "fileinto"]; if currentdate :value "ge" "year" "2026" { fileinto "Now"; }',
];
const FACTS = {
  mailboxes: ['Friends'],
  seen: ['x'],
  scripts: {
    outer: 'require ["include", "imap4flags"]; addflag "$Outer"; include "inner";',
    inner: 'require ["fileinto"]; fileinto "Inner";',
    setter: 'require ["variables", "include"]; global "where"; set "where" "Set";',
    user: 'require ["variables", "include", "fileinto"]; global "where"; fileinto "${where}";',
  },
};

test('an asynchronous host gives the same actions as a synchronous one, and each question is asked once', async () => {
  for (const script of SCRIPTS) {
    const p = program(script);
    const sync = host('sync', FACTS);
    const expected = evaluate(p, message(RFC5228_MESSAGE), ENVELOPE, sync.h as SieveHost);
    const a = host('async', FACTS);
    const got = await evaluateAsync(p, message(RFC5228_MESSAGE), ENVELOPE, a.h);
    assert.deepEqual(summary(got.actions), summary(expected.actions), script);
    assert.deepEqual(got.errors, expected.errors, script);
    assert.equal(new Set(a.asked).size, a.asked.length, `${script}: ${a.asked.join(', ')}`);
    // A host that answers at once is asked exactly what evaluate asks.
    const s = host('sync', FACTS);
    assert.deepEqual(summary((await evaluateAsync(p, message(RFC5228_MESSAGE), ENVELOPE, s.h)).actions), summary(expected.actions));
  }
});

test('sibling questions are asked together, before any answer has come', async () => {
  const pending: Array<() => void> = [];
  let answered = 0;
  const calls: number[] = [];
  const h: AsyncSieveHost = {
    mailboxExists: () => {
      calls.push(answered);
      return new Promise((resolve) => pending.push(() => (answered++, resolve(true))));
    },
  };
  const p = program('require ["mailbox", "fileinto"]; if mailboxexists "A" { fileinto "A"; } if mailboxexists "B" { fileinto "B"; } if mailboxexists "C" { fileinto "C"; }');
  const run = evaluateAsync(p, message(RFC5228_MESSAGE), ENVELOPE, h);
  await new Promise((r) => setImmediate(r));
  assert.equal(pending.length, 3);
  pending.forEach((f) => f());
  const r = await run;
  assert.deepEqual(summary(r.actions), ['fileinto A', 'fileinto B', 'fileinto C']);
  assert.deepEqual(calls, [0, 0, 0]);
});

test('RFC 7352: duplicate is asked only on the real path, and an id met earlier in the same run is not a duplicate', async () => {
  const script = 'require ["duplicate", "mailbox", "fileinto"]; if mailboxexists "Lists" { if duplicate :uniqueid "m1" { discard; } } if duplicate :uniqueid "m2" { fileinto "Twice"; } if duplicate :uniqueid "m2" { fileinto "Again"; }';
  const p = program(script);
  const without = host('async', { mailboxes: [] });
  const r1 = await evaluateAsync(p, message(RFC5228_MESSAGE), ENVELOPE, without.h);
  assert.deepEqual(without.asked, ['mailbox Lists', 'duplicate m2']);
  assert.deepEqual(summary(r1.actions), ['implicit-keep']);
  const withLists = host('async', { mailboxes: ['Lists'], seen: ['m1'] });
  const r2 = await evaluateAsync(p, message(RFC5228_MESSAGE), ENVELOPE, withLists.h);
  assert.deepEqual(withLists.asked, ['mailbox Lists', 'duplicate m1', 'duplicate m2']);
  assert.deepEqual(summary(r2.actions), ['discard']);
});

test('a host that fails, or questions without end, leave the implicit keep and say why', async () => {
  const failing: AsyncSieveHost = { mailboxExists: () => Promise.reject(new Error('database is down')) };
  const r = await evaluateAsync(program('require ["mailbox", "fileinto"]; if mailboxexists "A" { fileinto "A"; }'), message(RFC5228_MESSAGE), ENVELOPE, failing);
  assert.deepEqual(summary(r.actions), ['implicit-keep']);
  assert.match(r.errors?.[0]?.message ?? '', /database is down/);

  // Each answer leads to the next question (guessing cannot batch them): one round each, more than the limit allows.
  const lines = Array.from({ length: 70 }, (_, i) => `if not mailboxexists "m${i}" { stop; }`);
  const p = program(`require ["mailbox", "fileinto"]; ${lines.join(' ')} fileinto "End";`);
  const many = host('async', { mailboxes: Array.from({ length: 70 }, (_, i) => `m${i}`) });
  const r2 = await evaluateAsync(p, message(RFC5228_MESSAGE), ENVELOPE, many.h);
  assert.deepEqual(summary(r2.actions), ['implicit-keep']);
  assert.match(r2.errors?.[0]?.message ?? '', /rounds/);
  // The same script against a host that answers at once runs to the end.
  const quick = host('sync', { mailboxes: Array.from({ length: 70 }, (_, i) => `m${i}`) });
  assert.deepEqual(summary((await evaluateAsync(p, message(RFC5228_MESSAGE), ENVELOPE, quick.h)).actions), ['fileinto End']);
});

test('the clock is read once per evaluation, whatever the rounds', async () => {
  let reads = 0;
  const h: AsyncSieveHost = {
    now: () => (reads++, new Date('2026-03-01T12:00:00Z')),
    mailboxExists: (n) => Promise.resolve(n === 'A'),
  };
  const p = program('require ["date", "mailbox", "fileinto", "relational"]; if mailboxexists "A" { if currentdate :is "year" "2026" { fileinto "A"; } }');
  assert.deepEqual(summary((await evaluateAsync(p, message(RFC5228_MESSAGE), ENVELOPE, h)).actions), ['fileinto A']);
  assert.equal(reads, 1);
});
