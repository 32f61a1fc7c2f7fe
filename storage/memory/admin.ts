// The admin port's records in memory (storage/admin.ts), as storage/index/admin.ts keeps them.
import { MailError } from '../errors.js';
import type { AdminAccountRecord, AdminStore, AuditRecord, CredentialRecord, NewAuditRecord, PrincipalRef } from '../admin.js';
import type { Either } from '../unit-of-work.js';
import type { MemoryState } from './state.js';
import { foldCase } from './names.js';

const same = (a: PrincipalRef, b: PrincipalRef) => a.kind === b.kind && foldCase(a.name) === foldCase(b.name);

export class MemoryAdminStore implements Either<AdminStore> {
  constructor(private readonly state: MemoryState) {}

  private get s(): MemoryState['admin'] {
    return this.state.admin;
  }

  addAdmin(admin: Omit<AdminAccountRecord, 'created'> & { created?: number }): AdminAccountRecord {
    const username = admin.username.toLowerCase();
    if (this.s.admins.has(foldCase(username))) throw new MailError('ALREADYEXISTS', `admin ${username} exists already`);
    const record = { username, passwordHash: admin.passwordHash, domains: [...admin.domains], created: admin.created ?? Date.now() };
    this.s.admins.set(foldCase(username), record);
    return structuredClone(record);
  }

  getAdmin(username: string): AdminAccountRecord | undefined {
    const a = this.s.admins.get(foldCase(username));
    return a && structuredClone(a);
  }

  listAdmins(): AdminAccountRecord[] {
    return [...this.s.admins.values()].sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0)).map((a) => structuredClone(a));
  }

  setAdminPassword(username: string, passwordHash: string): void {
    const a = this.s.admins.get(foldCase(username));
    if (!a) throw new MailError('NONEXISTENT', `no such admin: ${username.toLowerCase()}`);
    a.passwordHash = passwordHash;
  }

  removeAdmin(username: string): void {
    if (!this.s.admins.delete(foldCase(username))) throw new MailError('NONEXISTENT', `no such admin: ${username.toLowerCase()}`);
    this.removeCredentialsOf({ kind: 'admin', name: username });
  }

  addCredential(c: CredentialRecord): void {
    if (this.s.credentials.has(c.id) || [...this.s.credentials.values()].some((o) => o.hash === c.hash)) {
      throw new MailError('ALREADYEXISTS', 'credential exists already');
    }
    this.s.credentials.set(c.id, structuredClone(c));
  }

  findCredential(hash: string): CredentialRecord | undefined {
    for (const c of this.s.credentials.values()) if (c.hash === hash) return structuredClone(c);
    return undefined;
  }

  listCredentials(principal: PrincipalRef, kind: CredentialRecord['kind']): CredentialRecord[] {
    return [...this.s.credentials.values()]
      .filter((c) => c.kind === kind && same(c.principal, principal))
      .sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((c) => structuredClone(c));
  }

  touchCredential(id: string, lastUsed: number, expires?: number | null): void {
    const c = this.s.credentials.get(id);
    if (!c) return;
    c.lastUsed = lastUsed;
    if (expires !== undefined) c.expires = expires;
  }

  removeCredential(id: string): void {
    if (!this.s.credentials.delete(id)) throw new MailError('NONEXISTENT', `no such token: ${id}`);
  }

  removeCredentialsOf(principal: PrincipalRef): void {
    for (const [id, c] of this.s.credentials) if (same(c.principal, principal)) this.s.credentials.delete(id);
  }

  pruneCredentials(now = Date.now()): void {
    for (const [id, c] of this.s.credentials) if (c.expires !== null && c.expires <= now) this.s.credentials.delete(id);
  }

  appendAudit(entry: NewAuditRecord): AuditRecord {
    const record = { id: ++this.s.lastAuditId, ...entry };
    this.s.audit.push(record);
    return { ...record };
  }

  listAudit(limit: number, before?: number): AuditRecord[] {
    const out: AuditRecord[] = [];
    for (let i = this.s.audit.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.s.audit[i]!;
      if (before === undefined || e.id < before) out.push({ ...e });
    }
    return out;
  }
}
