// The sequence map and the timing rules of RFC 3501 7.4.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SelectedMailbox } from '../../../src/protocol/imap/selected.js';
import { compileResponse, type ImapResponse } from '../../../src/protocol/imap/response.js';

const info = { id: 9, accountId: 1, name: 'INBOX', uidValidity: 77, uidNext: 20, highestModseq: 100, specialUse: null };
const text = (rs: ImapResponse[]) => rs.map((r) => Buffer.concat(compileResponse(r)).toString('latin1')).join('');
const append = (uid: number, modseq: number) => ({ kind: 'append' as const, accountId: 1, mailboxId: 9, uid, modseq, flags: [] });
const expunge = (uid: number, modseq: number) => ({ kind: 'expunge' as const, accountId: 1, mailboxId: 9, uid, modseq });
const flags = (uid: number, modseq: number, f: string[]) => ({ kind: 'flags' as const, accountId: 1, mailboxId: 9, uid, modseq, flags: f });

test('seq <-> UID map', () => {
  const s = new SelectedMailbox(info, [3, 5, 8], false);
  assert.equal(s.exists, 3);
  assert.equal(s.seqOf(5), 2);
  assert.equal(s.seqOf(4), 0);
  assert.equal(s.uidAt(3), 8);
});

test('expunges wait while numbers must not move; EXISTS and flag changes need not', () => {
  const s = new SelectedMailbox(info, [3, 5, 8], false);
  s.enqueue(expunge(5, 101));
  s.enqueue(append(12, 102));
  s.enqueue(flags(8, 103, ['\\Seen']));
  assert.equal(text(s.flush(false, false)), '* 4 EXISTS\r\n* 3 FETCH (UID 8 FLAGS (\\Seen))\r\n');
  assert.deepEqual(s.uids, [3, 5, 8, 12], 'the expunged message keeps its number for now');
  assert.ok(s.hasPending);
  assert.equal(text(s.flush(true, false)), '* 2 EXPUNGE\r\n');
  assert.deepEqual(s.uids, [3, 8, 12]);
  assert.ok(!s.hasPending);
});

test('EXISTS is sent before an EXPUNGE that follows an append; several expunges renumber as they go', () => {
  const s = new SelectedMailbox(info, [1, 2, 3, 4], false);
  s.enqueue(append(5, 101));
  s.enqueue(expunge(2, 102));
  s.enqueue(expunge(3, 103));
  assert.equal(text(s.flush(true, false)), '* 5 EXISTS\r\n* 2 EXPUNGE\r\n* 2 EXPUNGE\r\n');
  assert.deepEqual(s.uids, [1, 4, 5]);
});

test('only the last flag change of a message is sent; own STOREs are not echoed; other mailboxes ignored', () => {
  const s = new SelectedMailbox(info, [1, 2], false);
  s.enqueue(flags(1, 101, ['\\Seen']));
  s.enqueue(flags(1, 102, ['\\Seen', '\\Flagged']));
  s.enqueue(flags(2, 103, ['\\Deleted']));
  s.enqueue({ ...flags(2, 104, ['x']), mailboxId: 10 });
  s.markReported(2, 103);
  assert.equal(text(s.flush(true, true)), '* 1 FETCH (UID 1 FLAGS (\\Seen \\Flagged) MODSEQ (102))\r\n');
  assert.equal(s.highestModseq, 103);
});

test('a change to an expunged-then-announced message is dropped; duplicate appends are ignored', () => {
  const s = new SelectedMailbox(info, [1, 2], false);
  s.enqueue(append(2, 101));
  s.enqueue(expunge(1, 102));
  s.enqueue(flags(1, 103, ['\\Seen']));
  assert.equal(text(s.flush(true, false)), '* 1 EXPUNGE\r\n');
  s.enqueue(append(3, 104));
  s.dropPending();
  assert.equal(text(s.flush(true, false)), '');
  assert.deepEqual(s.uids, [2]);
});

test('with QRESYNC, expunges are one VANISHED UID set, still after any EXISTS they follow', () => {
  const s = new SelectedMailbox(info, [1, 2, 3, 4], false);
  s.enqueue(expunge(2, 101));
  s.enqueue(expunge(3, 102));
  s.enqueue(append(5, 103));
  s.enqueue(expunge(5, 104));
  assert.equal(text(s.flush(true, true, true)), '* VANISHED 2:3\r\n* 3 EXISTS\r\n* VANISHED 5\r\n');
  assert.deepEqual(s.uids, [1, 4]);
});
