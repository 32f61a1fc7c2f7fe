// `postino backup` of a running serve under delivery load, then `postino
// restore` into a new data dir and a serve there: an IMAP client sees the
// same folders, UIDVALIDITY, UIDs and flags as on the source for every
// message the backup holds, and every message acknowledged (250) before the
// backup began is there. While the backup runs, SMTP deliveries go on and
// another client keeps flipping \Seen in one folder, so message files are
// renamed under the backup's feet. Plus the CLI's one-line refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { scratchDir } from '../support/tmp.js';
import { startServe, type Served } from '../support/serve.js';
import { cliPath } from '../support/paths.js';
import { postino } from '../support/cli.js';
import { openDialog } from '../support/smtp-dialog.js';
import { SERVICES } from '../../src/config.js';

const USER = 'ana@example.test';
const PASSWORD = 'tangerine-otter-42-backup';
const freePorts = Object.fromEntries(SERVICES.map((x) => [`POSTINO_${x.toUpperCase()}_PORT`, '0']));

interface Started {
  served: Served;
  smtp: number;
  imaps: number;
}

async function serve(dir: string): Promise<Started> {
  const served = startServe(process.execPath, [cliPath, 'serve', '--data', dir], { ...freePorts, POSTINO_LISTEN: '127.0.0.1' });
  const smtp = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'smtp')).port);
  const imaps = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'imaps')).port);
  await served.waitFor((e) => e.event === 'ready');
  return { served, smtp, imaps };
}

function imap(port: number): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port, secure: true, auth: { user: USER, pass: PASSWORD }, tls: { rejectUnauthorized: false }, logger: false });
}

