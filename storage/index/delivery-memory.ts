// What delivery remembers between messages, per account: vacation replies
// already sent (RFC 5230 4.2) and ids seen by the duplicate test (RFC 7352).
import { prepared, type IndexDb, type Statement } from './database.js';

export class DeliveryMemory {
  private sql(text: string): Statement {
    return prepared(this.db, text);
  }

  constructor(private readonly db: IndexDb) {}

  /** True if a vacation reply to `sender` under `handle` was sent and has not expired. */
  vacationSentRecently(accountId: number, sender: string, handle: string, now = Date.now()): boolean {
    const row = this.sql('SELECT expires FROM vacation_log WHERE account_id = ? AND sender = ? AND handle = ?').get(accountId, sender, handle) as
      | { expires: number }
      | undefined;
    return row !== undefined && row.expires > now;
  }

  recordVacation(accountId: number, sender: string, handle: string, periodMs: number, now = Date.now()): void {
    this.db
      .prepare('INSERT OR REPLACE INTO vacation_log (account_id, sender, handle, expires) VALUES (?, ?, ?, ?)')
      .run(accountId, sender, handle, now + periodMs);
  }

  /** duplicate: was `id` seen under `handle` within its period? Records it (refreshing with `last`). */
  checkDuplicate(accountId: number, handle: string, id: string, periodMs: number, last: boolean, now = Date.now()): boolean {
    const row = this.sql('SELECT expires FROM duplicate_log WHERE account_id = ? AND handle = ? AND id = ?').get(accountId, handle, id) as
      | { expires: number }
      | undefined;
    const seen = row !== undefined && row.expires > now;
    if (!seen || last) {
      this.sql('INSERT OR REPLACE INTO duplicate_log (account_id, handle, id, expires) VALUES (?, ?, ?, ?)').run(accountId, handle, id, now + periodMs);
    }
    return seen;
  }

  /** Forgets expired entries. */
  prune(now = Date.now()): void {
    this.sql('DELETE FROM vacation_log WHERE expires <= ?').run(now);
    this.sql('DELETE FROM duplicate_log WHERE expires <= ?').run(now);
  }
}
