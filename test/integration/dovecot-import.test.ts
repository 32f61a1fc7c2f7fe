// postino import dovecot against the real Dovecot: a user's Maildir filled
// over IMAP (folders, a nested one, keywords, system flags, subscriptions, a
// deleted-and-recreated folder, an expunge), imported with --all from the
// passwd-file (SHA512-CRYPT hash; a second user with a BLF-CRYPT one) and
// again with SRC --to; an IMAP client then sees the same UIDVALIDITY,
// UIDNEXT, UIDs, flags, keywords and subscriptions on both servers, and both
// users log in to Postino with their Dovecot passwords. Malformed or hostile input (a bad POP3 UIDL field, a
// --pop3-uidl-format Postino cannot follow exactly) stops the import with one line and changes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { startDovecotLmtp, type RunningDovecot } from '../support/dovecot-lmtp.js';
import { scratchDir } from '../support/tmp.js';
import { startServe, type Served } from '../support/serve.js';
import { cliPath } from '../support/paths.js';
import { postino } from '../support/cli.js';
import { openStorage } from '../../storage/index.js';
import { SERVICES } from '../../src/config.js';

const ALICE = 'alice@example.test';
const PASSWORD = 'Dovecot-pass-2026!';
const BOB = 'bob@example.test';
const BOB_PASSWORD = 'Bob-bcrypt-2026?';
const NAMESPACE = 'namespace inbox {\n  inbox = yes\n  separator = /\n}\n';

let dovecot: RunningDovecot;
const data = scratchDir('postino-import-');

before(async () => {
  dovecot = await startDovecotLmtp({ users: [ALICE, BOB], extraConf: NAMESPACE });
  // Alice's password as a SHA512-CRYPT hash made by Dovecot itself.
  const hash = execFileSync('doveadm', ['pw', '-s', 'SHA512-CRYPT', '-p', PASSWORD], { encoding: 'utf8' }).trim();
  const passwd = path.join(dovecot.dir, 'passwd');
  // Bob's as bcrypt (BLF-CRYPT, $2y$), also by Dovecot.
  const bobHash = execFileSync('doveadm', ['pw', '-s', 'BLF-CRYPT', '-p', BOB_PASSWORD], { encoding: 'utf8' }).trim();
  const lines = readFileSync(passwd, 'utf8').split('\n').map((l) => (l.startsWith(`${BOB}:`) ? l.replace(`{PLAIN}${dovecot.password}`, bobHash) : l));
  writeFileSync(passwd, lines.join('\n').replace(`{PLAIN}${dovecot.password}`, hash));
  writeFileSync(path.join(data.dir, 'postino.json'), JSON.stringify({ hostname: 'mx.example.test', dns: { servers: ['127.0.0.1:9'] } }));
  cli(['domain', 'add', 'example.test', '--postmaster', 'hostmaster@remote.test']);
});

after(async () => {
  await dovecot?.stop();
  data.cleanup();
});

