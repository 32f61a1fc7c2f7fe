// Migration 4: Dovecot's "first recent UID" per mailbox (RFC 3501 \Recent).
// Messages at or above it have not yet been seen by a read-write SELECT;
// the session that claims them sees them as \Recent, no other does. A table
// of its own (not a column of mailboxes) keeps the append path untouched;
// the UIDVALIDITY beside it makes a row left by a deleted mailbox harmless
// when its id is reused. Existing mailboxes start with nothing recent.
export const RECENT_MIGRATION = `
  CREATE TABLE mailbox_recent (
    mailbox_id INTEGER PRIMARY KEY,
    uidvalidity INTEGER NOT NULL,
    first_recent_uid INTEGER NOT NULL
  );
  INSERT INTO mailbox_recent (mailbox_id, uidvalidity, first_recent_uid) SELECT id, uidvalidity, uidnext FROM mailboxes;
`;
