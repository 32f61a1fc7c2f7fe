// IMAP METADATA (RFC 5464) entries in PostgreSQL, as storage/metadata.ts
// keeps them: per mailbox and for the server (mailbox 0), every change of a
// SETMETADATA applied or none, limits that refuse only growth.
import type { MetadataStore } from '../ports.js';
import type { MetadataChange, MetadataEntry, MetadataLimits, MetadataSetResult } from '../metadata.js';
import { isStorableEntryName } from '../metadata.js';
import { MailError } from '../errors.js';
import type { PgDatabase } from './db.js';

const SERVER = 0;

interface Usage {
  entries: number;
  bytes: number;
}

export class PgMetadata implements MetadataStore {
  constructor(private readonly db: PgDatabase) {}

  async read(accountId: number, mailboxId: number | null, entry: string, descendants: boolean): Promise<MetadataEntry[]> {
    const box = mailboxId ?? SERVER;
    const rows = descendants
      ? await this.db.query<{ entry: string; value: Buffer }>(
          'SELECT entry, value FROM metadata WHERE account_id = $1 AND mailbox_id = $2 AND (entry = $3 OR left(entry, length($3) + 1) = $3 || \'/\') ORDER BY entry',
          [accountId, box, entry],
        )
      : await this.db.query<{ entry: string; value: Buffer }>('SELECT entry, value FROM metadata WHERE account_id = $1 AND mailbox_id = $2 AND entry = $3', [
          accountId,
          box,
          entry,
        ]);
    return rows.map((r) => ({ entry: r.entry, value: r.value }));
  }

  async set(accountId: number, mailboxId: number | null, changes: readonly MetadataChange[], limits: MetadataLimits): Promise<MetadataSetResult> {
    for (const c of changes) {
      if (!isStorableEntryName(c.entry)) throw new MailError('BADINPUT', `invalid entry name ${c.entry}`);
      if (c.value !== null && c.value.length > limits.maxValueSize) return { ok: false, reason: 'maxsize', maxSize: limits.maxValueSize };
    }
    const box = mailboxId ?? SERVER;
    return this.db.atomic(async () => {
      // The account row lock: the account's usage cannot change under the check.
      await this.db.query('SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE', [accountId]);
      if (mailboxId !== null) {
        const owner = await this.db.one<{ account_id: number }>('SELECT account_id FROM mailboxes WHERE id = $1', [mailboxId]);
        if (owner?.account_id !== accountId) throw new MailError('NONEXISTENT', 'no such mailbox');
      }
      const rows = await this.db.query<{ mailbox_id: number; entry: string; size: number }>(
        'SELECT mailbox_id, entry, length(entry) + length(value) AS size FROM metadata WHERE account_id = $1',
        [accountId],
      );
      const mine = new Map(rows.filter((r) => r.mailbox_id === box).map((r) => [r.entry, r.size]));
      const others = rows.filter((r) => r.mailbox_id !== box).reduce((u, r) => ({ entries: u.entries + 1, bytes: u.bytes + r.size }), { entries: 0, bytes: 0 });
      const next = new Map(mine);
      for (const c of changes) {
        if (c.value === null) next.delete(c.entry);
        else next.set(c.entry, c.entry.length + c.value.length);
      }
      const usage = (m: Map<string, number>): Usage => ({ entries: m.size, bytes: [...m.values()].reduce((a, b) => a + b, 0) });
      const plus = (a: Usage, b: Usage): Usage => ({ entries: a.entries + b.entries, bytes: a.bytes + b.bytes });
      // A change that does not grow what is over a limit (a removal, a shorter value) is always allowed.
      const grew = (was: Usage, now: Usage, maxEntries: number, maxBytes: number) =>
        (now.entries > maxEntries && now.entries > was.entries) || (now.bytes > maxBytes && now.bytes > was.bytes);
      if (
        grew(usage(mine), usage(next), limits.maxEntriesPerMailbox, limits.maxBytesPerMailbox) ||
        grew(plus(others, usage(mine)), plus(others, usage(next)), limits.maxEntriesPerAccount, limits.maxBytesPerAccount)
      ) {
        return { ok: false, reason: 'toomany' } as const;
      }
      for (const c of changes) {
        if (c.value === null) await this.db.query('DELETE FROM metadata WHERE account_id = $1 AND mailbox_id = $2 AND entry = $3', [accountId, box, c.entry]);
        else {
          await this.db.query(
            'INSERT INTO metadata (account_id, mailbox_id, entry, value) VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, mailbox_id, entry) DO UPDATE SET value = EXCLUDED.value',
            [accountId, box, c.entry, c.value],
          );
        }
      }
      return { ok: true } as const;
    });
  }
}
