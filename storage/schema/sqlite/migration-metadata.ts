// Migration: IMAP METADATA entries (RFC 5464), one row per entry, keyed by
// account and mailbox id (never by name, so RENAME needs no change here);
// mailbox_id 0 holds the server's entries (the "" mailbox). Entry names are
// stored lower-cased with their /private or /shared prefix; values are the
// client's octets. Every mailbox keeps the same entries in a file beside its
// postino-folder.json (storage/maildir/metadata-file.ts), so `postino
// reindex` rebuilds the table from the Maildir.
export const METADATA_MIGRATION = `
  CREATE TABLE mailbox_metadata (
    account_id INTEGER NOT NULL,
    mailbox_id INTEGER NOT NULL,
    entry TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (account_id, mailbox_id, entry)
  ) WITHOUT ROWID;
`;
