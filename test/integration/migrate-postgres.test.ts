// postino migrate --to postgres URL, end to end with a real PostgreSQL: a
// data dir with 10,000 messages in several folders (flags, keywords,
// MODSEQs from flag changes), subscriptions, a Sieve script, an alias, a
// held queue entry, delivery memory, and a few messages delivered over real
// SMTP by serve. An IMAP client records every folder (UIDVALIDITY, UIDNEXT,
// HIGHESTMODSEQ, each UID's flags and MODSEQ, some bodies' hashes) on
// SQLite; the migration is killed with SIGKILL in the middle and run again;
// serve on PostgreSQL then shows the client the same, and the password
// still logs in. Refusals: serve running on the data dir, a database
// holding other data, a bad URL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { ImapFlow } from 'imapflow';
import { scratchDir } from '../support/tmp.js';
import { startServe, type Served } from '../support/serve.js';
import { cliPath } from '../support/paths.js';
import { postino } from '../support/cli.js';
import { openDialog } from '../support/smtp-dialog.js';
import { startPostgres, type PostgresCluster } from '../support/postgres.js';
import { openStorage } from '../../storage/index.js';
import { openPostgresStorage } from '../../storage/postgres/index.js';
import { SERVICES } from '../../src/config.js';

const ANN = 'ann@example.test';
const PASSWORD = 'tangerine-otter-42';
/** Folder -> messages put there through the storage ports. */
const FOLDERS: Array<[string, number]> = [
  ['INBOX', 4005],
  ['Archive/2025', 3000],
  ['Work/Projects', 2000],
  ['Lists', 1000],
];
const TOTAL = FOLDERS.reduce((n, [, c]) => n + c, 0);
const SMTP_MESSAGES = 3;

let cluster: PostgresCluster;
const data = scratchDir('migrate-pg-');
const servePorts = { ...Object.fromEntries(SERVICES.map((x) => [`POSTINO_${x.toUpperCase()}_PORT`, '0'])), POSTINO_DEMO: '0' };

before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
  data.cleanup();
});

function message(folder: string, i: number): Buffer {
  const pad = 'x'.repeat(i % 300);
  return Buffer.from(
    `From: <list${i % 7}@remote.test>\r\nTo: <${ANN}>\r\nSubject: ${folder} message ${i}\r\nMessage-ID: <${folder.replace(/\W/g, '')}.${i}@remote.test>\r\n` +
      `Date: Mon, 1 Dec 2025 10:00:00 +0000\r\n\r\nbody ${i} of ${folder}\r\n${pad}\r\n`,
  );
}

function flagsFor(i: number): string[] {
  const f: string[] = [];
  if (i % 3 === 0) f.push('\\Seen');
  if (i % 7 === 0) f.push('\\Flagged');
  if (i % 17 === 0) f.push('\\Answered');
  if (i % 11 === 0) f.push('$Label1');
  if (i % 13 === 0) f.push('Project-X');
  return f;
}

