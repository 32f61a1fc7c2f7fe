// Domains, accounts and aliases in the SQLite index.
import { prepared, type IndexDb, type Statement } from './database.js';
import type { AccountRecord, AliasRecord, Directory, DomainRecord, NewAccount } from '../ports.js';
import { MailError } from '../errors.js';
import { LookupCache, changingIndex } from './lookup-cache.js';
import type { Either } from '../unit-of-work.js';

interface AccountRow {
  id: number;
  address: string;
  domain: string;
  localpart: string;
  password_hash: string;
  scram_sha256: string | null;
  quota: number | null;
  disabled: number;
}

function toAccount(row: AccountRow): AccountRecord {
  return {
    id: row.id,
    address: row.address,
    domain: row.domain,
    localpart: row.localpart,
    passwordHash: row.password_hash,
    scramSha256: row.scram_sha256,
    quota: row.quota,
    disabled: row.disabled !== 0,
  };
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

export class SqliteDirectory implements Either<Directory> {
  private readonly cache: LookupCache;

  private sql(text: string): Statement {
    return prepared(this.db, text);
  }

  constructor(private readonly db: IndexDb) {
    this.cache = new LookupCache(db);
  }

  /** Runs a change; whatever it did (or undid, when it throws) is no longer cached. */
  private change<T>(fn: () => T): T {
    return changingIndex(this.db, fn);
  }

  addDomain(name: string): void {
    if (this.hasDomain(name)) throw new MailError('ALREADYEXISTS', `domain ${name} exists already`);
    this.change(() => this.sql('INSERT INTO domains (name, created) VALUES (?, ?)').run(name.toLowerCase(), Date.now()));
  }

  removeDomain(name: string): void {
    this.change(() => this.removeDomainRows(name));
  }

  private removeDomainRows(name: string): void {
    const accounts = this.sql('SELECT count(*) AS n FROM accounts WHERE domain = ?').get(name) as { n: number };
    if (accounts.n > 0) {
      throw new MailError('REFUSED', `domain ${name} still has ${accounts.n} account(s); remove them first`);
    }
    this.sql('DELETE FROM alias_targets WHERE domain = ?').run(name);
    const r = this.sql('DELETE FROM domains WHERE name = ?').run(name);
    if (r.changes === 0) throw new MailError('NONEXISTENT', `no such domain: ${name}`);
  }

  hasDomain(name: string): boolean {
    return this.cache.get(`domain ${name}`, () => this.sql('SELECT 1 FROM domains WHERE name = ?').get(name) !== undefined);
  }

  listDomains(): DomainRecord[] {
    return (this.sql('SELECT name FROM domains ORDER BY name').all() as Array<{ name: string }>).map((r) => ({
      name: r.name,
    }));
  }

  addAccount(account: NewAccount): AccountRecord {
    const address = account.address.toLowerCase();
    const domain = domainOf(address);
    if (!this.hasDomain(domain)) throw new MailError('NONEXISTENT', `no such domain: ${domain}`);
    if (this.getAccount(address)) throw new MailError('ALREADYEXISTS', `account ${address} exists already`);
    if (this.getAlias(address)) throw new MailError('ALREADYEXISTS', `${address} is an alias already`);
    const info = this.change(() =>
      this.sql(
        `INSERT INTO accounts (address, domain, localpart, password_hash, scram_sha256, quota, created)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(address, domain, address.slice(0, address.lastIndexOf('@')), account.passwordHash, account.scramSha256, account.quota, Date.now()),
    );
    return this.getAccountById(Number(info.lastInsertRowid))!;
  }

  /** The record is shared with other callers and frozen: copy it to change it. */
  getAccount(address: string): AccountRecord | undefined {
    return this.cache.get(`account ${address}`, () => {
      const row = this.sql('SELECT * FROM accounts WHERE address = ?').get(address) as AccountRow | undefined;
      return row && toAccount(row);
    });
  }

  getAccountById(id: number): AccountRecord | undefined {
    return this.cache.get(`account-id ${id}`, () => {
      const row = this.sql('SELECT * FROM accounts WHERE id = ?').get(id) as AccountRow | undefined;
      return row && toAccount(row);
    });
  }

  listAccounts(): AccountRecord[] {
    return (this.sql('SELECT * FROM accounts ORDER BY domain, localpart').all() as AccountRow[]).map(toAccount);
  }

  setPassword(address: string, passwordHash: string, scramSha256: string | null): void {
    const sql = 'UPDATE accounts SET password_hash = ?, scram_sha256 = ? WHERE address = ?';
    this.mustChange(this.change(() => this.sql(sql).run(passwordHash, scramSha256, address).changes), address);
  }

  setDisabled(address: string, disabled: boolean): void {
    this.mustChange(this.change(() => this.sql('UPDATE accounts SET disabled = ? WHERE address = ?').run(disabled ? 1 : 0, address).changes), address);
  }

  setQuota(address: string, quota: number | null): void {
    this.mustChange(this.change(() => this.sql('UPDATE accounts SET quota = ? WHERE address = ?').run(quota, address).changes), address);
  }

  removeAccount(address: string): void {
    const account = this.getAccount(address);
    if (!account) throw new MailError('NONEXISTENT', `no such account: ${address}`);
    this.change(() => {
      this.sql('DELETE FROM sieve_scripts WHERE account_id = ?').run(account.id);
      // What delivery remembered for it; its id is never handed out again anyway (migration 8).
      this.sql('DELETE FROM vacation_log WHERE account_id = ?').run(account.id);
      this.sql('DELETE FROM duplicate_log WHERE account_id = ?').run(account.id);
      this.sql('DELETE FROM accounts WHERE id = ?').run(account.id);
    });
  }

  addAliasTargets(address: string, targets: string[]): void {
    const alias = address.toLowerCase();
    const domain = domainOf(alias);
    if (!this.hasDomain(domain)) throw new MailError('NONEXISTENT', `no such domain: ${domain}`);
    if (this.getAccount(alias)) throw new MailError('ALREADYEXISTS', `${alias} is an account; an alias cannot shadow it`);
    const insert = this.sql('INSERT OR IGNORE INTO alias_targets (address, target, domain) VALUES (?, ?, ?)');
    this.change(() => {
      for (const t of targets) insert.run(alias, t.toLowerCase(), domain);
    });
  }

  removeAliasTargets(address: string, targets?: string[]): void {
    if (!this.getAlias(address)) throw new MailError('NONEXISTENT', `no such alias: ${address}`);
    this.change(() => this.removeAliasRows(address, targets));
  }

  private removeAliasRows(address: string, targets: string[] | undefined): void {
    if (targets === undefined) {
      this.sql('DELETE FROM alias_targets WHERE address = ?').run(address);
      return;
    }
    const del = this.sql('DELETE FROM alias_targets WHERE address = ? AND target = ?');
    for (const t of targets) {
      if (del.run(address, t).changes === 0) throw new MailError('NONEXISTENT', `${t} is not a target of ${address}`);
    }
  }

  /** The record is shared with other callers and frozen: copy it to change it. */
  getAlias(address: string): AliasRecord | undefined {
    return this.cache.get(`alias ${address}`, () => {
      const rows = this.sql('SELECT address, target FROM alias_targets WHERE address = ? ORDER BY target').all(address) as Array<{
        address: string;
        target: string;
      }>;
      if (rows.length === 0) return undefined;
      return { address: rows[0]!.address, targets: Object.freeze(rows.map((r) => r.target)) as string[] };
    });
  }

  listAliases(): AliasRecord[] {
    const rows = this.sql('SELECT address, target FROM alias_targets ORDER BY domain, address, target').all() as Array<{
      address: string;
      target: string;
    }>;
    const out: AliasRecord[] = [];
    for (const r of rows) {
      const last = out[out.length - 1];
      if (last && last.address === r.address) last.targets.push(r.target);
      else out.push({ address: r.address, targets: [r.target] });
    }
    return out;
  }

  private mustChange(changes: number, address: string): void {
    if (changes === 0) throw new MailError('NONEXISTENT', `no such account: ${address}`);
  }
}
