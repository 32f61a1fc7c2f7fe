// Migration 11: what the admin port keeps (storage/admin.ts): administrator
// accounts, hashed API tokens and browser sessions, and the audit log.
export const ADMIN_MIGRATION = `
  CREATE TABLE admin_accounts (
    username TEXT PRIMARY KEY COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    domains TEXT NOT NULL DEFAULT '[]',
    created INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE admin_credentials (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    principal_kind TEXT NOT NULL,
    principal TEXT NOT NULL COLLATE NOCASE,
    created INTEGER NOT NULL,
    last_used INTEGER,
    expires INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX admin_credentials_principal ON admin_credentials(principal_kind, principal, kind);

  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after TEXT
  );
`;
