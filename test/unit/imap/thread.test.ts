// THREAD=REFERENCES and THREAD=ORDEREDSUBJECT (RFC 5256 section 3), step by
// step, on plain message data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderThreads, threadByOrderedSubject, threadByReferences, type ThreadMessage } from '../../../src/protocol/imap/threading.js';

interface Spec {
  subject?: string | null;
  id?: string | null;
  refs?: string[];
  /** Sent date in hours. */
  date?: number;
}

/** Messages numbered 1..n in arrival order; dates default to the number (in hours). */
function msgs(...specs: Spec[]): ThreadMessage[] {
  return specs.map((s, i) => ({
    id: i + 1,
    uid: i + 1,
    date: (s.date ?? i + 1) * 3600,
    subject: s.subject === undefined ? `subject ${i + 1}` : s.subject,
    messageId: s.id === undefined ? `m${i + 1}@x` : s.id,
    references: s.refs ?? [],
  }));
}

const refs = (...m: ThreadMessage[][]) => renderThreads(threadByReferences(m.flat()));

test('step 1: References link a chain; the last reference is the parent', () => {
  assert.equal(refs(msgs({}, { refs: ['m1@x'] }, { refs: ['m1@x', 'm2@x'] })), '(1 2 3)');
  // Siblings under one parent, each in its own sub-list.
  assert.equal(refs(msgs({}, { refs: ['m1@x'] }, { refs: ['m1@x'] })), '(1 (2)(3))');
  // A sub-thread: (1 (2 3)(4)).
  assert.equal(refs(msgs({}, { refs: ['m1@x'] }, { refs: ['m1@x', 'm2@x'] }, { refs: ['m1@x'] })), '(1 (2 3)(4))');
});

test('step 1: Message-IDs compare exactly; a duplicate Message-ID counts as none', () => {
  assert.equal(refs(msgs({ id: 'CaseID@e' }, { refs: ['caseid@e'] })), '(1)(2)');
  const dup = msgs({ id: 'dup@d' }, { id: 'dup@d' }, { refs: ['dup@d'] });
  assert.equal(refs(dup), '(1 3)(2)');
  // A message without Message-ID still threads under its parent.
  assert.equal(refs(msgs({}, { id: null, refs: ['m1@x'] })), '(1 2)');
});

test('step 1: a link that would close a loop is not made, and nothing is lost', () => {
  assert.equal(refs(msgs({ id: 'a@l', refs: ['b@l'] }, { id: 'b@l', refs: ['a@l'] })), '(2 1)');
  assert.equal(refs(msgs({ id: 'a@l', refs: ['a@l'] })), '(1)');
  const three = msgs({ id: 'a@l', refs: ['b@l'] }, { id: 'b@l', refs: ['a@l'] }, { id: 'c@l', refs: ['a@l', 'b@l', 'a@l'] });
  assert.equal(refs(three), '(2 1 3)');
});

test('step 1.B: the message\'s own References break a link an earlier message implied', () => {
  // 2 says its parent y is a child of 1; 3, which is y, has no References: it becomes a root.
  assert.equal(refs(msgs({ id: 'x@x' }, { refs: ['x@x', 'y@x'] }, { id: 'y@x' })), '(1)(3 2)');
  // 3 (y) names its own parent, 4's z, instead of x.
  assert.equal(refs(msgs({ id: 'x@x' }, { refs: ['x@x', 'y@x'] }, { id: 'y@x', refs: ['z@x'] }, { id: 'z@x' })), '(1)(4 3 2)');
});

test('steps 2-4: dummies for missing parents are pruned, an only child promoted, a root dummy kept for two', () => {
  // One reply to a missing message: the reply is the root.
  assert.equal(refs(msgs({ refs: ['lost@x'] })), '(1)');
  // Two replies to a missing message: a dummy root holds them.
  assert.equal(refs(msgs({ refs: ['lost@x'] }, { refs: ['lost@x'] })), '((1)(2))');
  // A missing message in the middle of a chain: its child moves up to the grandparent.
  assert.equal(refs(msgs({}, { refs: ['m1@x', 'lost@x'] })), '(1 2)');
  // Dummies all the way down to one message.
  assert.equal(refs(msgs({ refs: ['a@x', 'b@x', 'c@x'] })), '(1)');
});