/** The data dir as an administrator has it: made by the CLI, then filled fast through the storage ports. */
async function fillDataDir(): Promise<{ queueId: string }> {
  const add = postino(data.dir, ['domain', 'add', 'example.test', '--postmaster', ANN, '--password-stdin'], `${PASSWORD}\n`);
  assert.equal(add.code, 0, add.stderr);

  // The rest through the storage ports: a CLI process costs seconds on a loaded machine.
  const storage = openStorage(data.dir);
  try {
    const ann = (await storage.directory.getAccount(ANN))!;
    await storage.directory.addAliasTargets('sales@example.test', [ANN]);
    await storage.scripts.put(ann.id, 'rules', 'require ["fileinto"];\nif header :contains "subject" "invoice" { fileinto "Lists"; }\n');
    await storage.scripts.activate(ann.id, 'rules');
    await storage.mail.provisionAccount(ann.id);
    for (const [folder, count] of FOLDERS) {
      if (!(await storage.mail.hasMailbox(ann.id, folder))) await storage.mail.createMailbox(ann.id, folder);
      for (let start = 0; start < count; start += 500) {
        const batch = [];
        for (let i = start; i < Math.min(count, start + 500); i++) batch.push({ raw: message(folder, i), options: { flags: flagsFor(i), internalDate: 1_760_000_000_000 + i * 60_000 } });
        await storage.mail.appendMany(ann.id, folder, batch);
      }
      // Later flag changes and an expunge: MODSEQs no longer follow UIDs, and UIDs have a hole.
      const mb = (await storage.mail.findMailbox(ann.id, folder))!;
      await storage.mail.setFlags(mb.id, [5, 6, 7, 8], 'add', ['$Label2']);
      await storage.mail.setFlags(mb.id, [3], 'remove', ['\\Seen']);
      await storage.mail.setFlags(mb.id, [2], 'add', ['\\Deleted']);
      await storage.mail.expunge(mb.id, [2]);
    }
    await storage.mail.removeSubscription(ann.id, 'Lists');
    await storage.mail.addSubscription(ann.id, 'Ghost');
    const queued = await storage.queue.enqueue(ANN, ['someone@remote.test'], message('queue', 1), 'submission');
    await storage.queue.hold(queued.id);
    await storage.memory.recordVacation(ann.id, 'friend@remote.test', 'away', 7 * 86_400_000);
    return { queueId: queued.id };
  } finally {
    await storage.mail.drain();
    storage.close();
  }
}

async function smtpDeliver(port: number, to: string, subject: string): Promise<void> {
  const d = await openDialog(port);
  try {
    await d.send('EHLO client.remote.test');
    assert.match(await d.send('MAIL FROM:<sender@remote.test>'), /^250/);
    assert.match(await d.send(`RCPT TO:<${to}>`), /^250/);
    assert.match(await d.send('DATA'), /^354/);
    const [reply] = await d.data(`From: <sender@remote.test>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@remote.test>\r\n\r\n${subject}\r\n`);
    assert.match(reply!, /^250/);
  } finally {
    d.close();
  }
}

interface FolderView {
  uidValidity: string;
  uidNext: number;
  highestModseq: string;
  /** "UID MODSEQ INTERNALDATE flags..." per message. */
  messages: string[];
  /** UID -> SHA-256 of the body, for a sample of UIDs. */
  bodies: Record<number, string>;
}

interface AccountView {
  folders: Record<string, FolderView>;
  subscribed: string[];
}

async function imapView(port: number): Promise<AccountView> {
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: true, auth: { user: ANN, pass: PASSWORD }, tls: { rejectUnauthorized: false }, logger: false, disableAutoIdle: true });
  await client.connect();
  try {
    const listed = await client.list();
    const names = listed.filter((l) => !l.flags.has('\\Noselect')).map((l) => l.path).sort();
    const folders: Record<string, FolderView> = {};
    for (const name of names) {
      const mb = await client.mailboxOpen(name, { readOnly: true });
      const messages: string[] = [];
      const uids: number[] = [];
      if (mb.exists > 0) {
        for await (const m of client.fetch('1:*', { uid: true, flags: true, internalDate: true })) {
          messages.push(`${m.uid} ${String(m.modseq)} ${m.internalDate instanceof Date ? m.internalDate.toISOString() : String(m.internalDate)} ${[...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort().join(' ')}`);
          uids.push(m.uid);
        }
      }
      const bodies: Record<number, string> = {};
      const sample = uids.filter((_, k) => k % 400 === 0 || k === uids.length - 1);
      if (sample.length > 0) {
        for await (const m of client.fetch(sample.join(','), { uid: true, source: true }, { uid: true })) bodies[m.uid] = createHash('sha256').update(m.source!).digest('hex');
      }
      folders[name] = { uidValidity: String(mb.uidValidity), uidNext: mb.uidNext, highestModseq: String(mb.highestModseq), messages, bodies };
      await client.mailboxClose();
    }
    const subscribed = listed.filter((l) => l.subscribed).map((l) => l.path).sort();
    return { folders, subscribed };
  } finally {
    await client.logout();
  }
}

