// NOTIFY arguments (RFC 5465 8) as the parser tokenises them: filters,
// mailbox names, events, MessageNew's fetch-att, NONE, and the bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommand, ImapParseError } from '../../../src/protocol/imap/parser.js';
import { parseNotify, badEventCode, NOTIFY_LIMITS, NotifyState, type NotifyHost } from '../../../src/protocol/imap/notify.js';
import type { ImapBackend, ImapUser } from '../../../src/protocol/imap/backend.js';

const notify = (rest: string) => parseNotify(parseCommand({ segments: [`a NOTIFY ${rest}`], literals: [] }).args, (w) => w);

test('NOTIFY NONE and NOTIFY SET [STATUS] with every filter', () => {
  assert.equal(notify('NONE'), undefined);
  const spec = notify('SET STATUS (selected (MessageNew (UID FLAGS) MessageExpunge)) (subtree (Lists "Other") (MessageNew MessageExpunge)) (mailboxes misc (MessageNew)) (inboxes NONE) (personal (MailboxName SubscriptionChange)) (subscribed (FlagChange))')!;
  assert.equal(spec.status, true);
  assert.equal(spec.unsupported, undefined);
  assert.deepEqual(spec.groups.map((g) => g.filter), ['SELECTED', 'SUBTREE', 'MAILBOXES', 'INBOXES', 'PERSONAL', 'SUBSCRIBED']);
  assert.deepEqual(spec.groups[1]!.names, ['Lists', 'Other']);
  assert.deepEqual(spec.groups[2]!.names, ['misc']);
  assert.equal(spec.groups[0]!.fetchAtts?.length, 2);
  assert.equal(spec.groups[3]!.events.size, 0);
  assert.deepEqual([...spec.groups[4]!.events], ['MailboxName', 'SubscriptionChange']);
});

test('events Postino cannot report: the first is named for BADEVENT', () => {
  assert.equal(notify('SET (personal (MessageNew MessageExpunge AnnotationChange ServerMetadataChange))')!.unsupported, 'AnnotationChange');
  assert.equal(badEventCode('AnnotationChange'), 'BADEVENT AnnotationChange');
});

test('malformed NOTIFY commands are ImapParseError (BAD)', () => {
  for (const bad of ['', 'SET', 'NONE x', 'BOGUS', 'SET (personal)', 'SET (personal ())', 'SET (nowhere NONE)', 'SET (personal (NoSuch))', 'SET (subtree NONE)', 'SET (personal (MessageNew (UID)))', 'SET (selected NONE) (selected-delayed NONE)', 'SET (personal NONE extra)']) {
    assert.throws(() => notify(bad), ImapParseError, bad);
  }
});

test('bounds: groups and mailbox names', () => {
  assert.throws(() => notify(`SET ${'(personal NONE) '.repeat(NOTIFY_LIMITS.maxGroups + 1)}`), ImapParseError);
  const names = Array.from({ length: NOTIFY_LIMITS.maxNames + 1 }, (_, i) => `m${i}`).join(' ');
  assert.throws(() => notify(`SET (mailboxes (${names}) NONE)`), ImapParseError);
});

test('changes the feed may have missed: every mailbox is looked at again, and STATUS goes only for those whose counters moved', async () => {
  const mailbox = (id: number, name: string, messages: number) => ({ id, accountId: 1, name, uidValidity: 5, uidNext: messages + 1, highestModseq: messages, specialUse: null, messages, unseen: messages, size: 0 });
  let boxes = [mailbox(1, 'INBOX', 2), mailbox(2, 'Lists', 1), mailbox(3, 'Sel', 0)];
  const backend = {
    listMailboxes: async () => boxes,
    listSubscriptions: async () => [],
    getMailboxById: async (_u: unknown, id: number) => boxes.find((b) => b.id === id),
  } as unknown as ImapBackend;
  const host: NotifyHost = { backend, user: { accountId: 1, address: 'u@x.test' } as ImapUser, selectedId: () => 3, encodeName: (n) => n, condstore: () => false };
  const state = await NotifyState.open(notify('SET (personal (MessageNew MessageExpunge FlagChange))')!, host);
  // Another node appended to Lists while this node's feed did not listen (and to the selected mailbox: its view catches up itself).
  boxes = [mailbox(1, 'INBOX', 2), mailbox(2, 'Lists', 2), mailbox(3, 'Sel', 4)];
  assert.equal(state.onMissed(), true);
  assert.equal(state.pending, true);
  const out = (await state.take()).map((r) => JSON.stringify(r));
  assert.equal(out.length, 1, out.join('\n'));
  assert.match(out[0]!, /"Lists".*"MESSAGES",2,"UIDNEXT",3,"UNSEEN",2/);
  assert.equal(state.pending, false);
});
