// What delivery remembers between messages (vacation replies sent, RFC 5230;
// ids seen by the duplicate test, RFC 7352), in PostgreSQL, as
// storage/index/delivery-memory.ts keeps it in SQLite.
import type { DeliveryMemory } from '../ports.js';
import type { PgDatabase } from './db.js';

function fold(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

export class PgDeliveryMemory implements DeliveryMemory {
  constructor(private readonly db: PgDatabase) {}

  async vacationSentRecently(accountId: number, sender: string, handle: string, now = Date.now()): Promise<boolean> {
    const row = await this.db.one('SELECT 1 FROM vacations WHERE account_id = $1 AND sender = $2 AND handle = $3 AND expires > $4', [accountId, fold(sender), handle, now]);
    return row !== undefined;
  }

  async recordVacation(accountId: number, sender: string, handle: string, periodMs: number, now = Date.now()): Promise<void> {
    await this.db.query(
      `INSERT INTO vacations (account_id, sender, handle, expires) VALUES ($1, $2, $3, $4)
       ON CONFLICT (account_id, sender, handle) DO UPDATE SET expires = EXCLUDED.expires`,
      [accountId, fold(sender), handle, now + periodMs],
    );
  }

  async checkDuplicate(accountId: number, handle: string, id: string, periodMs: number, last: boolean, now = Date.now()): Promise<boolean> {
    // Read under the row's lock, then refreshed when it was not seen or :last asks for it. Two
    // deliveries of one id at once on two nodes: the second finds the first's row (or its conflict).
    return this.db.atomic(async () => {
      const before = await this.db.one<{ expires: number }>('SELECT expires FROM duplicates WHERE account_id = $1 AND handle = $2 AND id = $3 FOR UPDATE', [
        accountId,
        handle,
        id,
      ]);
      const seen = before !== undefined && before.expires > now;
      if (!seen || last) {
        await this.db.query(
          `INSERT INTO duplicates (account_id, handle, id, expires) VALUES ($1, $2, $3, $4)
           ON CONFLICT (account_id, handle, id) DO UPDATE SET expires = EXCLUDED.expires`,
          [accountId, handle, id, now + periodMs],
        );
      }
      return seen;
    });
  }

  async prune(now = Date.now()): Promise<void> {
    await this.db.query('DELETE FROM vacations WHERE expires <= $1', [now]);
    await this.db.query('DELETE FROM duplicates WHERE expires <= $1', [now]);
  }
}
