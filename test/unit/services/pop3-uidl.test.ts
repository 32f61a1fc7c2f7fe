// POP3's UIDL of a message: its own (an imported one) when it has one, else
// the one derived from the body's lasting name, unchanged for existing mail;
// unique in the maildrop even when a copy brought an own UIDL back beside its original.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { derivedUidl, maildropUidls, uidlOf } from '../../../src/services/pop3-backend.js';
import type { MessageRecord } from '../../../storage/ports.js';

const rec = (uid: number, extra: Partial<MessageRecord> = {}): MessageRecord => ({ mailboxId: 1, uid, modseq: uid, flags: [], internalDate: 0, size: 10, mime: null, ...extra });

test('own UIDL first; else the digest of the body name (as before); else UIDVALIDITY.UID', () => {
  const digest = createHash('sha256').update('1700000000.M1P2.host').digest('hex').slice(0, 32);
  assert.equal(uidlOf(rec(1, { bodyId: '1700000000.M1P2.host' }), 7), digest);
  assert.equal(uidlOf(rec(1, { bodyId: '1700000000.M1P2.host', pop3Uidl: '000000016b159fc8' }), 7), '000000016b159fc8');
  assert.equal(uidlOf(rec(3), 7), '7.3');
  assert.equal(derivedUidl(rec(3, { pop3Uidl: 'x' }), 7), '7.3');
});

test('a maildrop never lists one UIDL twice: a later message whose own UIDL is taken gets its derived one', () => {
  const records = [rec(1, { bodyId: 'a', pop3Uidl: 'same' }), rec(2, { bodyId: 'b' }), rec(3, { bodyId: 'c', pop3Uidl: 'same' })];
  const uidls = maildropUidls(records, 9);
  assert.equal(uidls[0], 'same');
  assert.equal(uidls[2], derivedUidl(records[2]!, 9));
  assert.equal(new Set(uidls).size, 3);
});
