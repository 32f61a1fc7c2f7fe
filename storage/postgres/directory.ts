// Domains, accounts and aliases in PostgreSQL, as storage/index/directory.ts
// keeps them in SQLite: addresses and domains stored lower-case and
// compared without ASCII case, account ids never reused (an identity
// column), records handed out frozen.
import type { AccountRecord, AliasRecord, Directory, DomainRecord, NewAccount } from '../ports.js';
import { MailError } from '../errors.js';
import { pgCode, type PgDatabase } from './db.js';

/** SQLite's NOCASE (ASCII letters only), as the other backends compare names. */
function fold(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

interface AccountRow {
  id: number;
  address: string;
  domain: string;
  localpart: string;
  password_hash: string;
  scram_sha256: string | null;
  quota: number | null;
  disabled: boolean;
  [k: string]: unknown;
}

const ACCOUNT_COLUMNS = 'id, address, domain, localpart, password_hash, scram_sha256, quota, disabled';

function record(r: AccountRow): AccountRecord {
  return Object.freeze({
    id: r.id,
    address: r.address,
    domain: r.domain,
    localpart: r.localpart,
    passwordHash: r.password_hash,
    scramSha256: r.scram_sha256,
    quota: r.quota,
    disabled: r.disabled,
  });
}

export class PgDirectory implements Directory {
  constructor(private readonly db: PgDatabase) {}

  async addDomain(name: string): Promise<void> {
    try {
      await this.db.atomic(() => this.db.query('INSERT INTO domains (name) VALUES ($1)', [fold(name)]));
    } catch (err) {
      if (pgCode(err) === '23505') throw new MailError('ALREADYEXISTS', `domain ${name} exists already`);
      throw err;
    }
  }

  async removeDomain(name: string): Promise<void> {
    const domain = fold(name);
    await this.db.atomic(async () => {
      // The row lock keeps an account from being added to it meanwhile (the foreign key takes a share lock).
      const found = await this.db.one('SELECT name FROM domains WHERE name = $1 FOR UPDATE', [domain]);
      const { n } = (await this.db.one<{ n: number }>('SELECT count(*)::int AS n FROM accounts WHERE domain = $1', [domain]))!;
      if (n > 0) throw new MailError('REFUSED', `domain ${name} still has ${n} account(s); remove them first`);
      if (!found) throw new MailError('NONEXISTENT', `no such domain: ${name}`);
      await this.db.query('DELETE FROM domains WHERE name = $1', [domain]);
    });
  }

  async hasDomain(name: string): Promise<boolean> {
    return (await this.db.one('SELECT 1 FROM domains WHERE name = $1', [fold(name)])) !== undefined;
  }

  async listDomains(): Promise<DomainRecord[]> {
    return (await this.db.query<{ name: string }>('SELECT name FROM domains ORDER BY name')).map((r) => ({ name: r.name }));
  }

  async addAccount(account: NewAccount): Promise<AccountRecord> {
    const address = account.address.toLowerCase();
    const domain = domainOf(address);
    return this.db.atomic(async () => {
      // Locks the domain row: an alias of the same address cannot appear meanwhile (aliases lock it too).
      if (!(await this.db.one('SELECT 1 FROM domains WHERE name = $1 FOR UPDATE', [fold(domain)]))) throw new MailError('NONEXISTENT', `no such domain: ${domain}`);
      if (await this.db.one('SELECT 1 FROM accounts WHERE address = $1', [fold(address)])) throw new MailError('ALREADYEXISTS', `account ${address} exists already`);
      if (await this.db.one('SELECT 1 FROM aliases WHERE address = $1', [fold(address)])) throw new MailError('ALREADYEXISTS', `${address} is an alias already`);
      try {
        const row = await this.db.one<AccountRow>(
          `INSERT INTO accounts (address, domain, localpart, password_hash, scram_sha256, quota)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${ACCOUNT_COLUMNS}`,
          [address, fold(domain), address.slice(0, address.lastIndexOf('@')), account.passwordHash, account.scramSha256, account.quota],
        );
        return record(row!);
      } catch (err) {
        if (pgCode(err) === '23505') throw new MailError('ALREADYEXISTS', `account ${address} exists already`);
        throw err;
      }
    });
  }

  async getAccount(address: string): Promise<AccountRecord | undefined> {
    const row = await this.db.one<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE address = $1`, [fold(address)]);
    return row && record(row);
  }

  async getAccountById(id: number): Promise<AccountRecord | undefined> {
    const row = await this.db.one<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`, [id]);
    return row && record(row);
  }

  async listAccounts(): Promise<AccountRecord[]> {
    return (await this.db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY domain, localpart`)).map(record);
  }

  private async change(address: string, set: string, values: unknown[]): Promise<void> {
    const rows = await this.db.query(`UPDATE accounts SET ${set} WHERE address = $1 RETURNING id`, [fold(address), ...values]);
    if (rows.length === 0) throw new MailError('NONEXISTENT', `no such account: ${address}`);
  }

  async setPassword(address: string, passwordHash: string, scramSha256: string | null): Promise<void> {
    await this.change(address, 'password_hash = $2, scram_sha256 = $3', [passwordHash, scramSha256]);
  }

  async setDisabled(address: string, disabled: boolean): Promise<void> {
    await this.change(address, 'disabled = $2', [disabled]);
  }

  async setQuota(address: string, quota: number | null): Promise<void> {
    await this.change(address, 'quota = $2', [quota]);
  }

  async removeAccount(address: string): Promise<void> {
    await this.db.atomic(async () => {
      const row = await this.db.one<{ id: number; address: string }>('SELECT id, address FROM accounts WHERE address = $1 FOR UPDATE', [fold(address)]);
      if (!row) throw new MailError('NONEXISTENT', `no such account: ${address}`);
      // As SQLite's foreign keys: the mail index goes first (MailStore.deleteAccountMail).
      if (await this.db.one('SELECT 1 FROM mailboxes WHERE account_id = $1 LIMIT 1', [row.id])) {
        throw new MailError('INTERNAL', `account ${row.address} still has mailboxes in the index`);
      }
      // Scripts, delivery memory, subscriptions and metadata go with it (ON DELETE CASCADE).
      await this.db.query('DELETE FROM accounts WHERE id = $1', [row.id]);
    });
  }

  async addAliasTargets(address: string, targets: string[]): Promise<void> {
    const alias = address.toLowerCase();
    const domain = domainOf(alias);
    await this.db.atomic(async () => {
      if (!(await this.db.one('SELECT 1 FROM domains WHERE name = $1 FOR UPDATE', [fold(domain)]))) throw new MailError('NONEXISTENT', `no such domain: ${domain}`);
      if (await this.db.one('SELECT 1 FROM accounts WHERE address = $1', [fold(alias)])) {
        throw new MailError('ALREADYEXISTS', `${alias} is an account; an alias cannot shadow it`);
      }
      if (targets.length === 0) return;
      await this.db.query(
        `INSERT INTO aliases (address, domain, target) SELECT $1, $2, t FROM unnest($3::text[]) AS t ON CONFLICT DO NOTHING`,
        [fold(alias), fold(domain), targets.map((t) => fold(t.toLowerCase()))],
      );
    });
  }

  async removeAliasTargets(address: string, targets?: string[]): Promise<void> {
    const key = fold(address);
    // One by one, as the SQLite backend: the targets before a missing one are gone (and stay gone).
    const missing = await this.db.atomic(async () => {
      const current = new Set((await this.db.query<{ target: string }>('SELECT target FROM aliases WHERE address = $1 FOR UPDATE', [key])).map((r) => r.target));
      if (current.size === 0) throw new MailError('NONEXISTENT', `no such alias: ${address}`);
      if (targets === undefined) {
        await this.db.query('DELETE FROM aliases WHERE address = $1', [key]);
        return undefined;
      }
      const gone: string[] = [];
      let missing: string | undefined;
      for (const t of targets) {
        if (!current.delete(fold(t))) {
          missing = t;
          break;
        }
        gone.push(fold(t));
      }
      await this.db.query('DELETE FROM aliases WHERE address = $1 AND target = ANY($2::text[])', [key, gone]);
      return missing;
    });
    if (missing !== undefined) throw new MailError('NONEXISTENT', `${missing} is not a target of ${address}`);
  }

  async getAlias(address: string): Promise<AliasRecord | undefined> {
    const key = fold(address);
    const rows = await this.db.query<{ target: string }>('SELECT target FROM aliases WHERE address = $1 ORDER BY target', [key]);
    if (rows.length === 0) return undefined;
    return Object.freeze({ address: key, targets: Object.freeze(rows.map((r) => r.target)) as string[] });
  }

  async listAliases(): Promise<AliasRecord[]> {
    const rows = await this.db.query<{ address: string; targets: string[] }>(
      'SELECT address, array_agg(target ORDER BY target) AS targets FROM aliases GROUP BY address, domain ORDER BY domain, address',
    );
    return rows.map((r) => ({ address: r.address, targets: r.targets }));
  }
}