/** serve on the data dir (its config decides the backend), until fn is done. */
async function withServe<T>(fn: (ports: { smtp: number; imaps: number }, served: Served) => Promise<T>): Promise<T> {
  const served = startServe(process.execPath, [cliPath, 'serve', '--data', data.dir], servePorts);
  try {
    const port = async (service: string) => Number((await served.waitFor((e) => e.event === 'listening' && e.service === service)).port);
    const ports = { smtp: await port('smtp'), imaps: await port('imaps') };
    await served.waitFor((e) => e.event === 'ready');
    return await fn(ports, served);
  } finally {
    assert.equal(await served.stop(), 0, served.stderr());
  }
}

async function countMessages(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ n: string }>("SELECT count(*) AS n FROM messages WHERE EXISTS (SELECT 1 FROM information_schema.tables WHERE table_name = 'messages')").catch(() => ({ rows: [{ n: '0' }] }));
    return Number(r.rows[0]!.n);
  } finally {
    await client.end();
  }
}

/** Runs postino migrate and SIGKILLs it once PostgreSQL holds `atLeast` messages (folders go in name order: midway through INBOX). */
async function migrateKilledMidway(url: string, atLeast: number): Promise<void> {
  const child = spawn(process.execPath, [cliPath, 'migrate', '--to', 'postgres', url, '--data', data.dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  let signal: NodeJS.Signals | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.on('exit', (_code, s) => {
      signal = s;
      resolve();
    }),
  );
  while (signal === undefined) {
    if ((await countMessages(url)) >= atLeast) child.kill('SIGKILL');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20))]);
  }
  assert.equal(signal, 'SIGKILL', `migrate ended before it could be killed: ${out}`);
}

async function inboxCount(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.name = 'INBOX'")).rows[0]!.n);
  } finally {
    await client.end();
  }
}

