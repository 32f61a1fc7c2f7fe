// The PostgreSQL side of `postino migrate` (storage/migrate.ts) that the
// storage ports do not cover: whether a database may receive a data dir,
// and the record of the migration kept in it.
//
// A database may receive one when it holds nothing (no tables, or Postino's
// tables all empty), or when it holds this same migration unfinished (the
// record names the source): a run after an interruption goes on where the
// last one stopped. Anything else (another application's tables, Postino
// data from elsewhere, a migration of another data dir) is refused before
// anything is written. The record is a table of its own, postino_migration,
// made by the migration and not by the schema steps (storage/schema/postgres.ts): a
// database that never received a data dir has none. While a run goes on it
// holds an advisory lock, so two runs on one database cannot interleave.
import pg from 'pg';
import { MailError } from '../errors.js';
import { SCHEMA_STEPS } from '../schema/index.js';

/** The advisory lock a migration run holds (any number, distinct from migrations.ts's). */
const RUN_LOCK = 0x6d696772; // "migr"
const RECORD = 'postino_migration';

/** Postino's own tables: those the schema steps make, their version table and the migration record. */
function postinoTables(): Set<string> {
  const names = new Set(['schema_version', RECORD]);
  for (const m of SCHEMA_STEPS.postgres) for (const match of m.sql.matchAll(/CREATE TABLE (?:IF NOT EXISTS )?([a-z_][a-z0-9_]*)/gi)) names.add(match[1]!.toLowerCase());
  return names;
}

export interface MigrationRecord {
  source: string;
  started: number;
  finished: number | null;
}

export type TargetState =
  | { kind: 'empty' }
  | { kind: 'ours'; record: MigrationRecord }
  /** `why`: one line for the administrator. */
  | { kind: 'refused'; why: string };

/** The URL without its password, for messages. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** BADINPUT unless `url` is a postgres:// or postgresql:// URL naming a host or a socket. */
export function checkPostgresUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new MailError('BADINPUT', 'not a PostgreSQL URL (expected postgres://USER:PASSWORD@HOST:PORT/DATABASE)');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new MailError('BADINPUT', `not a PostgreSQL URL: scheme ${u.protocol.replace(/:$/, '')} (expected postgres://USER:PASSWORD@HOST:PORT/DATABASE)`);
  }
}

function describe(err: unknown): string {
  const e = err as { message?: string; code?: string };
  return (e.message ?? String(err)).split('\n')[0]!.slice(0, 300);
}

export class MigrationTarget {
  private constructor(
    private readonly client: pg.Client,
    private readonly url: string,
  ) {}

  /** Connects and takes the run lock; TEMPFAIL (one line) when the database cannot be reached, REFUSED when another run holds it. */
  static async open(url: string): Promise<MigrationTarget> {
    checkPostgresUrl(url);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 15_000 });
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => {});
      throw new MailError('TEMPFAIL', `cannot connect to ${redactedUrl(url)}: ${describe(err)}`, { cause: err });
    }
    const target = new MigrationTarget(client, url);
    try {
      const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [RUN_LOCK]);
      if (!got.rows[0]?.ok) throw new MailError('REFUSED', `another postino migrate is running on ${redactedUrl(url)}`);
    } catch (err) {
      await target.close();
      throw err instanceof MailError ? err : new MailError('TEMPFAIL', `cannot lock ${redactedUrl(url)}: ${describe(err)}`, { cause: err });
    }
    return target;
  }

  /** Whether this database may receive the data dir `source`. */
  async inspect(source: string): Promise<TargetState> {
    const where = redactedUrl(this.url);
    const tables = (
      await this.query<{ schema: string; name: string }>(
        `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
      )
    ).map((r) => ({ ...r, qualified: `${r.schema}.${r.name}` }));
    const ours = postinoTables();
    const schema = (await this.query<{ s: string }>('SELECT current_schema() AS s'))[0]?.s ?? 'public';
    const foreign = tables.filter((t) => t.schema !== schema || !ours.has(t.name));
    if (foreign.length > 0) {
      const names = foreign.slice(0, 3).map((t) => t.qualified).join(', ');
      return { kind: 'refused', why: `${where} holds other data (tables ${names}${foreign.length > 3 ? ', ...' : ''}): give an empty database` };
    }
    const present = new Set(tables.map((t) => t.name));
    if (present.has(RECORD)) {
      const row = (await this.query<{ source: string; started: string; finished: string | null }>(`SELECT source, started, finished FROM ${RECORD} WHERE id = 1`))[0];
      if (row) {
        const record = { source: row.source, started: Number(row.started), finished: row.finished === null ? null : Number(row.finished) };
        if (record.source !== source) return { kind: 'refused', why: `${where} holds the migration of another data dir (${record.source}): give an empty database` };
        return { kind: 'ours', record };
      }
    }
    // Postino's tables made by a serve or an earlier open, but nothing in them: as good as empty.
    for (const table of ['domains', 'accounts', 'mailboxes', 'queue_entries', 'admin_accounts', 'blobs']) {
      if (!present.has(table)) continue;
      const rows = await this.query(`SELECT 1 FROM ${pg.escapeIdentifier(table)} LIMIT 1`);
      if (rows.length > 0) return { kind: 'refused', why: `${where} already holds Postino data (${table} is not empty) that no migration of this data dir put there: give an empty database` };
    }
    return { kind: 'empty' };
  }

  /** Records that this database receives `source` (once; a later run finds it). */
  async begin(source: string): Promise<MigrationRecord> {
    await this.query(`CREATE TABLE IF NOT EXISTS ${RECORD} (id integer PRIMARY KEY CHECK (id = 1), source text NOT NULL, started bigint NOT NULL, finished bigint)`);
    await this.query(`INSERT INTO ${RECORD} (id, source, started) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING`, [source, Date.now()]);
    const row = (await this.query<{ source: string; started: string; finished: string | null }>(`SELECT source, started, finished FROM ${RECORD} WHERE id = 1`))[0]!;
    if (row.source !== source) throw new MailError('REFUSED', `${redactedUrl(this.url)} holds the migration of another data dir (${row.source})`);
    return { source: row.source, started: Number(row.started), finished: row.finished === null ? null : Number(row.finished) };
  }

  /** Records that the copy is complete and verified: a later run changes nothing. */
  async finish(): Promise<void> {
    await this.query(`UPDATE ${RECORD} SET finished = $1 WHERE id = 1 AND finished IS NULL`, [Date.now()]);
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => {});
  }

  private async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]> {
    try {
      return (await this.client.query<R>(text, values)).rows;
    } catch (err) {
      throw new MailError('TEMPFAIL', `${redactedUrl(this.url)}: ${describe(err)}`, { cause: err });
    }
  }
}
