// Migration 8: account and mailbox ids are never handed out twice.
//
// `INTEGER PRIMARY KEY` alone gives a new row max(id) + 1, so removing the
// newest account and adding another gave the new one the old id, and
// everything that knew the old id (a server's caches, an IMAP session, the
// change feed, vacation and duplicate memory) then reached the new account:
// mail for one user landed in another's Maildir. AUTOINCREMENT keeps the
// highest id ever used in sqlite_sequence, across processes and restarts.
//
// SQLite cannot add AUTOINCREMENT to a table, so both are rebuilt as its
// documentation says (make new, copy, drop old, rename new), which needs
// foreign key enforcement off: migrate() runs every migration so and checks
// the foreign keys before committing. Ids are copied unchanged. The
// sequence starts above every id any table still mentions, including rows
// a removed account or mailbox left behind, so none of those is ever
// attached to a newcomer.
export const IDS_MIGRATION = `
  CREATE TABLE accounts_v6 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    address TEXT NOT NULL UNIQUE COLLATE NOCASE,
    domain TEXT NOT NULL REFERENCES domains(name),
    localpart TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    scram_sha256 TEXT,
    quota INTEGER,
    disabled INTEGER NOT NULL DEFAULT 0,
    used_bytes INTEGER NOT NULL DEFAULT 0,
    used_messages INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL
  );
  INSERT INTO accounts_v6 (id, address, domain, localpart, password_hash, scram_sha256, quota, disabled, used_bytes, used_messages, created)
    SELECT id, address, domain, localpart, password_hash, scram_sha256, quota, disabled, used_bytes, used_messages, created FROM accounts;
  DROP TABLE accounts;
  ALTER TABLE accounts_v6 RENAME TO accounts;

  CREATE TABLE mailboxes_v6 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    dir TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uidnext INTEGER NOT NULL DEFAULT 1,
    highestmodseq INTEGER NOT NULL DEFAULT 1,
    special_use TEXT,
    keywords TEXT NOT NULL DEFAULT '[]',
    UNIQUE (account_id, name)
  );
  INSERT INTO mailboxes_v6 (id, account_id, name, dir, uidvalidity, uidnext, highestmodseq, special_use, keywords)
    SELECT id, account_id, name, dir, uidvalidity, uidnext, highestmodseq, special_use, keywords FROM mailboxes;
  DROP TABLE mailboxes;
  ALTER TABLE mailboxes_v6 RENAME TO mailboxes;

  INSERT INTO sqlite_sequence (name, seq) SELECT 'accounts', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'accounts');
  UPDATE sqlite_sequence SET seq = max(
    seq,
    coalesce((SELECT max(id) FROM accounts), 0),
    coalesce((SELECT max(account_id) FROM mailboxes), 0),
    coalesce((SELECT max(account_id) FROM sieve_scripts), 0),
    coalesce((SELECT max(account_id) FROM subscriptions), 0),
    coalesce((SELECT max(account_id) FROM vacation_log), 0),
    coalesce((SELECT max(account_id) FROM duplicate_log), 0),
    coalesce((SELECT max(account_id) FROM uidvalidity_high), 0)
  ) WHERE name = 'accounts';

  INSERT INTO sqlite_sequence (name, seq) SELECT 'mailboxes', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'mailboxes');
  UPDATE sqlite_sequence SET seq = max(
    seq,
    coalesce((SELECT max(id) FROM mailboxes), 0),
    coalesce((SELECT max(mailbox_id) FROM messages), 0),
    coalesce((SELECT max(mailbox_id) FROM expunged), 0),
    coalesce((SELECT max(mailbox_id) FROM mailbox_recent), 0)
  ) WHERE name = 'mailboxes';
`;
