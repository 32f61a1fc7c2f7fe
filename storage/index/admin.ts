// The admin port's records in the SQLite index (storage/admin.ts).
import { prepared, type IndexDb, type Statement } from './database.js';
import { MailError } from '../errors.js';
import { credentialOf, type AdminAccountRecord, type AdminStore, type AuditRecord, type CredentialColumns, type CredentialRecord, type NewAuditRecord, type PrincipalRef } from '../admin.js';
import type { Either } from '../unit-of-work.js';

interface AdminRow {
  username: string;
  password_hash: string;
  domains: string;
  created: number;
}

const adminOf = (r: AdminRow): AdminAccountRecord => ({
  username: r.username,
  passwordHash: r.password_hash,
  domains: JSON.parse(r.domains) as string[],
  created: r.created,
});

export class SqliteAdminStore implements Either<AdminStore> {
  constructor(private readonly db: IndexDb) {}

  private sql(text: string): Statement {
    return prepared(this.db, text);
  }

  addAdmin(admin: Omit<AdminAccountRecord, 'created'> & { created?: number }): AdminAccountRecord {
    const username = admin.username.toLowerCase();
    if (this.getAdmin(username)) throw new MailError('ALREADYEXISTS', `admin ${username} exists already`);
    const record = { username, passwordHash: admin.passwordHash, domains: [...admin.domains], created: admin.created ?? Date.now() };
    this.sql('INSERT INTO admin_accounts (username, password_hash, domains, created) VALUES (?, ?, ?, ?)').run(
      record.username,
      record.passwordHash,
      JSON.stringify(record.domains),
      record.created,
    );
    return record;
  }

  getAdmin(username: string): AdminAccountRecord | undefined {
    const row = this.sql('SELECT * FROM admin_accounts WHERE username = ?').get(username) as AdminRow | undefined;
    return row && adminOf(row);
  }

  listAdmins(): AdminAccountRecord[] {
    return (this.sql('SELECT * FROM admin_accounts ORDER BY username').all() as AdminRow[]).map(adminOf);
  }

  setAdminPassword(username: string, passwordHash: string): void {
    const r = this.sql('UPDATE admin_accounts SET password_hash = ? WHERE username = ?').run(passwordHash, username);
    if (r.changes === 0) throw new MailError('NONEXISTENT', `no such admin: ${username.toLowerCase()}`);
  }

  removeAdmin(username: string): void {
    const r = this.sql('DELETE FROM admin_accounts WHERE username = ?').run(username);
    if (r.changes === 0) throw new MailError('NONEXISTENT', `no such admin: ${username.toLowerCase()}`);
    this.removeCredentialsOf({ kind: 'admin', name: username });
  }

  addCredential(c: CredentialRecord): void {
    const taken = this.sql('SELECT 1 FROM admin_credentials WHERE id = ? OR hash = ?').get(c.id, c.hash);
    if (taken) throw new MailError('ALREADYEXISTS', 'credential exists already');
    this.sql(
      'INSERT INTO admin_credentials (id, kind, name, hash, principal_kind, principal, created, last_used, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(c.id, c.kind, c.name, c.hash, c.principal.kind, c.principal.name, c.created, c.lastUsed, c.expires);
  }

  findCredential(hash: string): CredentialRecord | undefined {
    const row = this.sql('SELECT * FROM admin_credentials WHERE hash = ?').get(hash) as CredentialColumns | undefined;
    return row && credentialOf(row);
  }

  listCredentials(principal: PrincipalRef, kind: CredentialRecord['kind']): CredentialRecord[] {
    const rows = this.sql('SELECT * FROM admin_credentials WHERE principal_kind = ? AND principal = ? AND kind = ? ORDER BY created, id').all(
      principal.kind,
      principal.name,
      kind,
    ) as CredentialColumns[];
    return rows.map(credentialOf);
  }

  touchCredential(id: string, lastUsed: number, expires?: number | null): void {
    if (expires === undefined) this.sql('UPDATE admin_credentials SET last_used = ? WHERE id = ?').run(lastUsed, id);
    else this.sql('UPDATE admin_credentials SET last_used = ?, expires = ? WHERE id = ?').run(lastUsed, expires, id);
  }

  removeCredential(id: string): void {
    const r = this.sql('DELETE FROM admin_credentials WHERE id = ?').run(id);
    if (r.changes === 0) throw new MailError('NONEXISTENT', `no such token: ${id}`);
  }

  removeCredentialsOf(principal: PrincipalRef): void {
    this.sql('DELETE FROM admin_credentials WHERE principal_kind = ? AND principal = ?').run(principal.kind, principal.name);
  }

  pruneCredentials(now = Date.now()): void {
    this.sql('DELETE FROM admin_credentials WHERE expires IS NOT NULL AND expires <= ?').run(now);
  }

  appendAudit(entry: NewAuditRecord): AuditRecord {
    const r = this.sql('INSERT INTO audit_log (at, actor, action, target, before, after) VALUES (?, ?, ?, ?, ?, ?)').run(
      entry.at,
      entry.actor,
      entry.action,
      entry.target,
      entry.before,
      entry.after,
    );
    return { id: Number(r.lastInsertRowid), ...entry };
  }

  listAudit(limit: number, before?: number): AuditRecord[] {
    const rows =
      before === undefined
        ? this.sql('SELECT * FROM audit_log ORDER BY id DESC LIMIT ?').all(limit)
        : this.sql('SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?').all(before, limit);
    return rows as AuditRecord[];
  }
}