function cli(args: string[]): string {
  const r = postino(data.dir, args);
  assert.equal(r.code, 0, `postino ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

function imap(port: number, secure: boolean, auth = { user: ALICE, pass: PASSWORD }): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port, secure, auth, tls: { rejectUnauthorized: false }, logger: false, disableAutoIdle: true });
}

function message(subject: string): Buffer {
  return Buffer.from(`From: <bob@remote.test>\r\nTo: <${ALICE}>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@remote.test>\r\n\r\nbody of ${subject}\r\n`);
}

interface FolderView {
  uidValidity: string;
  uidNext: number;
  messages: string[];
}

/** What a client caches: per folder UIDVALIDITY, UIDNEXT, each UID with its flags; and the subscriptions. */
async function view(client: ImapFlow, names: string[]): Promise<{ folders: Record<string, FolderView>; subscribed: string[] }> {
  const folders: Record<string, FolderView> = {};
  for (const name of names) {
    const mb = await client.mailboxOpen(name, { readOnly: true });
    const messages: string[] = [];
    if (mb.exists > 0) {
      for await (const m of client.fetch('1:*', { uid: true, flags: true })) {
        messages.push(`${m.uid} ${[...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort().join(' ')}`);
      }
    }
    folders[name] = { uidValidity: String(mb.uidValidity), uidNext: mb.uidNext, messages };
    await client.mailboxClose();
  }
  const subscribed = (await client.list()).filter((l) => l.subscribed).map((l) => l.path).sort();
  return { folders, subscribed };
}

async function dovecotView(): Promise<{ names: string[]; view: Awaited<ReturnType<typeof view>> }> {
  const client = imap(dovecot.imapPort, false);
  await client.connect();
  try {
    const names = (await client.list()).filter((l) => !l.flags.has('\\Noselect')).map((l) => l.path).sort();
    return { names, view: await view(client, names) };
  } finally {
    await client.logout();
  }
}

async function postinoView(names: string[]): Promise<Awaited<ReturnType<typeof view>>> {
  const env = { ...Object.fromEntries(SERVICES.map((x) => [`POSTINO_${x.toUpperCase()}_PORT`, '0'])), POSTINO_DEMO: '0', POSTINO_LISTEN: '127.0.0.1' };
  const served: Served = startServe(process.execPath, [cliPath, 'serve', '--data', data.dir], env);
  try {
    const imaps = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'imaps')).port);
    await served.waitFor((e) => e.event === 'ready');
    // Bob's Dovecot password (bcrypt, checked in the legacy worker, then rehashed).
    const bob = imap(imaps, true, { user: BOB, pass: BOB_PASSWORD });
    await bob.connect();
    await bob.logout();
    const client = imap(imaps, true);
    await client.connect(); // Alice's Dovecot password (SHA512-CRYPT, then rehashed)
    try {
      return await view(client, names);
    } finally {
      await client.logout();
    }
  } finally {
    assert.equal(await served.stop(), 0);
  }
}

/** Everything Postino's index holds for Alice (to show a refused import changed nothing). */
async function indexState(): Promise<string> {
  const storage = openStorage(data.dir);
  try {
    const account = (await storage.directory.getAccount(ALICE))!;
    const out: unknown[] = [await storage.mail.listSubscriptions(account.id)];
    for (const mb of await storage.mail.listMailboxes(account.id)) {
      out.push([mb.name, mb.uidValidity, mb.uidNext, (await storage.mail.listMessages(mb.id)).map((m) => [m.uid, m.flags])]);
    }
    return JSON.stringify(out);
  } finally {
    storage.close();
  }
}

test('a Dovecot user moves to Postino with UIDVALIDITY, UIDs, flags, keywords and subscriptions, then syncs again', { timeout: 240_000 }, async () => {
  const client = imap(dovecot.imapPort, false);
  await client.connect();
  for (const name of ['Work', 'Work/Projects', 'Lists', 'Old']) await client.mailboxCreate(name);
  const inbox: Array<[string, string[]]> = [
    ['one', ['\\Seen']],
    ['two', ['\\Flagged', '$Label1']],
    ['three', ['\\Answered', '\\Seen', '$Label2']],
    ['four', ['\\Draft']],
    ['five', []],
    ['six', ['\\Seen', 'Custom-Word']],
  ];
  for (const [s, flags] of inbox) await client.append('INBOX', message(s), flags);
  await client.mailboxOpen('INBOX');
  await client.messageDelete('2', { uid: true }); // a gap in the UIDs
  await client.messageFlagsAdd('4', ['\\Deleted'], { uid: true }); // kept: no CLOSE (it would expunge it)
  for (const s of ['p1', 'p2']) await client.append('Work/Projects', message(s), ['\\Seen', '$Label3']);
  for (const s of ['l1', 'l2', 'l3']) await client.append('Lists', message(s), s === 'l2' ? ['\\Flagged'] : []);
  for (const s of ['o1', 'o2']) await client.append('Old', message(s), ['\\Seen']);
  for (const s of ['INBOX', 'Work/Projects', 'Lists']) await client.mailboxSubscribe(s);
  await client.mailboxUnsubscribe('Old');
  await client.logout();

  // Her Sieve scripts as Pigeonhole keeps them: ~/sieve/*.sieve, ~/.dovecot.sieve -> the active one.
  const home = path.dirname(dovecot.maildirOf(ALICE));
  mkdirSync(path.join(home, 'sieve'));
  writeFileSync(path.join(home, 'sieve', 'main.sieve'), 'require "fileinto";\nif header :contains "subject" "w1" { fileinto "Work"; }\n');
  writeFileSync(path.join(home, 'sieve', 'spare.sieve'), 'keep;\n');
  symlinkSync('sieve/main.sieve', path.join(home, '.dovecot.sieve'));
  const imported = postino(data.dir, ['import', 'dovecot', '--all', path.join(dovecot.dir, 'passwd')]);
  assert.equal(imported.code, 0, imported.stderr);
  assert.doesNotMatch(imported.stderr, /warning/, 'every hash (SHA512-CRYPT, BLF-CRYPT) is kept');
  const first = imported.stdout;
  assert.match(first, /alice@example\.test: account created/);
  assert.match(first, /bob@example\.test: account created/);
  // Postino's new INBOX got a UIDVALIDITY from the clock, as Dovecot's did: when both were made
  // in the same second they agree already and nothing is replaced.
  assert.match(first, /alice@example\.test INBOX: (replaced \(new UIDVALIDITY\), )?5 new/);
  assert.match(first, /alice@example\.test Work\/Projects: created, 2 new/);
  assert.match(first, /2 sieve script\(s\) \(active: main\)/);
  const scripts = cli(['sieve', 'list', ALICE]);
  assert.match(scripts, /^main ACTIVE$/m);
  assert.match(scripts, /spare/);

  const d1 = await dovecotView();
  assert.ok(d1.names.includes('Work/Projects') && d1.names.includes('Old'));
  const p1 = await postinoView(d1.names);
  assert.deepEqual(p1, d1.view);
  {
    const storage = openStorage(data.dir);
    try {
      for (const who of [ALICE, BOB]) assert.match((await storage.directory.getAccount(who))!.passwordHash, /^\$scrypt\$/, `${who}: rehashed at login`);
    } finally {
      storage.close();
    }
  }
  assert.ok(p1.subscribed.includes('Work/Projects') && !p1.subscribed.includes('Old'), 'subscriptions as in Dovecot');
  assert.ok(p1.folders.INBOX!.messages.some((m) => m.includes('$Label2')) && p1.folders.INBOX!.messages.some((m) => m.includes('\\Deleted')));

  // Later, in Dovecot: new mail, a flag and keyword change, an expunge, and Old deleted and made again.
  const again = imap(dovecot.imapPort, false);
  await again.connect();
  await again.append('INBOX', message('seven'), []);
  await again.append('Work', message('w1'), ['$Label1']);
  await again.mailboxOpen('INBOX');
  await again.messageFlagsAdd('5', ['\\Seen', '$Label4'], { uid: true });
  await again.messageDelete('1', { uid: true });
  await again.mailboxDelete('Old');
  await again.mailboxCreate('Old');
  await again.append('Old', message('o3'), []);
  await again.mailboxCreate('New Folder');
  await again.mailboxSubscribe('New Folder');
  await again.logout();

  // The short final sync, the SRC --to form this time.
  const second = cli(['import', 'dovecot', dovecot.maildirOf(ALICE), '--to', ALICE]);
  assert.match(second, /alice@example\.test INBOX: 1 new, 1 flag changes, 1 expunged/);
  assert.match(second, /alice@example\.test Old: replaced \(new UIDVALIDITY\), 1 new/);
  assert.match(second, /alice@example\.test Work: 1 new/);
  assert.doesNotMatch(second, /Work\/Projects/, 'an unchanged folder is left alone');

  const d2 = await dovecotView();
  assert.notEqual(d2.view.folders.Old!.uidValidity, d1.view.folders.Old!.uidValidity);
  const p2 = await postinoView(d2.names);
  assert.deepEqual(p2, d2.view);

  // A third run has nothing to bring.
  const third = cli(['import', 'dovecot', dovecot.maildirOf(ALICE), '--to', ALICE]);
  assert.doesNotMatch(third, / new|replaced|created/);
});

test('a malformed uidlist or keywords file, or a symlink out of SRC, stops the import with one line and changes nothing', { timeout: 120_000 }, async () => {
  const before = await indexState();
  const work = scratchDir('dovecot-hostile-');
  try {
    const cases: Array<{ name: string; spoil(src: string): void; want: RegExp; args?: string[] }> = [
      {
        name: 'uidlist',
        spoil: (src) => writeFileSync(path.join(src, 'dovecot-uidlist'), readFileSync(path.join(src, 'dovecot-uidlist'), 'utf8') + 'x :bad\n'),
        want: /dovecot-uidlist:\d+: bad UID/,
      },
      {
        name: 'pop3-uidl',
        spoil: (src) => writeFileSync(path.join(src, 'dovecot-uidlist'), readFileSync(path.join(src, 'dovecot-uidlist'), 'utf8') + '4000000000 Pcaf\u00e9 :x\n'),
        want: /dovecot-uidlist:\d+: bad POP3 UIDL \(P field\): not printable ASCII/,
      },
      { name: 'uidl-format', spoil: () => {}, want: /--pop3-uidl-format "%08Xu%m": %m \(an MD5 of the headers\) is not supported/, args: ['--pop3-uidl-format', '%08Xu%m'] },
      { name: 'keywords', spoil: (src) => writeFileSync(path.join(src, 'dovecot-keywords'), '0 $Label1\n1 two words\n'), want: /dovecot-keywords:2: not a valid keyword/ },
      {
        name: 'symlink',
        spoil: (src) => {
          mkdirSync(path.join(work.dir, 'elsewhere', 'cur'), { recursive: true });
          symlinkSync(path.join(work.dir, 'elsewhere'), path.join(src, '.Escape'));
        },
        want: /\.Escape: a symlink \(refused\)/,
      },
    ];
    for (const c of cases) {
      const src = path.join(work.dir, c.name, 'Maildir');
      cpSync(dovecot.maildirOf(ALICE), src, { recursive: true });
      // Something new besides, which must not arrive either.
      mkdirSync(path.join(src, '.Fresh', 'cur'), { recursive: true });
      c.spoil(src);
      const r = postino(data.dir, ['import', 'dovecot', src, '--to', ALICE, ...(c.args ?? [])]);
      assert.notEqual(r.code, 0, c.name);
      assert.match(r.stderr, c.want, c.name);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.equal(await indexState(), before, `${c.name}: nothing changed`);
    }
  } finally {
    work.cleanup();
  }
});
