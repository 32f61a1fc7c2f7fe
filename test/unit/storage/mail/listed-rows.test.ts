import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListedRows, type ListedRow } from '../../../../storage/mail/listed-rows.js';

const row = (uid: number, modseq = uid, mime: string | null = null): ListedRow => ({
  modseq,
  ref: `cur/${uid}`,
  record: { mailboxId: 1, uid, modseq, flags: [], internalDate: 0, size: 10, mime, bodyId: String(uid) },
});
const uids = (m: ReadonlyMap<number, ListedRow> | undefined) => (m === undefined ? undefined : [...m.keys()].sort((a, b) => a - b));

test('a listing replaces what was kept of its range and keeps the rest', () => {
  const kept = new ListedRows(100, 1_000_000, 4);
  kept.keep(1, 7, 1, 10, [row(1), row(2), row(3)]);
  kept.keep(1, 7, 2, 2, []);
  assert.deepEqual(uids(kept.rows(1, 7)), [1, 3]);
  kept.keep(1, 7, 3, 5, [row(4)]);
  assert.deepEqual(uids(kept.rows(1, 7)), [1, 4]);
  assert.equal(kept.ref(1, 4), 'cur/4');
  kept.forget(1, 4);
  assert.equal(kept.ref(1, 4), undefined);
});

test('another UIDVALIDITY drops what was kept of the mailbox', () => {
  const kept = new ListedRows(100, 1_000_000, 4);
  kept.keep(1, 7, 1, 10, [row(1)]);
  assert.equal(kept.rows(1, 9), undefined);
  assert.equal(kept.rows(1, 7), undefined);
  kept.keep(1, 7, 1, 10, [row(1)]);
  kept.keep(1, 9, 5, 5, [row(5)]);
  assert.deepEqual(uids(kept.rows(1, 9)), [5]);
});

test('bounded by rows, characters and mailboxes, the least recently listed mailbox going first', () => {
  const kept = new ListedRows(10, 1_000_000, 2);
  kept.keep(1, 7, 1, 99, [row(1), row(2)]);
  kept.keep(2, 7, 1, 99, [row(1)]);
  kept.keep(3, 7, 1, 99, [row(1)]);
  assert.equal(kept.rows(1, 7), undefined);
  assert.deepEqual(uids(kept.rows(3, 7)), [1]);
  // Too many rows for one listing: nothing of it kept.
  kept.keep(2, 7, 1, 99, Array.from({ length: 11 }, (_, i) => row(i + 1)));
  assert.equal(kept.rows(2, 7), undefined);
  kept.keep(2, 7, 1, 99, Array.from({ length: 10 }, (_, i) => row(i + 1)));
  assert.equal(kept.rows(3, 7), undefined, 'rows over the bound: the older mailbox goes');
  assert.equal(kept.rows(2, 7)?.size, 10);

  const small = new ListedRows(100, 2_000, 4);
  small.keep(1, 7, 1, 99, [row(1, 1, 'x'.repeat(1000))]);
  small.keep(2, 7, 1, 99, [row(1, 1, 'y'.repeat(1000))]);
  assert.equal(small.rows(1, 7), undefined, 'characters over the bound: the older mailbox goes');
  small.keep(3, 7, 1, 99, [row(1, 1, 'z'.repeat(5000))]);
  assert.equal(small.rows(3, 7), undefined, 'a listing over the bound alone is not kept');
  assert.equal(small.rows(2, 7)?.size, 1);
});
