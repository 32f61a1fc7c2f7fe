// Bodies in PostgreSQL itself: the blobs table's body column (the default
// when `storage.blobs` is not set). See blobs.ts for the rows and locks.
import { MailError } from '../errors.js';
import type { PgDatabase } from './db.js';
import { collectUnnamed, lockBodyRows, type BlobStore, type NewBody } from './blobs.js';

export class TableBlobStore implements BlobStore {
  constructor(private readonly db: PgDatabase) {}

  async prepare(): Promise<void> {}

  async attach(bodies: readonly NewBody[]): Promise<void> {
    await lockBodyRows(this.db, bodies, async (missing) => {
      await this.db.query('INSERT INTO blobs (hash, body) SELECT * FROM unnest($1::bytea[], $2::bytea[]) ON CONFLICT (hash) DO NOTHING', [
        missing.map((b) => b.hash),
        missing.map((b) => b.raw),
      ]);
    });
  }

  async read(mailboxId: number, uid: number, maxBytes?: number): Promise<Buffer> {
    const limit = maxBytes === undefined ? null : Math.min(0x7fffffff, Math.max(0, Math.floor(maxBytes)));
    const row = await this.db.one<{ body: Buffer; stored: number; size: number }>(
      `SELECT CASE WHEN $3::bigint IS NULL THEN b.body ELSE substring(b.body FROM 1 FOR $3::int) END AS body, octet_length(b.body)::bigint AS stored, m.size
       FROM messages m JOIN blobs b ON b.hash = m.blob_hash WHERE m.mailbox_id = $1 AND m.uid = $2`,
      [mailboxId, uid, limit],
    );
    if (!row) throw new MailError('NONEXISTENT', 'no such message');
    // A row without its body was made by a node that keeps bodies in a directory (storage.blobs): never answer with a wrong body.
    if (row.stored !== row.size) throw new MailError('TEMPFAIL', 'this message body is not in the database (it is in a blob directory: set storage.blobs)');
    return row.body;
  }

  /** Nothing was stored ahead: the failed transaction took its rows with it. */
  async discard(): Promise<void> {}

  async collect(hashes: readonly Buffer[]): Promise<void> {
    await collectUnnamed(this.db.pool, hashes);
  }
}
