import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PublishOrder } from '../../../storage/postgres/publish-order.js';
import type { MailboxChange } from '../../../storage/ports.js';

const append = (mailboxId: number, modseq: number): MailboxChange => ({ kind: 'append', accountId: 1, mailboxId, uid: modseq, modseq, flags: [] });

test('a step acknowledged before the one ahead of it in the line waits for it; a failed step leaves the line', () => {
  const told: number[] = [];
  const order = new PublishOrder((c) => told.push((c as { modseq: number }).modseq));
  const first = order.enter([append(1, 2)]);
  const second = order.enter([append(1, 3)]);
  const third = order.enter([append(1, 4)]);
  order.committed(second);
  assert.deepEqual(told, [], 'the second waits for the first');
  order.dropped(first);
  assert.deepEqual(told, [3]);
  order.committed(third);
  assert.deepEqual(told, [3, 4]);
});

test('a move is told once it is first in the lines of both its mailboxes; other mailboxes do not wait', () => {
  const told: string[] = [];
  const order = new PublishOrder((c) => told.push(`${(c as { mailboxId: number }).mailboxId}:${(c as { modseq: number }).modseq}`));
  const intoTarget = order.enter([append(2, 5)]);
  const move = order.enter([
    { kind: 'expunge', accountId: 1, mailboxId: 1, uid: 1, modseq: 7 },
    append(2, 6),
  ]);
  const elsewhere = order.enter([append(3, 2)]);
  order.committed(move);
  order.committed(elsewhere);
  assert.deepEqual(told, ['3:2']);
  order.committed(intoTarget);
  assert.deepEqual(told, ['3:2', '2:5', '1:7', '2:6']);
  const list = order.enter([{ kind: 'mailboxes', accountId: 1 }]);
  order.committed(list);
  assert.equal(told.length, 5, 'a change of the mailbox list waits for nothing');
});
