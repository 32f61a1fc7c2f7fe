import { test } from 'node:test';
import assert from 'node:assert/strict';
import { threadByReferences, threadByOrderedSubject, renderThreads, type ThreadMessage } from '../../../src/protocol/imap/commands/thread.js';
import { baseSubject } from '../../../src/protocol/imap/commands/sort.js';

let seq = 0;
function m(id: number, subject: string, messageId: string | null, references: string[], date = id): ThreadMessage {
  const base = baseSubject(subject);
  return { id, seq: ++seq, date, subject: base, isReply: base !== subject.toLowerCase(), messageId, references };
}

test('REFERENCES: chains, branches, missing parents and subject gathering', () => {
  seq = 0;
  const msgs = [
    m(1, 'Plan', '<a>', []),
    m(2, 'Re: Plan', '<b>', ['<a>']),
    m(3, 'Re: Plan', '<c>', ['<a>']),
    m(4, 'Re: Re: Plan', '<d>', ['<a>', '<c>']),
    // parent <x> never arrived: two replies to it share a dummy root
    m(5, 'Re: Lost', '<e>', ['<x>']),
    m(6, 'Re: Lost', '<f>', ['<x>']),
    m(7, 'Other', '<g>', []),
    // same subject, no references: gathered under the original
    m(8, 'Re: Other', '<h>', []),
    m(9, 'Loner', null, []),
  ];
  assert.equal(renderThreads(threadByReferences(msgs)), '(1 (2)(3 4))((5)(6))(7 8)(9)');
});

test('REFERENCES: a loop in References does not hang or lose messages', () => {
  seq = 0;
  const msgs = [m(1, 'A', '<a>', ['<b>']), m(2, 'B', '<b>', ['<a>'])];
  const out = renderThreads(threadByReferences(msgs));
  assert.match(out, /1/);
  assert.match(out, /2/);
});

test('ORDEREDSUBJECT: grouped by base subject, first message is the parent', () => {
  seq = 0;
  const msgs = [m(1, 'B topic', null, [], 1), m(2, 'A topic', null, [], 2), m(3, 'Re: B topic', null, [], 3), m(4, 'Re: B topic', null, [], 4), m(5, 'Re: A topic', null, [], 5)];
  assert.equal(renderThreads(threadByOrderedSubject(msgs)), '(1 (3)(4))(2 5)');
});
