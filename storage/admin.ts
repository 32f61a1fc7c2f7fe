// What the admin port keeps besides mail: administrator accounts, the
// credentials it hands out (API tokens and browser sessions, stored only as
// hashes), and the audit log of every change made through the admin
// service. A port of its own so every backend (SQLite, memory, PostgreSQL)
// keeps them beside the directory, inside the same units of work.

export interface AdminAccountRecord {
  /** Lower-case login name (not a mail address). */
  username: string;
  /** The project's password hash (src/auth/password.ts). */
  passwordHash: string;
  /** Empty: a superadmin; else the domains (lower case) this admin manages. */
  domains: string[];
  /** Milliseconds since the epoch. */
  created: number;
}

/** Whose credential: an administrator (by username) or a mail account (by address). */
export type PrincipalRef = { kind: 'admin'; name: string } | { kind: 'user'; name: string };

export interface CredentialRecord {
  /** A public id (shown in lists, used to revoke); not the secret. */
  id: string;
  /** 'token': an API token for scripts; 'session': a browser login. */
  kind: 'token' | 'session';
  name: string;
  /** SHA-256 of the secret, hex: the secret itself is never stored. */
  hash: string;
  principal: PrincipalRef;
  created: number;
  lastUsed: number | null;
  /** When it stops working (ms since the epoch); null: until revoked. */
  expires: number | null;
}

export interface AuditRecord {
  id: number;
  /** Milliseconds since the epoch. */
  at: number;
  /** Who: an admin username, a mail address, or "cli". */
  actor: string;
  /** What, e.g. "account.add", "alias.put". */
  action: string;
  /** What it was done to (an address, a domain, a queue id...). */
  target: string;
  /** JSON text of the state before and after (null when there was none); never passwords. */
  before: string | null;
  after: string | null;
}

export type NewAuditRecord = Omit<AuditRecord, 'id'>;

export interface AdminStore {
  /** ALREADYEXISTS when the username is taken. */
  addAdmin(admin: Omit<AdminAccountRecord, 'created'> & { created?: number }): Promise<AdminAccountRecord>;
  getAdmin(username: string): Promise<AdminAccountRecord | undefined>;
  /** By username. */
  listAdmins(): Promise<AdminAccountRecord[]>;
  setAdminPassword(username: string, passwordHash: string): Promise<void>;
  /** NONEXISTENT when unknown; the admin's credentials go with it. */
  removeAdmin(username: string): Promise<void>;

  /** ALREADYEXISTS when the id or the hash is taken. */
  addCredential(credential: CredentialRecord): Promise<void>;
  /** The credential with this secret hash, expired ones included (the caller checks `expires`). */
  findCredential(hash: string): Promise<CredentialRecord | undefined>;
  /** A principal's credentials of one kind, oldest first. */
  listCredentials(principal: PrincipalRef, kind: CredentialRecord['kind']): Promise<CredentialRecord[]>;
  touchCredential(id: string, lastUsed: number, expires?: number | null): Promise<void>;
  /** NONEXISTENT when unknown. */
  removeCredential(id: string): Promise<void>;
  /** Removes every credential of a principal (a password change, a removed account). */
  removeCredentialsOf(principal: PrincipalRef): Promise<void>;
  /** Forgets credentials whose `expires` is at or before now. */
  pruneCredentials(now?: number): Promise<void>;

  appendAudit(entry: NewAuditRecord): Promise<AuditRecord>;
  /** Newest first: at most `limit`, with ids below `before` when given. */
  listAudit(limit: number, before?: number): Promise<AuditRecord[]>;
}

/** An admin_credentials row: the same columns in the SQLite and PostgreSQL stores. */
export interface CredentialColumns {
  id: string;
  kind: CredentialRecord['kind'];
  name: string;
  hash: string;
  principal_kind: PrincipalRef['kind'];
  principal: string;
  created: number;
  last_used: number | null;
  expires: number | null;
}

export const credentialOf = (r: CredentialColumns): CredentialRecord => ({
  id: r.id,
  kind: r.kind,
  name: r.name,
  hash: r.hash,
  principal: { kind: r.principal_kind, name: r.principal },
  created: r.created,
  lastUsed: r.last_used,
  expires: r.expires,
});
