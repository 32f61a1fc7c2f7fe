// NOTIFY (RFC 5465) against a scratch Dovecot 2.3: the same conversations,
// one session asking to be notified and another changing things, must get
// the same answers from both (tagged status and response codes, STATUS and
// LIST notifications). Dovecot notifies other sessions asynchronously, so
// the notified session waits a moment before the NOOP that collects them.
// Where Dovecot departs from RFC 5465 we follow Dovecot: BADEVENT names the
// refused event instead of listing the supported ones, MessageNew without
// MessageExpunge (and FlagChange alone) is accepted, not BAD.
// Dovecot must be installed (dovecot-imapd): its absence is a failure.
import { test } from 'node:test';
import { differentialPeers, type Step } from '../support/imap-differential.js';

const { compare } = differentialPeers();

const MSG = 'Subject: notify me\r\n\r\nHello.\r\n';
const append = (box: string, s = 1): Step => ({ s, cmd: `APPEND ${box}`, literal: MSG, quiet: true });
/** The notified session collects what it was told. */
const collect = (pick: RegExp[] = [/^\* (STATUS|LIST|OK \[NOTIFICATIONOVERFLOW)/]): Step => ({ s: 0, cmd: 'NOOP', pick, delayMs: 1500 });


test('NOTIFY syntax: BADEVENT for AnnotationChange, BAD for malformed commands, OK for NONE', async () => {
  await compare({
    name: 'syntax',
    steps: [
      { cmd: 'NOTIFY NONE' },
      { cmd: 'NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))' },
      { cmd: 'NOOP', quiet: true },
      { cmd: 'NOTIFY SET (personal (NoSuchEvent))' },
      { cmd: 'NOOP', quiet: true },
      { cmd: 'NOTIFY SET (nowhere (MessageNew MessageExpunge))' },
      { cmd: 'NOOP', quiet: true },
      { cmd: 'NOTIFY SET (personal (MessageNew))' },
      { cmd: 'NOOP', quiet: true },
      { cmd: 'NOTIFY SET (personal (FlagChange))' },
      { cmd: 'NOOP', quiet: true },
      { cmd: 'NOTIFY SET (personal (MessageNew (UID) MessageExpunge))' },
      { cmd: 'NOOP', quiet: true },
      { cmd: 'NOTIFY SET (personal ())' },
      { cmd: 'NOOP', quiet: true },
      { cmd: 'NOTIFY SET (selected NONE) (personal (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange))' },
      { cmd: 'NOTIFY NONE' },
    ],
  });
});

test('NOTIFY SET STATUS and STATUS notifications for a mailbox that is not selected', async () => {
  await compare({
    name: 'status',
    sessions: 2,
    steps: [
      { s: 1, cmd: 'CREATE NotifyBox', quiet: true },
      append('NotifyBox'),
      { s: 0, cmd: 'NOTIFY SET STATUS (mailboxes NotifyBox (MessageNew MessageExpunge FlagChange))', pick: [/^\* STATUS/] },
      append('NotifyBox'),
      collect(),
      { s: 1, cmd: 'SELECT NotifyBox', quiet: true },
      { s: 1, cmd: 'STORE 1 +FLAGS (\\Seen)', quiet: true },
      collect(),
      { s: 1, cmd: 'STORE 2 +FLAGS (\\Flagged)', quiet: true },
      collect(),
      { s: 1, cmd: 'STORE 2 +FLAGS (\\Deleted)', quiet: true },
      collect(),
      { s: 1, cmd: 'EXPUNGE', quiet: true },
      collect(),
      // Another mailbox is not watched.
      append('INBOX'),
      collect(),
      { s: 1, cmd: 'CLOSE', quiet: true },
      { s: 1, cmd: 'DELETE NotifyBox', quiet: true },
    ],
  });
});

test('NOTIFY MailboxName and SubscriptionChange: LIST notifications', async () => {
  await compare({
    name: 'names',
    sessions: 2,
    steps: [
      { s: 0, cmd: 'NOTIFY SET (personal (MailboxName SubscriptionChange))' },
      { s: 1, cmd: 'CREATE Created', quiet: true },
      collect(),
      { s: 1, cmd: 'RENAME Created Moved', quiet: true },
      collect(),
      { s: 1, cmd: 'SUBSCRIBE Moved', quiet: true },
      collect(),
      { s: 1, cmd: 'UNSUBSCRIBE Moved', quiet: true },
      collect(),
      { s: 1, cmd: 'DELETE Moved', quiet: true },
      collect(),
    ],
  });
});

test('NOTIFY filters: SUBTREE, MAILBOXES, SUBSCRIBED, INBOXES NONE, and which group decides for a mailbox two of them take', async () => {
  await compare({
    name: 'filters',
    sessions: 2,
    steps: [
      ...['Tree', 'Tree/Leaf', 'Single', 'Subbed', 'Ignored'].map((m): Step => ({ s: 1, cmd: `CREATE ${m}`, quiet: true })),
      { s: 1, cmd: 'SUBSCRIBE Subbed', quiet: true },
      { s: 1, cmd: 'UNSUBSCRIBE Ignored', quiet: true },
      { s: 1, cmd: 'UNSUBSCRIBE Tree/Leaf', quiet: true },
      // Not empty: Dovecot gives an empty new Maildir folder a new UIDVALIDITY at its first message.
      ...['Tree/Leaf', 'Single', 'Subbed', 'Ignored'].map((m) => append(m)),
      { s: 0, cmd: 'NOTIFY SET (inboxes NONE) (subtree Tree (MessageNew MessageExpunge)) (mailboxes Single (MessageNew MessageExpunge)) (subscribed (MessageNew MessageExpunge))' },
      ...['Tree/Leaf', 'Single', 'Subbed', 'Ignored', 'INBOX'].map((m) => append(m)),
      collect(),
      ...['Tree/Leaf', 'Tree', 'Single', 'Subbed', 'Ignored'].map((m): Step => ({ s: 1, cmd: `DELETE ${m}`, quiet: true })),
      { s: 1, cmd: 'UNSUBSCRIBE Subbed', quiet: true },
    ],
  });
});

test('NOTIFY SELECTED with a fetch-att list: the new message of the selected mailbox comes with EXISTS and FETCH', async () => {
  await compare({
    name: 'selected',
    sessions: 2,
    steps: [
      { s: 1, cmd: 'CREATE Chosen', quiet: true },
      { s: 0, cmd: 'SELECT Chosen', quiet: true },
      { s: 0, cmd: 'NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)]) MessageExpunge))' },
      append('Chosen'),
      { s: 0, cmd: 'NOOP', pick: [/^\* \d+ (EXISTS|FETCH)/], delayMs: 1500 },
      { s: 0, cmd: 'CLOSE', quiet: true },
      { s: 1, cmd: 'DELETE Chosen', quiet: true },
    ],
  });
});

test('NOTIFY STATUS items: all at first, then what moved; HIGHESTMODSEQ with CONDSTORE, which NOTIFY SET STATUS turns on', async () => {
  for (const [name, pre] of [
    ['condstore', [{ s: 0, cmd: 'ENABLE CONDSTORE' }]],
    ['plain', []],
    ['status', []],
  ] as Array<[string, Step[]]>) {
    await compare({
      name: `items ${name}`,
      sessions: 2,
      steps: [
        { s: 1, cmd: `CREATE Items${name}`, quiet: true },
        // Not empty: Dovecot gives an empty new Maildir folder a new UIDVALIDITY at its first message.
        append(`Items${name}`),
        ...pre,
        { s: 0, cmd: `NOTIFY SET ${name === 'status' ? 'STATUS ' : ''}(mailboxes Items${name} (MessageNew MessageExpunge FlagChange))` },
        append(`Items${name}`),
        collect(),
        append(`Items${name}`),
        collect(),
        { s: 1, cmd: `SELECT Items${name}`, quiet: true },
        { s: 1, cmd: 'STORE 1 +FLAGS (\\Flagged)', quiet: true },
        collect(),
        { s: 1, cmd: 'STORE 1 +FLAGS (\\Seen)', quiet: true },
        collect(),
        { s: 1, cmd: 'CLOSE', quiet: true },
        { s: 1, cmd: `DELETE Items${name}`, quiet: true },
      ],
    });
  }
});