test('postino migrate moves a data dir to PostgreSQL; killed midway and run again, IMAP clients see the same', { timeout: 240_000 }, async () => {
  const { queueId } = await fillDataDir();
  const url = await cluster.createDatabase();

  // Folders go in name order: Archive (empty), Archive/2025 (2,999), then INBOX (4,004): killed with part of INBOX copied.
  await migrateKilledMidway(url, 4000);
  const partial = await inboxCount(url);
  assert.ok(partial > 0 && partial < 4004, `killed midway through INBOX: ${partial} of its messages in PostgreSQL`);

  // serve runs on SQLite again before the migration is run again, as an administrator might: new mail, flag changes, an expunge in a folder copied already.
  const before = await withServe(async (ports) => {
    await smtpDeliver(ports.smtp, ANN, 'over smtp one');
    await smtpDeliver(ports.smtp, 'sales@example.test', 'over smtp two');
    await smtpDeliver(ports.smtp, ANN, 'over smtp three');
    const client = new ImapFlow({ host: '127.0.0.1', port: ports.imaps, secure: true, auth: { user: ANN, pass: PASSWORD }, tls: { rejectUnauthorized: false }, logger: false, disableAutoIdle: true });
    await client.connect();
    await client.mailboxOpen('Archive/2025');
    assert.equal(await client.messageDelete('10', { uid: true }), true);
    assert.equal(await client.messageFlagsAdd('20', ['$Later'], { uid: true }), true);
    await client.logout();

    // Refused while serve runs: one line, nothing written.
    const busy = postino(data.dir, ['migrate', '--to', 'postgres', url]);
    assert.notEqual(busy.code, 0);
    assert.match(busy.stderr, /in use by another postino serve/);
    assert.equal(busy.stderr.trim().split('\n').length, 1, busy.stderr);
    return imapView(ports.imaps);
  });
  assert.equal(before.folders.INBOX!.messages.length, FOLDERS[0]![1] - 1 + SMTP_MESSAGES);
  assert.equal(Object.values(before.folders).reduce((n, f) => n + f.messages.length, 0), TOTAL - FOLDERS.length + SMTP_MESSAGES - 1);

  const done = postino(data.dir, ['migrate', '--to', 'postgres', url]);
  assert.equal(done.code, 0, done.stderr + done.stdout);
  assert.match(done.stdout, /verified: \d+ mailboxes, 10003 messages/);
  assert.match(done.stdout, new RegExp(`"storage": \\{ "backend": "postgres", "url": "${url.replace(/[/.]/g, '\\$&')}" \\}`));
  // Not written without --write-config; a run after the end copies nothing and writes it when asked.
  assert.throws(() => readFileSync(path.join(data.dir, 'postino.json')));
  const again = postino(data.dir, ['migrate', '--to', 'postgres', url, '--write-config']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /finished in an earlier run/);
  assert.deepEqual(JSON.parse(readFileSync(path.join(data.dir, 'postino.json'), 'utf8')).storage, { backend: 'postgres', url });
  assert.equal(await countMessages(url), TOTAL - FOLDERS.length + SMTP_MESSAGES - 1);

  const afterView = await withServe(async (ports) => imapView(ports.imaps));
  assert.deepEqual(Object.keys(afterView.folders), Object.keys(before.folders));
  for (const name of Object.keys(before.folders)) assert.deepEqual(afterView.folders[name], before.folders[name], name);
  assert.deepEqual(afterView.subscribed, before.subscribed);

  // What IMAP does not show: the queue entry (its id, held), the script, the alias, the delivery memory, a subscription without a folder.
  const storage = await openPostgresStorage(url);
  try {
    const ann = (await storage.directory.getAccount(ANN))!;
    assert.deepEqual(await storage.mail.listSubscriptions(ann.id), [...before.subscribed, 'Ghost'].sort());
    assert.ok(!before.subscribed.includes('Lists'));
    const queued = await storage.queue.list();
    assert.deepEqual(queued.map((e) => [e.id, e.held, e.recipients]), [[queueId, true, ['someone@remote.test']]]);
    assert.deepEqual(await storage.scripts.list(ann.id), [{ name: 'rules', active: true }]);
    assert.deepEqual((await storage.directory.getAlias('sales@example.test'))?.targets, [ANN]);
    assert.equal(await storage.memory.vacationSentRecently(ann.id, 'friend@remote.test', 'away'), true);
    // The expunge log (QRESYNC's VANISHED): UID 2 of each folder was expunged before the move.
    for (const [folder] of FOLDERS) {
      assert.deepEqual(await storage.mail.expungedSince((await storage.mail.findMailbox(ann.id, folder))!.id, 0), folder === 'Archive/2025' ? [2, 10] : [2], folder);
    }
    // POP3's UIDLs come from the body ids: the same on both sides.
    const sqlite = openStorage(data.dir);
    try {
      const old = (await sqlite.directory.getAccount(ANN))!;
      const ids = async (s: typeof storage | typeof sqlite, account: number) => (await s.mail.listMessages((await s.mail.findMailbox(account, 'INBOX'))!.id)).map((m) => `${m.uid} ${m.bodyId}`);
      assert.deepEqual(await ids(storage, ann.id), await ids(sqlite, old.id));
    } finally {
      sqlite.close();
    }
  } finally {
    await storage.end();
  }
});

/** The CLI, without waiting for it: the refusals run side by side. */
function postinoAsync(dataDir: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args, '--data', dataDir], (err, _stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stderr });
    });
  });
}