test('step 4: siblings and threads ordered by sent date, ties by arrival', () => {
  const m = msgs({ date: 10 }, { refs: ['m1@x'], date: 14 }, { refs: ['m1@x'], date: 12 }, { refs: ['m1@x'], date: 12 }, { date: 1 });
  assert.equal(refs(m), '(5)(1 (3)(4)(2))');
  // A dummy root sorts by its earliest child.
  const d = msgs({ date: 5 }, { refs: ['lost@x'], date: 9 }, { refs: ['lost@x'], date: 3 });
  assert.equal(refs(d), '((3)(2))(1)');
});

test('step 5: roots with one base subject are gathered as RFC 5256 5.B/5.C says', () => {
  // A reply without References goes under the original.
  assert.equal(refs(msgs({ subject: 'Plan' }, { subject: 'Re: Plan' })), '(1 2)');
  // The reply is older than the original: it still goes under it.
  assert.equal(refs(msgs({ subject: 'Re: Plan', date: 1 }, { subject: 'Plan', date: 2 })), '(2 1)');
  // Two originals with one subject: a new dummy over both.
  assert.equal(refs(msgs({ subject: 'Budget' }, { subject: 'Budget' })), '((1)(2))');
  // Two replies: a dummy too.
  assert.equal(refs(msgs({ subject: 'Re: Budget' }, { subject: 'Fwd: Budget' })), '((1)(2))');
  // A dummy root in the table takes a message root as its child (no new level).
  const lunch = msgs({ subject: '[list] Lunch', date: 1 }, { subject: 'Re: Lunch', refs: ['lost@x'], date: 2 }, { subject: 'Re: Lunch', refs: ['lost@x'], date: 3 });
  assert.equal(refs(lunch), '((1)(2)(3))');
  // Two dummies: their children become siblings.
  const two = msgs({ subject: 'Re: X', refs: ['a@x'] }, { subject: 'Re: X', refs: ['a@x'] }, { subject: 'Re: X', refs: ['b@x'] }, { subject: 'Re: X', refs: ['b@x'] });
  assert.equal(refs(two), '((1)(2)(3)(4))');
  // Empty base subjects and missing Subject fields are never gathered.
  assert.equal(refs(msgs({ subject: 'Re:' }, { subject: null }, { subject: '' }, { subject: 'Re: (fwd)' })), '(1)(2)(3)(4)');
});

test('the issue case: (3 2)(1), not (1 3 2): empty base subjects do not gather', () => {
  const m = msgs(
    { subject: 'Re:', date: 20 },
    { subject: 'Re: Re: Re:', refs: ['m3@x'], date: 30 },
    { subject: 'Re: Re:', date: 10 },
  );
  assert.equal(refs(m), '(3 2)(1)');
});

test('step 6: threads re-sorted after gathering', () => {
  const m = msgs({ subject: 'B', date: 5 }, { subject: 'A', date: 3 }, { subject: 'Re: B', date: 1 });
  assert.equal(refs(m), '(2)(1 3)');
});

test('a 100,000-message reply chain renders without recursion', () => {
  const n = 100_000;
  const chain: ThreadMessage[] = [];
  for (let i = 1; i <= n; i++) chain.push({ id: i, uid: i, date: i, subject: 'x', messageId: `c${i}@x`, references: i === 1 ? [] : [`c${i - 1}@x`] });
  const out = renderThreads(threadByReferences(chain));
  assert.ok(out.startsWith('(1 2 3 '));
  assert.ok(out.endsWith(` ${n})`));
  // And one long References header naming the whole chain.
  const long: ThreadMessage[] = [{ id: 1, uid: 1, date: 1, subject: 'y', messageId: 'last@x', references: chain.map((c) => c.messageId!) }];
  assert.equal(renderThreads(threadByReferences(long)), '(1)');
});

test('ORDEREDSUBJECT: grouped by base subject, sorted by date inside, threads by their first date', () => {
  const m = msgs(
    { subject: 'B topic', date: 1 },
    { subject: 'A topic', date: 2 },
    { subject: 'Re: B topic', date: 4 },
    { subject: 'RE: b TOPIC', date: 3 },
    { subject: 'Re: A topic', date: 5 },
    { subject: 'Lone', date: 0 },
    { subject: null, date: 7 },
    { subject: 'Re:', date: 6 },
  );
  assert.equal(renderThreads(threadByOrderedSubject(m)), '(6)(1 (4)(3))(2 5)(8 7)');
  assert.equal(renderThreads(threadByOrderedSubject([])), '');
});
