// One PostgreSQL database behind the storage ports: a pool, and where each
// query runs. A unit of work (Storage.transaction) is one PostgreSQL
// transaction on one pooled client, found through the async context of the
// call (the port calls of a unit's body run in it); nested units and every
// change a port makes inside a unit are savepoints, so a refused change
// (a unique violation, say) undoes only itself and the unit goes on.
// Outside a unit, a change that needs several statements is a transaction
// of its own on a client of its own.
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { MailError } from '../errors.js';

/** int8 (ids, sizes, UIDs, MODSEQs, times in ms) as numbers: all stay below 2^53. */
const builtin = pg.types.getTypeParser as unknown as (oid: number, format?: string) => (v: string) => unknown;
const types = {
  getTypeParser: (oid: number, format?: string) => {
    if (oid === 20) return (v: string) => Number(v);
    if (oid === 1016) {
      const parseArray = builtin(1016) as (v: string) => Array<string | null>;
      return (v: string) => parseArray(v).map((x) => (x === null ? null : Number(x)));
    }
    return builtin(oid, format);
  },
} as unknown as pg.CustomTypesConfig;

export type Row = Record<string, unknown>;

interface Scope {
  client: pg.PoolClient;
  /** Savepoint names taken on this client (shared by the nested scopes). */
  names: { next: number };
  /** The last step (savepoint) opened in this scope: steps side by side on one client go one after another. */
  last: Promise<unknown>;
}

/** PostgreSQL error codes that say "try again": lost connection, shutdown, serialization, deadlock. */
function isTransient(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('08') || code.startsWith('57P') || code === '40001' || code === '40P01' || code === '53300');
}

/** A driver or server failure as a MailError (MailErrors pass through). */
export function asMailError(err: unknown): unknown {
  if (err instanceof MailError) return err;
  const code = (err as { code?: string }).code;
  if (isTransient(code) || (err instanceof Error && /ECONNREFUSED|ECONNRESET|timeout|terminat/i.test(err.message) && code === undefined)) {
    return new MailError('TEMPFAIL', 'the database is unavailable; try again later', { cause: err });
  }
  return err;
}

export function pgCode(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

export class PgDatabase {
  readonly pool: pg.Pool;
  private readonly scope = new AsyncLocalStorage<Scope>();

  constructor(url: string, options: { max?: number } = {}) {
    this.pool = new pg.Pool({ connectionString: url, types, max: options.max ?? 10 });
    // An idle client whose connection drops must not take the process down.
    this.pool.on('error', () => {});
  }

  get inUnit(): boolean {
    return this.scope.getStore() !== undefined;
  }

  /** One statement: on the unit's client inside a unit, else on any pooled one. */
  async query<R extends Row = Row>(text: string, values?: unknown[]): Promise<R[]> {
    const s = this.scope.getStore();
    try {
      const result = await (s ? s.client.query<R>(text, values) : this.pool.query<R>(text, values));
      return result.rows;
    } catch (err) {
      throw asMailError(err);
    }
  }

  /** The first row, or undefined. */
  async one<R extends Row = Row>(text: string, values?: unknown[]): Promise<R | undefined> {
    return (await this.query<R>(text, values))[0];
  }

  /**
   * Runs fn as one all-or-nothing step: a savepoint inside a unit (or
   * another atomic step), else a transaction of its own on one client.
   * Queries fn makes through this database run there.
   */
  async atomic<T>(fn: () => Promise<T>): Promise<T> {
    const s = this.scope.getStore();
    if (s) return this.savepoint(s, fn);
    return this.transaction(fn);
  }

  /** The unit of work's own all-or-nothing (see storage/unit-of-work.ts portsWithUnits). */
  runUnit<T>(body: () => Promise<T>): Promise<T> {
    return this.atomic(body);
  }

  private async transaction<T>(fn: () => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw asMailError(err);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await this.scope.run({ client, names: { next: 0 }, last: Promise.resolve() }, fn);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw asMailError(err);
    } finally {
      client.release(broken);
    }
  }

  /** A step inside a transaction: after the steps opened before it in the same scope (one client runs one at a time). */
  private savepoint<T>(s: Scope, fn: () => Promise<T>): Promise<T> {
    const run = s.last.then(
      () => this.savepointNow(s, fn),
      () => this.savepointNow(s, fn),
    );
    s.last = run.catch(() => {});
    return run;
  }

  private async savepointNow<T>(s: Scope, fn: () => Promise<T>): Promise<T> {
    const name = `sp${++s.names.next}`;
    await s.client.query(`SAVEPOINT ${name}`).catch((err: unknown) => {
      throw asMailError(err);
    });
    try {
      const result = await this.scope.run({ client: s.client, names: s.names, last: Promise.resolve() }, fn);
      await s.client.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      await s.client.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => {});
      throw asMailError(err);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
