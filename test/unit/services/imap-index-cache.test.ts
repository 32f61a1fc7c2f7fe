// The IMAP backend keeps parsed copies of stored indexes: ten sessions
// fetching one ENVELOPE parse its JSON once. A copy is handed out only for
// the very JSON text it came from, so a key that comes back for another
// message (a reused mailbox id and UID) gets that message's index.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreImapBackend } from '../../../src/services/imap-backend.js';
import { indexMessageJson } from '../../../mime/index.js';
import type { ImapBackendStores } from '../../../src/services/imap-backend.js';
import type { Authenticator } from '../../../src/auth/authenticator.js';
import type { MessageRecord } from '../../../storage/ports.js';

const backend = new StoreImapBackend({} as ImapBackendStores, {} as Authenticator, 1 << 20);
const user = { accountId: 1, address: 'ann@example.test' } as Parameters<StoreImapBackend['messageIndex']>[0];
const rec = (uid: number, mime: string | null): MessageRecord => ({ mailboxId: 7, uid, modseq: uid, flags: [], internalDate: 0, size: 10, mime });
const message = (subject: string) => Buffer.from(`From: a@example.test\r\nSubject: ${subject}\r\n\r\nbody\r\n`);

test('the same stored JSON is parsed once and handed out again', () => {
  const json = indexMessageJson(message('one'));
  const a = backend.messageIndex(user, rec(1, json));
  const b = backend.messageIndex(user, rec(1, `${json}`));
  assert.ok(a);
  assert.equal(a, b);
  assert.equal(a.envelope.subject, 'one');
});

test('another JSON under the same mailbox id and UID gets its own index, never the cached one', () => {
  backend.messageIndex(user, rec(2, indexMessageJson(message('old'))));
  const fresh = backend.messageIndex(user, rec(2, indexMessageJson(message('new'))));
  assert.equal(fresh?.envelope.subject, 'new');
});

test('no stored index, or one that does not parse: none from the cache (the body is indexed instead)', () => {
  assert.equal(backend.messageIndex(user, rec(3, null)), undefined);
  assert.equal(backend.messageIndex(user, rec(4, '{not json')), undefined);
  const raw = message('from the body');
  assert.equal(backend.messageIndex(user, rec(5, null), raw)?.envelope.subject, 'from the body');
});

test('bounded: many messages do not grow it past its limits, and early entries still answer correctly', () => {
  for (let uid = 100; uid < 6000; uid++) backend.messageIndex(user, rec(uid, indexMessageJson(message(`m${uid}`))));
  assert.equal(backend.messageIndex(user, rec(100, indexMessageJson(message('m100'))))?.envelope.subject, 'm100');
});
