// Migration 5: IMAP subscriptions in a table of their own, keyed by name.
// RFC 3501 6.3.6 / RFC 9051 6.3.7: a server MUST NOT unilaterally remove a
// name from the subscription list even when no mailbox has that name any
// more, and SUBSCRIBE may name a mailbox that does not exist. A column of
// `mailboxes` could do neither (DELETE dropped the row and its subscription),
// so the list moves here, filled from the old column, which goes away.
// The account's Maildir keeps the same list in a file (maildir/subscriptions.ts)
// so `postino reindex` can rebuild it.
export const SUBSCRIPTIONS_MIGRATION = `
  CREATE TABLE subscriptions (
    account_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
  ) WITHOUT ROWID;
  INSERT OR IGNORE INTO subscriptions (account_id, name) SELECT account_id, name FROM mailboxes WHERE subscribed <> 0;
  ALTER TABLE mailboxes DROP COLUMN subscribed;
`;