/** The CLI without blocking the event loop (the deliveries must go on meanwhile). */
function postinoAsync(dataDir: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args, '--data', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** One SMTP transaction on an open dialog; resolves with the end-of-data reply. */
async function deliver(dialog: Awaited<ReturnType<typeof openDialog>>, subject: string): Promise<string> {
  const mail = await dialog.send('MAIL FROM:<sender@remote.test>');
  assert.match(mail, /^250/, mail);
  const rcpt = await dialog.send(`RCPT TO:<${USER}>`);
  assert.match(rcpt, /^250/, rcpt);
  const data = await dialog.send('DATA');
  assert.match(data, /^354/, data);
  const [reply] = await dialog.data(`From: sender@remote.test\r\nTo: ${USER}\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@remote.test>\r\n\r\nbody of ${subject}\r\n`);
  return reply!;
}

interface FolderState {
  uidValidity: string;
  /** By subject: uid and sorted flags. */
  messages: Map<string, { uid: number; flags: string }>;
}

async function readAll(port: number): Promise<Map<string, FolderState>> {
  const client = imap(port);
  await client.connect();
  const out = new Map<string, FolderState>();
  try {
    for (const box of await client.list()) {
      const opened = await client.mailboxOpen(box.path, { readOnly: true });
      const messages = new Map<string, { uid: number; flags: string }>();
      if (opened.exists > 0) {
        for await (const m of client.fetch('1:*', { uid: true, flags: true, envelope: true })) {
          messages.set(m.envelope?.subject ?? `(no subject ${m.uid})`, { uid: m.uid, flags: [...(m.flags ?? [])].sort().join(' ') });
        }
      }
      out.set(box.path, { uidValidity: String(opened.uidValidity), messages });
    }
  } finally {
    await client.logout();
  }
  return out;
}

test('backup while serve delivers, restore into a new dir: same folders, UIDVALIDITY, UIDs and flags; nothing acknowledged before the backup is missing', { timeout: 300_000 }, async () => {
  const s = scratchDir('postino-backup-');
  const source = path.join(s.dir, 'source');
  const backup = path.join(s.dir, 'backup');
  const restored = path.join(s.dir, 'restored');
  mkdirSync(source);
  writeFileSync(path.join(source, 'postino.json'), JSON.stringify({ hostname: 'mx.example.test', smtp: { greetDelayMs: 0 }, dns: { servers: ['127.0.0.1:9'] } }));
  assert.equal(postino(source, ['domain', 'add', 'example.test', '--postmaster', USER, '--password-stdin'], `${PASSWORD}\n`).code, 0);
  assert.equal(postino(source, ['dkim', 'keygen', 'example.test']).code, 0);
  writeFileSync(path.join(s.dir, 'rules.sieve'), 'require "fileinto";\nif header :contains "subject" "filed" { fileinto "Projects"; }\n');
  assert.equal(postino(source, ['sieve', 'put', USER, 'rules', path.join(s.dir, 'rules.sieve'), '--activate']).code, 0);

  let a: Started | undefined = await serve(source);
  let b: Started | undefined;
  const acked: Array<{ subject: string; beforeBackup: boolean }> = [];
  let backupBegan = false;
  try {
    // Before: folders, messages in several of them, flags and keywords, an expunge.
    const setup = imap(a.imaps);
    await setup.connect();
    await setup.mailboxCreate('Projects');
    await setup.mailboxCreate('Old/Deep');
    await setup.mailboxCreate('Churn');
    const dialog = await openDialog(a.smtp);
    assert.match(await dialog.send('EHLO client.remote.test'), /^250/);
    for (let i = 0; i < 30; i++) {
      const subject = i % 5 === 0 ? `filed ${i}` : `early ${i}`;
      const reply = await deliver(dialog, subject);
      assert.match(reply, /^250/, reply);
      acked.push({ subject, beforeBackup: true });
    }
    await setup.mailboxOpen('INBOX');
    await setup.messageFlagsAdd('1:5', ['\\Seen']);
    await setup.messageFlagsAdd('3:8', ['\\Flagged', '$Label1']);
    await setup.messageCopy('10:19', 'Churn');
    await setup.messageMove('20:22', 'Old/Deep');
    await setup.messageDelete({ subject: 'early 24' });
    await setup.mailboxOpen('Projects');
    await setup.messageFlagsAdd('1', ['\\Answered', 'custom-word']);
    await setup.logout();

    // During: deliveries keep coming, and \Seen flips in Churn (each flip renames the file).
    let stop = false;
    const deliveries = (async () => {
      for (let i = 0; !stop; i++) {
        const subject = `during ${i}`;
        const before = !backupBegan;
        const reply = await deliver(dialog, subject);
        assert.match(reply, /^250/, reply);
        // Acknowledged before the backup began only if the backup had not begun when the 250 came.
        acked.push({ subject, beforeBackup: before && !backupBegan });
      }
    })();
    const churn = imap(a.imaps);
    await churn.connect();
    await churn.mailboxOpen('Churn');
    const flipping = (async () => {
      for (let on = true; !stop; on = !on) {
        if (on) await churn.messageFlagsAdd('1:*', ['\\Seen']);
        else await churn.messageFlagsRemove('1:*', ['\\Seen']);
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    backupBegan = true;
    const made = await postinoAsync(source, ['backup', backup]);
    assert.equal(made.code, 0, made.stderr);
    assert.equal(made.stderr, '');
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all([deliveries, flipping]);
    await churn.logout();
    dialog.close();
    const duringBackup = acked.filter((x) => !x.beforeBackup).length;
    assert.ok(duringBackup > 0, 'deliveries went on while the backup ran');

    const manifest = JSON.parse(readFileSync(path.join(backup, 'manifest.json'), 'utf8')) as { format: number; counts: Record<string, number> };
    assert.equal(manifest.format, 1);
    assert.equal(manifest.counts['accounts'], 1);
    assert.ok(manifest.counts['messages']! >= 29, JSON.stringify(manifest));

    const sourceState = await readAll(a.imaps);
    assert.equal(await a.served.stop(), 0);
    a = undefined;

    const r = postino(restored, ['restore', backup]);
    assert.equal(r.code, 0, r.stderr);
    // Keys keep their 0600.
    const dkimDir = path.join(restored, 'dkim', 'example.test');
    for (const f of ['tls', 'dkim']) assert.ok(statSync(path.join(restored, f)).isDirectory(), f);
    const key = readFileSync(path.join(source, 'dkim', 'example.test', 'active'), 'utf8').trim();
    assert.equal(statSync(path.join(dkimDir, `${key}.key`)).mode & 0o777, 0o600);
    assert.equal(statSync(path.join(restored, 'tls', 'selfsigned.key')).mode & 0o777, 0o600);

    b = await serve(restored);
    const restoredState = await readAll(b.imaps);

    assert.deepEqual([...restoredState.keys()].sort(), [...sourceState.keys()].sort(), 'the same folders');
    let compared = 0;
    for (const [folder, src] of sourceState) {
      const dst = restoredState.get(folder)!;
      assert.equal(dst.uidValidity, src.uidValidity, `${folder}: UIDVALIDITY`);
      for (const [subject, m] of dst.messages) {
        const original = src.messages.get(subject);
        assert.ok(original, `${folder}: ${subject} is in the source`);
        assert.equal(m.uid, original.uid, `${folder}: ${subject} UID`);
        // Churn's \Seen flipped during the backup: its flags are the snapshot's, not the end state.
        if (folder !== 'Churn') assert.equal(m.flags, original.flags, `${folder}: ${subject} flags`);
        else assert.ok(['', '\\Seen'].includes(m.flags), `${folder}: ${subject} flags ${m.flags}`);
        compared++;
      }
      // Everything that was in the folder before the backup began is in the copy.
      for (const [subject, m] of src.messages) {
        const early = !subject.startsWith('during ') || acked.some((x) => x.subject === subject && x.beforeBackup);
        if (early) assert.ok(dst.messages.has(subject), `${folder}: ${subject} (uid ${m.uid}) restored`);
      }
    }
    // Every message acknowledged before the backup began, wherever Sieve or the client put it.
    const everywhere = new Set([...restoredState.values()].flatMap((f) => [...f.messages.keys()]));
    for (const x of acked.filter((y) => y.beforeBackup)) {
      if (x.subject === 'early 24') continue; // expunged by the client before the backup
      assert.ok(everywhere.has(x.subject), `${x.subject} acknowledged before the backup is restored`);
    }
    assert.ok(compared >= 29, `compared ${compared} messages`);
    assert.equal(restoredState.get('Old/Deep')!.messages.size, 3);
    assert.match(restoredState.get('Projects')!.messages.get('filed 0')!.flags, /\\Answered/);
    assert.match(restoredState.get('INBOX')!.messages.get('early 3')!.flags, /\$Label1/);
  } finally {
    if (a) await a.served.stop();
    if (b) assert.equal(await b.served.stop(), 0);
    s.cleanup();
  }
});

test('CLI refusals are one line with a non-zero exit: DEST not empty, SRC not a backup, restore into a non-empty data dir', () => {
  const s = scratchDir('postino-backup-cli-');
  try {
    const data = path.join(s.dir, 'data');
    assert.equal(postino(data, ['domain', 'add', 'example.test', '--postmaster', USER, '--password-stdin'], `${PASSWORD}\n`).code, 0);
    const full = path.join(s.dir, 'full');
    mkdirSync(full);
    writeFileSync(path.join(full, 'something'), 'x');

    const oneLine = (r: { code: number; stdout: string; stderr: string }, pattern: RegExp) => {
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, pattern);
      assert.equal(r.stdout, '');
    };
    oneLine(postino(data, ['backup', full]), /backup destination .*full is not empty/);
    oneLine(postino(path.join(s.dir, 'new'), ['restore', full]), /is not a Postino backup \(no manifest\.json\)/);
    oneLine(postino(path.join(s.dir, 'new2'), ['restore', data]), /is not a Postino backup/);
    oneLine(postino(path.join(s.dir, 'empty'), ['backup', path.join(s.dir, 'b0')]), /is not a Postino data directory/);

    const good = path.join(s.dir, 'good');
    assert.equal(postino(data, ['backup', good]).code, 0);
    oneLine(postino(data, ['restore', good]), /data directory .*data is not empty/);
    writeFileSync(path.join(good, 'manifest.json'), '{"format": 99}');
    oneLine(postino(path.join(s.dir, 'new3'), ['restore', good]), /backup format 99 is not 1/);
  } finally {
    s.cleanup();
  }
});
