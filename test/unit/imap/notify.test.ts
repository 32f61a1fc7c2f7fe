// NOTIFY arguments (RFC 5465 8) as the parser tokenises them: filters,
// mailbox names, events, MessageNew's fetch-att, NONE, and the bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommand, ImapParseError } from '../../../src/protocol/imap/parser.js';
import { parseNotify, badEventCode, NOTIFY_LIMITS } from '../../../src/protocol/imap/notify.js';

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