test('postino migrate refuses a database holding other data, and a bad URL, in one line', async () => {
  const foreign = await cluster.createDatabase();
  const client = new pg.Client({ connectionString: foreign });
  await client.connect();
  await client.query('CREATE TABLE invoices (id int)');
  await client.end();
  const other = scratchDir('migrate-pg-other-');
  try {
    // A data dir per case: each run holds its data dir's lock.
    const dirs = [0, 1, 2, 3, 4, 5, 6].map((k) => {
      const dir = path.join(other.dir, String(k));
      const storage = openStorage(dir);
      storage.close();
      return dir;
    });
    const cases: Array<[string[], RegExp]> = [
      [['--to', 'postgres', foreign], /holds other data \(tables public\.invoices\)/],
      [['--to', 'postgres', 'not a url'], /not a PostgreSQL URL/],
      [['--to', 'postgres', 'mysql://root@127.0.0.1/x'], /not a PostgreSQL URL: scheme mysql/],
      [['--to', 'postgres', `postgres://nobody:secret@127.0.0.1:${cluster.port}/no_such_db`], /cannot connect to postgres:\/\/nobody:\*\*\*@127\.0\.0\.1:\d+\/no_such_db/],
      [['postgres://x@127.0.0.1/y'], /--to postgres is required/],
    ];
    // Beside them, data dir 5 migrates into a database of its own; then data dir 6 is refused there.
    const second = await cluster.createDatabase();
    const [results, first] = await Promise.all([Promise.all(cases.map(([args], k) => postinoAsync(dirs[k]!, ['migrate', ...args]))), postinoAsync(dirs[5]!, ['migrate', '--to', 'postgres', second])]);
    assert.equal(first.code, 0, first.stderr);
    const taken = await postinoAsync(dirs[6]!, ['migrate', '--to', 'postgres', second]);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, new RegExp(`holds the migration of another data dir \\(.*${dirs[5]!.replace(/[/.]/g, '\\$&')}\\)`));
    assert.equal(taken.stderr.trim().split('\n').length, 1);
    results.forEach((r, k) => {
      const [args, message] = cases[k]!;
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /secret/);
    });
    // Nothing was written to the foreign database.
    const check = new pg.Client({ connectionString: foreign });
    await check.connect();
    const tables = await check.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
    await check.end();
    assert.deepEqual(tables.rows.map((r: { table_name: string }) => r.table_name), ['invoices']);
  } finally {
    other.cleanup();
  }
});

test('postino migrate --blobs DIR puts the bodies in a shared directory, one file per content, and --write-config names it', async () => {
  const small = scratchDir('migrate-pg-blobs-');
  try {
    const dir = path.join(small.dir, 'data');
    const blobs = path.join(small.dir, 'blobs');
    mkdirSync(blobs);
    const add = postino(dir, ['domain', 'add', 'example.test', '--postmaster', ANN, '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(add.code, 0, add.stderr);
    const storage = openStorage(dir);
    const raws = [message('INBOX', 1), message('INBOX', 2), message('INBOX', 1)];
    try {
      const ann = (await storage.directory.getAccount(ANN))!;
      await storage.mail.provisionAccount(ann.id);
      await storage.mail.appendMany(ann.id, 'INBOX', raws.map((raw) => ({ raw, options: {} })));
    } finally {
      await storage.mail.drain();
      storage.close();
    }
    const url = await cluster.createDatabase();
    const relative = await postinoAsync(dir, ['migrate', '--to', 'postgres', url, '--blobs', 'blobs']);
    assert.equal(relative.code, 1);
    assert.match(relative.stderr, /must be an absolute path/);
    const run = await postinoAsync(dir, ['migrate', '--to', 'postgres', url, '--blobs', blobs, '--write-config']);
    assert.equal(run.code, 0, run.stderr);
    const config = JSON.parse(readFileSync(path.join(dir, 'postino.json'), 'utf8')) as { storage: Record<string, string> };
    assert.deepEqual(config.storage, { backend: 'postgres', url, blobs });
    // Two contents, two files (the third message repeats the first).
    const files = readdirSync(blobs, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && /^[0-9a-f]{64}$/.test(e.name));
    assert.equal(files.length, 2);
    const pgStorage = await openPostgresStorage(url, { blobs });
    try {
      const ann = (await pgStorage.directory.getAccount(ANN))!;
      const inbox = (await pgStorage.mail.findMailbox(ann.id, 'INBOX'))!;
      for (const [k, raw] of raws.entries()) assert.deepEqual(await pgStorage.mail.readMessage(inbox.id, k + 1), raw);
    } finally {
      await pgStorage.end();
    }
  } finally {
    small.cleanup();
  }
});
