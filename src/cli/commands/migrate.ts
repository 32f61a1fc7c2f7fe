// postino migrate --to postgres URL: moves the data dir from SQLite +
// Maildir to PostgreSQL (storage/migrate.ts does the work), then says what
// to change in the config, or changes it with --write-config. By default the
// config is left alone: the administrator switches when ready (the
// SQLite data stays as it was, the way back).
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { CliCommand, CliContext } from '../command.js';
import { stringOption } from '../command.js';
import { MailError } from '../../../storage/errors.js';
import { migrateToPostgres, type MigrationReport } from '../../../storage/migrate.js';
import { readSchemaStatus, type SchemaStatus } from '../../../storage/index.js';
import { loadConfig } from '../../config.js';

/** The storage keys the migration sets: the backend, its URL, and the blob directory when one was given. */
interface TargetStorage {
  url: string;
  blobs?: string;
}

function storageSnippet(t: TargetStorage): string {
  const blobs = t.blobs !== undefined ? `, "blobs": ${JSON.stringify(t.blobs)}` : '';
  return `"storage": { "backend": "postgres", "url": ${JSON.stringify(t.url)}${blobs} }`;
}

/** Sets storage.backend, storage.url (and storage.blobs) in the config file (made if missing), keeping every other key; replaced atomically, mode 0600 (the URL may hold a password). */
function writeConfig(file: string, target: TargetStorage): void {
  let config: Record<string, unknown> = {};
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new MailError('BADINPUT', `cannot read config ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (text !== undefined) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      config = parsed as Record<string, unknown>;
    } catch {
      throw new MailError('BADINPUT', `config ${file} is not a JSON object: not changed`);
    }
  }
  const storage = typeof config.storage === 'object' && config.storage !== null ? (config.storage as Record<string, unknown>) : {};
  config.storage = { ...storage, backend: 'postgres', url: target.url, ...(target.blobs !== undefined ? { blobs: target.blobs } : {}) };
  const tmp = `${file}.migrate.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(config, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    // The new file must load as a config before it takes the old one's place.
    loadConfig(tmp, {});
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  renameSync(tmp, file);
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

function summaryLine(r: MigrationReport): string {
  const c = r.counts;
  return (
    `in PostgreSQL: ${c.domains} domains, ${c.accounts} accounts, ${c.aliases} aliases, ${c.mailboxes} mailboxes, ${c.messages} messages (${c.bytes} bytes), ` +
    `${c.subscriptions} subscriptions, ${c.scripts} sieve scripts, ${c.queued} queued, ${c.admins} administrators, ${c.credentials} tokens/sessions`
  );
}

function tellConfig(ctx: CliContext, target: TargetStorage, write: boolean): void {
  const file = ctx.configPath ?? path.join(ctx.dataDir, 'postino.json');
  if (write) {
    writeConfig(file, target);
    ctx.out(`config: ${file} now has storage.backend "postgres" and storage.url; start serve to run on PostgreSQL`);
    return;
  }
  ctx.out(`to run on PostgreSQL, put this in ${file} (or run again with --write-config), then start serve:`);
  ctx.out(`  ${storageSnippet(target)}`);
}

/** One line: where the configured database's schema stands, e.g. `schema: sqlite v12 (current)`. */
export function schemaLine(s: SchemaStatus & { missing: boolean }): string {
  const head = `schema: ${s.backend} v${s.version}`;
  if (s.missing) return `${head} (no index yet: the first start makes it at v${s.latest})`;
  switch (s.state) {
    case 'current':
      return `${head} (current)`;
    case 'behind':
      return `${head} (${s.pending.length} step(s) to apply up to v${s.latest}, at the next start: ${s.pending.join('; ')})`;
    case 'ahead':
      return `${head} (newer than this Postino, which knows up to v${s.latest}; upgrade Postino)`;
  }
}

export const migrateCommands: CliCommand[] = [
  {
    words: ['migrate'],
    usage: '--to postgres URL [--blobs DIR] [--write-config] | --status',
    summary:
      'Moves the data dir from SQLite + Maildir to PostgreSQL, keeping UIDVALIDITY, UIDs, flags and MODSEQs. ' +
      'Copies domains, accounts (password hashes as they are), aliases, every mailbox and message, subscriptions, Sieve scripts, ' +
      'delivery memory, the queues, and admin accounts and tokens. serve must be stopped, and the database empty or holding this ' +
      'migration unfinished (after an interruption, run it again: it goes on). Both sides are compared mailbox by mailbox at the end; ' +
      'the data dir is left as it was. It then prints the config change, or makes it with --write-config. ' +
      'With --status it only says where the configured database\'s schema stands (e.g. "schema: sqlite v12 (current)"), changing nothing; exit 1 when a newer Postino wrote it.',
    options: {
      to: { type: 'string', placeholder: 'BACKEND', description: 'the backend to move to: postgres' },
      blobs: { type: 'string', placeholder: 'DIR', description: 'keep the bodies as files in this shared directory (storage.blobs, an absolute path that exists) instead of in PostgreSQL' },
      'write-config': { type: 'boolean', description: 'set storage.backend and storage.url in the config file once the copy is verified' },
      status: { type: 'boolean', description: 'only print the schema version of the configured database against this build (nothing is migrated)' },
    },
    minArgs: 0,
    maxArgs: 1,
    async run([url], options, ctx) {
      const to = stringOption(options, 'to');
      if (options.status === true) {
        if (url !== undefined || to !== undefined || options.blobs !== undefined || options['write-config'] === true) {
          throw new MailError('BADINPUT', '--status takes no URL and no other option');
        }
        const status = await readSchemaStatus(ctx.dataDir, loadConfig(ctx.configPath).storage);
        ctx.out(ctx.json ? JSON.stringify(status) : schemaLine(status));
        return status.state === 'ahead' ? 1 : 0;
      }
      if (url === undefined) throw new MailError('BADINPUT', 'missing argument (usage: postino migrate --to postgres URL)');
      if (to !== 'postgres') throw new MailError('BADINPUT', to === undefined ? '--to postgres is required' : `cannot migrate to ${to}: only --to postgres`);
      const config = loadConfig(ctx.configPath);
      if (config.storage.backend === 'postgres') throw new MailError('REFUSED', 'the config says storage.backend "postgres" already: this data dir runs on PostgreSQL');
      const write = options['write-config'] === true;
      const blobs = stringOption(options, 'blobs');
      if (blobs !== undefined && !path.isAbsolute(blobs)) throw new MailError('BADINPUT', `--blobs ${blobs}: the blob directory must be an absolute path (every node names it the same way)`);
      const target: TargetStorage = { url: url!, ...(blobs !== undefined ? { blobs } : {}) };
      const report = await migrateToPostgres(ctx.dataDir, url!, { ...(ctx.json ? {} : { progress: (line) => ctx.out(line) }), ...(blobs !== undefined ? { blobs } : {}) });
      if (ctx.json) ctx.out(JSON.stringify(report));
      if (report.alreadyFinished) {
        if (!ctx.json) ctx.out('this migration finished in an earlier run: nothing copied');
      } else if (report.mismatches.length > 0) {
        for (const m of report.mismatches) ctx.err(`mismatch: ${m}`);
        throw new MailError('TEMPFAIL', `the target does not match the source in ${report.mismatches.length} place(s): the migration is not finished and the config is unchanged; run it again`);
      } else if (!ctx.json) {
        const messages = report.mailboxes.reduce((n, m) => n + m.source.messages, 0);
        const bytes = report.mailboxes.reduce((n, m) => n + m.source.bytes, 0);
        ctx.out(summaryLine(report));
        ctx.out(`verified: ${report.mailboxes.length} mailboxes, ${messages} messages, ${bytes} bytes: the same count and size in every mailbox on both sides`);
      }
      if (!ctx.json || write) tellConfig(ctx.json ? { ...ctx, out: () => {} } : ctx, target, write);
    },
  },
];
