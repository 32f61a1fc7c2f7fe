// The SQLite index's schema steps (storage/index/database.ts applies them;
// PRAGMA user_version records how many a database has). Listed with the
// PostgreSQL steps in storage/schema/index.ts, which holds the rules both
// runners follow. Never edit a released step: append a new one.
import type { SchemaStep } from './index.js';
import { RECENT_MIGRATION } from './sqlite/migration-recent.js';
import { SUBSCRIPTIONS_MIGRATION } from './sqlite/migration-subscriptions.js';
import { IDS_MIGRATION } from './sqlite/migration-ids.js';
import { METADATA_MIGRATION } from './sqlite/migration-metadata.js';
import { ADMIN_MIGRATION } from './sqlite/migration-admin.js';

/**
 * The flag tests that partial indexes (migration 10) are built on. A query
 * uses such an index only when its WHERE clause has the same term, so the
 * queries are written with these constants, never by hand.
 */
export const IS_DELETED = "(' ' || flags || ' ') LIKE '% \\Deleted %'";
export const IS_UNSEEN = "(' ' || flags || ' ') NOT LIKE '% \\Seen %'";

const steps: SchemaStep[] = [];

// 1: domains, accounts, aliases, mailboxes, messages, expunge log, scripts.
steps.push({
  version: 1,
  name: 'domains, accounts, aliases, mailboxes, messages, expunge log, scripts',
  sql: `
  CREATE TABLE domains (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    created INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
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

  CREATE TABLE alias_targets (
    address TEXT NOT NULL COLLATE NOCASE,
    target TEXT NOT NULL COLLATE NOCASE,
    domain TEXT NOT NULL REFERENCES domains(name),
    PRIMARY KEY (address, target)
  ) WITHOUT ROWID;

  CREATE TABLE mailboxes (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    dir TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uidnext INTEGER NOT NULL DEFAULT 1,
    highestmodseq INTEGER NOT NULL DEFAULT 1,
    special_use TEXT,
    subscribed INTEGER NOT NULL DEFAULT 1,
    keywords TEXT NOT NULL DEFAULT '[]',
    UNIQUE (account_id, name)
  );

  CREATE TABLE messages (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),
    uid INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    flags TEXT NOT NULL DEFAULT '',
    internal_date INTEGER NOT NULL,
    size INTEGER NOT NULL,
    path TEXT NOT NULL,
    mime TEXT,
    PRIMARY KEY (mailbox_id, uid)
  ) WITHOUT ROWID;
  CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);

  CREATE TABLE expunged (
    mailbox_id INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
  ) WITHOUT ROWID;

  CREATE TABLE sieve_scripts (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
  ) WITHOUT ROWID;
  `,
});

// 2: what delivery remembers between messages: vacation replies sent
// (RFC 5230: once per period per sender) and duplicate ids (RFC 7352).
steps.push({ version: 2, name: 'delivery memory: vacation replies and duplicate ids', sql: `
  CREATE TABLE vacation_log (
    account_id INTEGER NOT NULL,
    sender TEXT NOT NULL COLLATE NOCASE,
    handle TEXT NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (account_id, sender, handle)
  ) WITHOUT ROWID;

  CREATE TABLE duplicate_log (
    account_id INTEGER NOT NULL,
    handle TEXT NOT NULL,
    id TEXT NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (account_id, handle, id)
  ) WITHOUT ROWID;
` });

// 3: a covering index for what SELECT, STATUS and the mailbox counters read
// (UIDs, MODSEQs, flags, sizes), so they never touch the cached MIME JSON.
steps.push({ version: 3, name: 'a covering index of message summaries', sql: `
  CREATE INDEX messages_summary ON messages(mailbox_id, uid, modseq, flags, size);
` });

// 4: the first recent UID of each mailbox (see migration-recent.ts).
steps.push({ version: 4, name: "each mailbox's first recent UID", sql: RECENT_MIGRATION });

// 5: subscriptions apart from mailboxes (see migration-subscriptions.ts).
steps.push({ version: 5, name: 'subscriptions apart from mailboxes', sql: SUBSCRIPTIONS_MIGRATION });

// 6: the expunge log by MODSEQ, for what a selected session asks after every
// command ("what changed since MODSEQ n": QRESYNC and the session views).
steps.push({ version: 6, name: 'the expunge log by MODSEQ', sql: `
  CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);
` });

// 7: the highest UIDVALIDITY each account has handed out, so a mailbox
// deleted and created again gets a strictly larger one even within the
// same second (RFC 3501 2.3.1.1), whatever was deleted in between.
steps.push({ version: 7, name: "each account's highest UIDVALIDITY", sql: `
  CREATE TABLE uidvalidity_high (
    account_id INTEGER PRIMARY KEY,
    value INTEGER NOT NULL
  );
  INSERT INTO uidvalidity_high (account_id, value) SELECT account_id, max(uidvalidity) FROM mailboxes GROUP BY account_id;
` });

// 8: account and mailbox ids never handed out twice (see migration-ids.ts).
steps.push({ version: 8, name: 'account and mailbox ids never handed out twice', sql: IDS_MIGRATION });

// 9: IMAP METADATA entries per mailbox and per account (see migration-metadata.ts).
steps.push({ version: 9, name: 'IMAP METADATA entries', sql: METADATA_MIGRATION });

// 10: the \Deleted and the unseen messages of each mailbox, so EXPUNGE,
// STATUS DELETED and SELECT's first unseen read those few, not every row.
steps.push({ version: 10, name: 'partial indexes of deleted and unseen messages', sql: `
  CREATE INDEX messages_deleted ON messages(mailbox_id, uid) WHERE ${IS_DELETED};
  CREATE INDEX messages_unseen ON messages(mailbox_id, uid) WHERE ${IS_UNSEEN};
` });

// 11: administrators, API tokens and sessions, the audit log (see migration-admin.ts).
steps.push({ version: 11, name: 'admin accounts, API tokens and sessions, audit log', sql: ADMIN_MIGRATION });

// 12: a message's own POP3 UIDL (brought by postino import dovecot); NULL:
// POP3 derives one, as before. Kept beside the Maildir too (maildir/pop3-uidls.ts).
steps.push({ version: 12, name: "a message's own POP3 UIDL", sql: `
  ALTER TABLE messages ADD COLUMN pop3_uidl TEXT;
` });

export const SQLITE_STEPS: readonly SchemaStep[] = steps;
