// The admin port's records in PostgreSQL (storage/admin.ts), as
// storage/index/admin.ts keeps them in SQLite: usernames stored lower-case,
// principals compared without case, secrets only as their hashes, the audit
// log by a growing id (an identity column: an undone unit leaves a gap).
import { credentialOf, type AdminAccountRecord, type AdminStore, type AuditRecord, type CredentialColumns, type CredentialRecord, type NewAuditRecord, type PrincipalRef } from '../admin.js';
import { MailError } from '../errors.js';
import { pgCode, type PgDatabase, type Row } from './db.js';

interface AdminRow extends Row {
  username: string;
  password_hash: string;
  domains: string[];
  created: number;
}

interface CredentialRow extends Row, CredentialColumns {}

interface AuditRow extends Row {
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string;
  before: string | null;
  after: string | null;
}

const adminOf = (r: AdminRow): AdminAccountRecord => ({ username: r.username, passwordHash: r.password_hash, domains: [...r.domains], created: r.created });

const auditOf = (r: AuditRow): AuditRecord => ({ id: r.id, at: r.at, actor: r.actor, action: r.action, target: r.target, before: r.before, after: r.after });

const noAdmin = (username: string) => new MailError('NONEXISTENT', `no such admin: ${username.toLowerCase()}`);

export class PgAdminStore implements AdminStore {
  constructor(private readonly db: PgDatabase) {}

  async addAdmin(admin: Omit<AdminAccountRecord, 'created'> & { created?: number }): Promise<AdminAccountRecord> {
    const record = { username: admin.username.toLowerCase(), passwordHash: admin.passwordHash, domains: [...admin.domains], created: admin.created ?? Date.now() };
    try {
      await this.db.atomic(() =>
        this.db.query('INSERT INTO admin_accounts (username, password_hash, domains, created) VALUES ($1, $2, $3, $4)', [
          record.username,
          record.passwordHash,
          record.domains,
          record.created,
        ]),
      );
    } catch (err) {
      if (pgCode(err) === '23505') throw new MailError('ALREADYEXISTS', `admin ${record.username} exists already`);
      throw err;
    }
    return record;
  }

  async getAdmin(username: string): Promise<AdminAccountRecord | undefined> {
    const row = await this.db.one<AdminRow>('SELECT * FROM admin_accounts WHERE username = $1', [username.toLowerCase()]);
    return row && adminOf(row);
  }

  async listAdmins(): Promise<AdminAccountRecord[]> {
    return (await this.db.query<AdminRow>('SELECT * FROM admin_accounts ORDER BY username')).map(adminOf);
  }

  async setAdminPassword(username: string, passwordHash: string): Promise<void> {
    const rows = await this.db.query('UPDATE admin_accounts SET password_hash = $2 WHERE username = $1 RETURNING username', [username.toLowerCase(), passwordHash]);
    if (rows.length === 0) throw noAdmin(username);
  }

  async removeAdmin(username: string): Promise<void> {
    await this.db.atomic(async () => {
      const rows = await this.db.query('DELETE FROM admin_accounts WHERE username = $1 RETURNING username', [username.toLowerCase()]);
      if (rows.length === 0) throw noAdmin(username);
      await this.removeCredentialsOf({ kind: 'admin', name: username });
    });
  }

  async addCredential(c: CredentialRecord): Promise<void> {
    try {
      await this.db.atomic(() =>
        this.db.query(
          'INSERT INTO admin_credentials (id, kind, name, hash, principal_kind, principal, created, last_used, expires) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
          [c.id, c.kind, c.name, c.hash, c.principal.kind, c.principal.name, c.created, c.lastUsed, c.expires],
        ),
      );
    } catch (err) {
      if (pgCode(err) === '23505') throw new MailError('ALREADYEXISTS', 'credential exists already');
      throw err;
    }
  }

  async findCredential(hash: string): Promise<CredentialRecord | undefined> {
    const row = await this.db.one<CredentialRow>('SELECT * FROM admin_credentials WHERE hash = $1', [hash]);
    return row && credentialOf(row);
  }

  async listCredentials(principal: PrincipalRef, kind: CredentialRecord['kind']): Promise<CredentialRecord[]> {
    const rows = await this.db.query<CredentialRow>(
      'SELECT * FROM admin_credentials WHERE principal_kind = $1 AND lower(principal) = lower($2) AND kind = $3 ORDER BY created, id',
      [principal.kind, principal.name, kind],
    );
    return rows.map(credentialOf);
  }

  async touchCredential(id: string, lastUsed: number, expires?: number | null): Promise<void> {
    if (expires === undefined) await this.db.query('UPDATE admin_credentials SET last_used = $2 WHERE id = $1', [id, lastUsed]);
    else await this.db.query('UPDATE admin_credentials SET last_used = $2, expires = $3 WHERE id = $1', [id, lastUsed, expires]);
  }

  async removeCredential(id: string): Promise<void> {
    const rows = await this.db.query('DELETE FROM admin_credentials WHERE id = $1 RETURNING id', [id]);
    if (rows.length === 0) throw new MailError('NONEXISTENT', `no such token: ${id}`);
  }

  async removeCredentialsOf(principal: PrincipalRef): Promise<void> {
    await this.db.query('DELETE FROM admin_credentials WHERE principal_kind = $1 AND lower(principal) = lower($2)', [principal.kind, principal.name]);
  }

  async pruneCredentials(now = Date.now()): Promise<void> {
    await this.db.query('DELETE FROM admin_credentials WHERE expires IS NOT NULL AND expires <= $1', [now]);
  }

  async appendAudit(entry: NewAuditRecord): Promise<AuditRecord> {
    const row = await this.db.one<{ id: number }>('INSERT INTO audit_log (at, actor, action, target, before, after) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id', [
      entry.at,
      entry.actor,
      entry.action,
      entry.target,
      entry.before,
      entry.after,
    ]);
    return { id: row!.id, ...entry };
  }

  async listAudit(limit: number, before?: number): Promise<AuditRecord[]> {
    const rows =
      before === undefined
        ? await this.db.query<AuditRow>('SELECT * FROM audit_log ORDER BY id DESC LIMIT $1', [limit])
        : await this.db.query<AuditRow>('SELECT * FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2', [before, limit]);
    return rows.map(auditOf);
  }
}
