// Sieve scripts in PostgreSQL, as storage/scripts.ts keeps them (rows plus
// files there, rows only here): at most one active per account (a partial
// unique index), the active one cannot be removed (RFC 5804 DELETESCRIPT),
// a rename keeps it active.
import type { ScriptStore } from '../ports.js';
import type { ScriptInfo } from '../scripts.js';
import { MailError } from '../errors.js';
import { MAX_SCRIPTS_PER_ACCOUNT, validateScriptName } from '../names.js';
import { pgCode, type PgDatabase } from './db.js';

export class PgScriptStore implements ScriptStore {
  constructor(private readonly db: PgDatabase) {}

  async list(accountId: number): Promise<ScriptInfo[]> {
    return (await this.db.query<{ name: string; active: boolean }>('SELECT name, active FROM scripts WHERE account_id = $1 ORDER BY name', [accountId])).map(
      (r) => ({ name: r.name, active: r.active }),
    );
  }

  async get(accountId: number, name: string): Promise<string> {
    const n = validateScriptName(name);
    const row = await this.db.one<{ body: string }>('SELECT body FROM scripts WHERE account_id = $1 AND name = $2', [accountId, n]);
    if (!row) throw new MailError('NONEXISTENT', `no such script: ${n}`);
    return row.body;
  }

  async exists(accountId: number, name: string): Promise<boolean> {
    return (await this.db.one('SELECT 1 FROM scripts WHERE account_id = $1 AND name = $2', [accountId, name])) !== undefined;
  }

  async active(accountId: number): Promise<{ name: string; text: string } | undefined> {
    const row = await this.db.one<{ name: string; body: string }>('SELECT name, body FROM scripts WHERE account_id = $1 AND active', [accountId]);
    return row && { name: row.name, text: row.body };
  }

  async put(accountId: number, name: string, text: string): Promise<void> {
    const n = validateScriptName(name);
    await this.db.atomic(async () => {
      // The account row lock serialises puts of one account, so the count below stays true.
      if (!(await this.db.one('SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE', [accountId]))) throw new MailError('NONEXISTENT', 'no such account');
      const { n: count, has } = (await this.db.one<{ n: number; has: boolean }>(
        'SELECT count(*)::int AS n, bool_or(name = $2) AS has FROM scripts WHERE account_id = $1',
        [accountId, n],
      ))!;
      if (!has && count >= MAX_SCRIPTS_PER_ACCOUNT) throw new MailError('LIMIT', `too many scripts (limit ${MAX_SCRIPTS_PER_ACCOUNT})`);
      await this.db.query('INSERT INTO scripts (account_id, name, body) VALUES ($1, $2, $3) ON CONFLICT (account_id, name) DO UPDATE SET body = EXCLUDED.body', [
        accountId,
        n,
        text,
      ]);
    });
  }

  async activate(accountId: number, name: string | undefined): Promise<void> {
    await this.db.atomic(async () => {
      if (name !== undefined && !(await this.db.one('SELECT 1 FROM scripts WHERE account_id = $1 AND name = $2', [accountId, validateScriptName(name)]))) {
        throw new MailError('NONEXISTENT', `no such script: ${name}`);
      }
      await this.db.query('UPDATE scripts SET active = false WHERE account_id = $1 AND active', [accountId]);
      if (name !== undefined) await this.db.query('UPDATE scripts SET active = true WHERE account_id = $1 AND name = $2', [accountId, validateScriptName(name)]);
    });
  }

  async remove(accountId: number, name: string): Promise<void> {
    const n = validateScriptName(name);
    await this.db.atomic(async () => {
      const row = await this.db.one<{ active: boolean }>('SELECT active FROM scripts WHERE account_id = $1 AND name = $2 FOR UPDATE', [accountId, n]);
      if (!row) throw new MailError('NONEXISTENT', `no such script: ${n}`);
      if (row.active) throw new MailError('REFUSED', `script ${n} is active; deactivate it first`);
      await this.db.query('DELETE FROM scripts WHERE account_id = $1 AND name = $2', [accountId, n]);
    });
  }

  async rename(accountId: number, from: string, to: string): Promise<void> {
    const a = validateScriptName(from);
    const b = validateScriptName(to);
    await this.db.atomic(async () => {
      if (!(await this.db.one('SELECT 1 FROM scripts WHERE account_id = $1 AND name = $2 FOR UPDATE', [accountId, a]))) throw new MailError('NONEXISTENT', `no such script: ${a}`);
      try {
        await this.db.query('UPDATE scripts SET name = $3 WHERE account_id = $1 AND name = $2', [accountId, a, b]);
      } catch (err) {
        if (pgCode(err) === '23505') throw new MailError('ALREADYEXISTS', `script ${b} exists already`);
        throw err;
      }
    });
  }

  async removeAll(accountId: number): Promise<void> {
    await this.db.atomic(async () => {
      if (!(await this.db.one('SELECT 1 FROM accounts WHERE id = $1', [accountId]))) throw new MailError('NONEXISTENT', 'no such account');
      await this.db.query('DELETE FROM scripts WHERE account_id = $1', [accountId]);
    });
  }
}
