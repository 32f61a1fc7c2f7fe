// A scratch PostgreSQL 15 cluster for tests: initdb in a temporary
// directory, the server on a free loopback port (its unix socket inside
// that directory), stopped and removed afterwards. One cluster per test
// file; each test takes a fresh database of its own (CREATE DATABASE).
// initdb refuses to run as root, so as root the cluster belongs to the
// `postgres` system user and its commands run through runuser.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
const BIN = process.env.POSTINO_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const SUPERUSER = 'postino_test';

export interface PostgresCluster {
  port: number;
  /** A connection URL for `database` (the cluster's own `postgres` database by default). */
  url(database?: string): string;
  /** A new database, empty or a copy of `template` (a database nobody is connected to); returns its URL. */
  createDatabase(template?: string): Promise<string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Runs a PostgreSQL binary, as the postgres user when we are root. */
function command(bin: string, args: string[]): [string, string[]] {
  const exe = path.join(BIN, bin);
  if (process.getuid?.() === 0) return ['runuser', ['-u', 'postgres', '--', exe, ...args]];
  return [exe, args];
}

async function postgresUid(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('id', ['-u', 'postgres']);
  const { stdout: g } = await run('id', ['-g', 'postgres']);
  return { uid: Number(stdout.trim()), gid: Number(g.trim()) };
}

export interface StartPostgresOptions {
  /** Keep fsync and synchronous commits on (default off: a scratch cluster, faster). */
  durable?: boolean;
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresCluster> {
  for (const bin of ['initdb', 'postgres']) {
    if (!existsSync(path.join(BIN, bin))) {
      throw new Error(`PostgreSQL 15 is not installed: ${path.join(BIN, bin)} is missing (apt-get install postgresql-15, or set POSTINO_PG_BIN)`);
    }
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'postino-pg-'));
  const data = path.join(dir, 'data');
  let child: ChildProcess | undefined;
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    if (process.getuid?.() === 0) {
      const { uid, gid } = await postgresUid();
      chownSync(dir, uid, gid);
    }
    const [initExe, initArgs] = command('initdb', ['-D', data, '-U', SUPERUSER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-instructions', '--no-sync']);
    await run(initExe, initArgs).catch((err: { stderr?: string; message: string }) => {
      throw new Error(`initdb failed: ${err.stderr ?? err.message}`);
    });
    const port = await freePort();
    const [exe, args] = command('postgres', [
      '-D', data,
      '-c', 'listen_addresses=127.0.0.1',
      '-c', `port=${port}`,
      '-c', `unix_socket_directories=${dir}`,
      '-c', 'max_connections=200',
      '-c', 'shared_buffers=32MB',
      '-c', 'logging_collector=off',
      // A scratch cluster: nothing in it must survive a crash of the machine, so no waiting for the disk.
      ...(options.durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
    ]);
    child = spawn(exe, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-4000);
    });
    const exited = new Promise<never>((_, reject) => child!.once('exit', (code) => reject(new Error(`postgres exited (${code}): ${log}`))));
    exited.catch(() => {});
    const url = (database = 'postgres') => `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}`;
    // Ready when it answers a query.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const client = new pg.Client({ connectionString: url() });
      try {
        await Promise.race([client.connect(), exited]);
        await client.end();
        break;
      } catch (err) {
        await client.end().catch(() => {});
        if (child.exitCode !== null || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    let databases = 0;
    const server = child;
    return {
      port,
      url,
      async createDatabase(template?: string) {
        const name = `t${process.pid}_${++databases}`;
        const client = new pg.Client({ connectionString: url() });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${name}${template === undefined ? '' : ` TEMPLATE ${pg.escapeIdentifier(template)}`}`);
        } finally {
          await client.end();
        }
        return url(name);
      },
      async stop() {
        if (server.exitCode === null) {
          const gone = new Promise((r) => server.once('exit', r));
          // The immediate shutdown: nothing in a scratch cluster needs a checkpoint (runuser would turn a signal into a smart one).
          const [ctl, ctlArgs] = command('pg_ctl', ['-D', data, 'stop', '-m', 'immediate', '-w']);
          await run(ctl, ctlArgs).catch(() => server.kill('SIGKILL'));
          const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
          await gone;
          clearTimeout(timer);
        }
        cleanup();
      },
    };
  } catch (err) {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    cleanup();
    throw err;
  }
}
