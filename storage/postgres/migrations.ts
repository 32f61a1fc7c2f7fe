// Applies the PostgreSQL schema steps (storage/schema/postgres.ts) at open,
// by the rules of storage/schema/index.ts. The schema_version table has a
// row per step applied. A node applies the rest holding a transaction-level
// advisory lock, so nodes starting together wait for each other instead of
// racing.
import pg from 'pg';
import { MailError } from '../errors.js';
import { pendingSteps } from '../schema/index.js';
import { redactedUrl } from './migrate-target.js';

/** Any number, the same on every node: the advisory lock migrations hold. */
const MIGRATION_LOCK = 0x706f7374; // "post"

/**
 * The version schema_version records: its highest step, when it holds every
 * step from 1 to that one (steps are applied in order, in one transaction:
 * a gap means the table was changed by other hands, and is refused rather
 * than filled or skipped). 0 without the table.
 */
export async function recordedVersion(client: pg.ClientBase): Promise<number> {
  const exists = await client.query<{ t: string | null }>(`SELECT to_regclass('schema_version')::text AS t`);
  if (exists.rows[0]?.t == null) return 0;
  const versions = (await client.query<{ version: number }>('SELECT version FROM schema_version ORDER BY version')).rows.map((r) => r.version);
  const missing = versions.length === 0 ? [] : Array.from({ length: versions[versions.length - 1]! }, (_, i) => i + 1).filter((v) => !versions.includes(v));
  if (missing.length > 0) {
    throw new MailError('INTERNAL', `the PostgreSQL schema_version table lacks step(s) ${missing.slice(0, 5).join(', ')} below ${versions[versions.length - 1]!}: it was changed outside Postino`);
  }
  return versions.length;
}

/** Applies the steps not yet applied, under the advisory lock; returns the versions it applied. */
export async function migrate(pool: pg.Pool): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const applied: number[] = [];
    for (const step of pendingSteps('postgres', await recordedVersion(client))) {
      await client.query(step.sql);
      await client.query('INSERT INTO schema_version (version) VALUES ($1)', [step.version]);
      applied.push(step.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** The version the database at `url` records, read without changing it (no table made, no step applied). */
export async function peekSchemaVersion(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    return await recordedVersion(client);
  } catch (err) {
    if (err instanceof MailError) throw err;
    throw new MailError('TEMPFAIL', `cannot read the schema version of ${redactedUrl(url)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    await client.end().catch(() => {});
  }
}
