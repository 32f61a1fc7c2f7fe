// The PostgreSQL schema steps (storage/postgres/migrations.ts applies them,
// under an advisory lock; the schema_version table records each one).
// Listed with the SQLite steps in storage/schema/index.ts, which holds the
// rules both runners follow. A step is never edited once released: a
// change is a new step.
import type { SchemaStep } from './index.js';

export const POSTGRES_STEPS: readonly SchemaStep[] = [
  {
    version: 1,
    name: 'directory, mail index, bodies, scripts, delivery memory, metadata, queue',
    sql: `
      CREATE TABLE domains (
        name text COLLATE "C" PRIMARY KEY
      );
      CREATE TABLE accounts (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        address text COLLATE "C" NOT NULL UNIQUE,
        domain text COLLATE "C" NOT NULL REFERENCES domains (name),
        localpart text COLLATE "C" NOT NULL,
        password_hash text NOT NULL,
        scram_sha256 text,
        quota bigint,
        disabled boolean NOT NULL DEFAULT false,
        -- The highest UIDVALIDITY any mailbox of the account was given (deleted ones too).
        uid_validity_high bigint NOT NULL DEFAULT 0
      );
      CREATE TABLE aliases (
        address text COLLATE "C" NOT NULL,
        domain text COLLATE "C" NOT NULL REFERENCES domains (name) ON DELETE CASCADE,
        target text COLLATE "C" NOT NULL,
        PRIMARY KEY (address, target)
      );
      CREATE TABLE mailboxes (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        account_id bigint NOT NULL REFERENCES accounts (id),
        name text COLLATE "C" NOT NULL,
        uid_validity bigint NOT NULL,
        uid_next bigint NOT NULL DEFAULT 1,
        highest_modseq bigint NOT NULL DEFAULT 1,
        special_use text,
        -- Keywords ever used in the mailbox, in order of first use (at most 26).
        keywords text[] NOT NULL DEFAULT '{}',
        first_recent_uid bigint NOT NULL DEFAULT 1,
        -- Checked at the end of each statement, so a rename of a whole subtree can pass through taken names.
        UNIQUE (account_id, name) DEFERRABLE INITIALLY IMMEDIATE
      );
      -- Bodies, stored once per content: many recipients, copies and moves share one row.
      CREATE TABLE blobs (
        hash bytea PRIMARY KEY,
        body bytea NOT NULL
      );
      CREATE TABLE messages (
        mailbox_id bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
        uid bigint NOT NULL,
        account_id bigint NOT NULL,
        modseq bigint NOT NULL,
        flags text[] NOT NULL,
        internal_date bigint NOT NULL,
        size bigint NOT NULL,
        mime text,
        body_id text NOT NULL,
        blob_hash bytea NOT NULL REFERENCES blobs (hash),
        PRIMARY KEY (mailbox_id, uid)
      );
      CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);
      CREATE INDEX messages_account ON messages (account_id);
      CREATE INDEX messages_blob ON messages (blob_hash);
      CREATE TABLE expunged (
        mailbox_id bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
        uid bigint NOT NULL,
        modseq bigint NOT NULL,
        PRIMARY KEY (mailbox_id, uid)
      );
      CREATE TABLE subscriptions (
        account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        name text COLLATE "C" NOT NULL,
        PRIMARY KEY (account_id, name)
      );
      CREATE TABLE scripts (
        account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        name text COLLATE "C" NOT NULL,
        body text NOT NULL,
        active boolean NOT NULL DEFAULT false,
        PRIMARY KEY (account_id, name)
      );
      CREATE UNIQUE INDEX scripts_one_active ON scripts (account_id) WHERE active;
      CREATE TABLE vacations (
        account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        sender text NOT NULL,
        handle text NOT NULL,
        expires bigint NOT NULL,
        PRIMARY KEY (account_id, sender, handle)
      );
      CREATE TABLE duplicates (
        account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        handle text NOT NULL,
        id text NOT NULL,
        expires bigint NOT NULL,
        PRIMARY KEY (account_id, handle, id)
      );
      -- IMAP METADATA; mailbox_id 0 holds the server's entries.
      CREATE TABLE metadata (
        account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        mailbox_id bigint NOT NULL,
        entry text COLLATE "C" NOT NULL,
        value bytea NOT NULL,
        PRIMARY KEY (account_id, mailbox_id, entry)
      );
      CREATE TABLE queue_entries (
        queue text NOT NULL,
        id text NOT NULL,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        created bigint NOT NULL,
        entry jsonb NOT NULL,
        raw bytea NOT NULL,
        -- False while staged by a unit of work that has not committed.
        published boolean NOT NULL,
        held boolean NOT NULL DEFAULT false,
        PRIMARY KEY (queue, id)
      );
      CREATE INDEX queue_entries_order ON queue_entries (queue, created, seq);
      -- Flush requests: id '' asks for every entry.
      CREATE TABLE queue_flush (
        queue text NOT NULL,
        id text NOT NULL,
        PRIMARY KEY (queue, id)
      );
    `,
  },
  {
    version: 2,
    name: 'admin accounts, API tokens and sessions, audit log; queue rescan requests',
    sql: `
      CREATE TABLE admin_accounts (
        -- Lower case (storage/admin.ts).
        username text COLLATE "C" PRIMARY KEY,
        password_hash text NOT NULL,
        domains text[] NOT NULL DEFAULT '{}',
        created bigint NOT NULL
      );
      CREATE TABLE admin_credentials (
        id text COLLATE "C" PRIMARY KEY,
        kind text NOT NULL,
        name text NOT NULL,
        -- SHA-256 of the secret, hex: the secret itself is never stored.
        hash text COLLATE "C" NOT NULL UNIQUE,
        principal_kind text NOT NULL,
        principal text NOT NULL,
        created bigint NOT NULL,
        last_used bigint,
        expires bigint
      );
      CREATE INDEX admin_credentials_principal ON admin_credentials (principal_kind, lower(principal), kind);
      CREATE TABLE audit_log (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at bigint NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        target text NOT NULL,
        before text,
        after text
      );
      -- Left for the node that runs a queue when another node or process added an entry or changed a hold.
      CREATE TABLE queue_rescan (
        queue text PRIMARY KEY
      );
    `,
  },
  {
    version: 3,
    name: 'queue entry leases (several nodes send the queue)',
    sql: `
      -- The node that last took the entry (node.name, for people and logs),
      -- the process that holds it (a random id per start: a restarted node
      -- is another holder), and until when (the database's clock); NULL
      -- lease_until: given back.
      ALTER TABLE queue_entries
        ADD COLUMN lease_node text,
        ADD COLUMN lease_holder text,
        ADD COLUMN lease_until timestamptz;
    `,
  },
  {
    version: 4,
    name: "a message's own POP3 UIDL (postino import dovecot)",
    sql: `
      -- NULL: POP3 derives the UIDL from the body id, as before.
      ALTER TABLE messages ADD COLUMN pop3_uidl text;
    `,
  },
  {
    version: 5,
    name: 'secrets every node shares (the SRS key)',
    sql: `
      -- Written once, by the first node that needs one; never changed after.
      CREATE TABLE shared_secrets (
        name text COLLATE "C" PRIMARY KEY,
        value bytea NOT NULL
      );
    `,
  },
];
