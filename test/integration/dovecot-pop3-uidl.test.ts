// POP3 clients that leave mail on the server keep their place across a move
// from Dovecot: after `postino import dovecot`, Postino's POP3 lists the
// same UIDL for every message as the real Dovecot's POP3 did. (a) Dovecot
// with pop3_save_uidl=yes and a non-default pop3_uidl_format: the UIDLs it
// saved (P fields) under one format and, for a message that came after the
// site changed pop3_uidl_format, the new format given with
// --pop3-uidl-format (so saved and derived UIDLs differ); (b) the default format, nothing saved; (c) a
// message delivered to Postino afterwards gets a UIDL of Postino's own,
// unlike every imported one; (d) an imported message moved out of INBOX and
// back over IMAP keeps its UIDL, and so does every message across `postino reindex`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { startDovecotLmtp, type RunningDovecot } from '../support/dovecot-lmtp.js';
import { scratchDir } from '../support/tmp.js';
import { startServe, type Served } from '../support/serve.js';
import { cliPath } from '../support/paths.js';
import { postino } from '../support/cli.js';
import { SERVICES } from '../../src/config.js';
import { Pop3Client } from './pop3-client.js';

const CAROL = 'carol@example.test';
const DAVE = 'dave@example.test';
const PASSWORD = 'Pop3-uidl-2026!';
/** Not Dovecot's default: the UIDVALIDITY, the UID and the GUID (the file name), as some sites set it. */
const FORMAT = '%v.%u-%g';
/** The site changed it later: the saved UIDLs stay as they were, new messages get this one. */
const LATER = '%u@%Xv';
const pop3Conf = (extra: string) => `namespace inbox {\n  inbox = yes\n  separator = /\n}\n${extra}`;

let saving: RunningDovecot;
let plain: RunningDovecot;
const data = scratchDir('postino-pop3-uidl-');

before(async () => {
  saving = await startDovecotLmtp({ users: [CAROL], password: PASSWORD, pop3: true, extraConf: pop3Conf(`pop3_save_uidl = yes\npop3_uidl_format = ${FORMAT}\n`) });
  plain = await startDovecotLmtp({ users: [DAVE], password: PASSWORD, pop3: true, extraConf: pop3Conf('') });
  writeConfig();
  cli(['domain', 'add', 'example.test', '--postmaster', 'hostmaster@remote.test']);
  for (const who of [CAROL, DAVE]) cli(['user', 'add', who, '--password-stdin'], `${PASSWORD}\n`);
});

after(async () => {
  await saving?.stop();
  await plain?.stop();
  data.cleanup();
});

function writeConfig(): void {
  writeFileSync(path.join(data.dir, 'postino.json'), JSON.stringify({ hostname: 'mx.example.test', dns: { servers: ['127.0.0.1:9'] } }));
}

function cli(args: string[], stdin?: string): string {
  const r = postino(data.dir, args, stdin);
  assert.equal(r.code, 0, `postino ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

function message(subject: string): Buffer {
  return Buffer.from(`From: <bob@remote.test>\r\nTo: <someone@example.test>\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@remote.test>\r\n\r\nbody of ${subject}\r\n`);
}

async function appendOverImap(d: RunningDovecot, user: string, subjects: string[]): Promise<void> {
  const client = new ImapFlow({ host: '127.0.0.1', port: d.imapPort, secure: false, auth: { user, pass: PASSWORD }, logger: false, disableAutoIdle: true });
  await client.connect();
  for (const s of subjects) await client.append('INBOX', message(s), []);
  await client.logout();
}

/** The UIDL listing of a POP3 server, in message-number order; `retr` first fetches message 1 (a client downloading). */
async function uidls(port: number, user: string, tls: boolean, retr = false): Promise<string[]> {
  const c = await Pop3Client.connect(port, tls);
  try {
    assert.match(await c.login(user, PASSWORD), /^\+OK/);
    if (retr) assert.match((await c.multi('RETR 1')).status, /^\+OK/);
    return (await c.uidl()).map(([, u]) => u);
  } finally {
    await c.cmd('QUIT');
    c.destroy();
  }
}

/** UIDL -> Subject, over POP3 (TOP n 0). */
async function subjects(port: number, user: string): Promise<Map<string, string>> {
  const c = await Pop3Client.connect(port, true);
  try {
    assert.match(await c.login(user, PASSWORD), /^\+OK/);
    const out = new Map<string, string>();
    for (const [n, uidl] of await c.uidl()) out.set(uidl, /Subject: (\S+)/.exec((await c.multi(`TOP ${n} 0`)).body)![1]!);
    return out;
  } finally {
    await c.cmd('QUIT');
    c.destroy();
  }
}

async function withServe<T>(body: (ports: { pop3s: number; imaps: number }) => Promise<T>): Promise<T> {
  const env = { ...Object.fromEntries(SERVICES.map((x) => [`POSTINO_${x.toUpperCase()}_PORT`, '0'])), POSTINO_DEMO: '0', POSTINO_LISTEN: '127.0.0.1' };
  const served: Served = startServe(process.execPath, [cliPath, 'serve', '--data', data.dir], env);
  try {
    const port = async (service: string) => Number((await served.waitFor((e) => e.event === 'listening' && e.service === service)).port);
    const ports = { pop3s: await port('pop3s'), imaps: await port('imaps') };
    await served.waitFor((e) => e.event === 'ready');
    return await body(ports);
  } finally {
    assert.equal(await served.stop(), 0);
  }
}

test('POP3 UIDLs survive the move from Dovecot: saved ones, the format for the rest, the default format, new mail, MOVE and reindex', { timeout: 300_000 }, async () => {
  // (a) Carol's client downloads with "leave on server": Dovecot saves the UIDLs it lists.
  await appendOverImap(saving, CAROL, ['a1', 'a2', 'a3']);
  const seen = await uidls(saving.pop3Port, CAROL, false, true);
  assert.equal(seen.length, 3);
  assert.ok(seen.every((u) => /^\d+\.\d-\d+\.M/.test(u)), `Dovecot used the format: ${seen.join(' ')}`);
  const uidlist = readFileSync(path.join(saving.maildirOf(CAROL), 'dovecot-uidlist'), 'utf8');
  assert.equal((uidlist.match(/ P\S+/g) ?? []).length, 3, `P fields saved: ${uidlist}`);
  // The site changes its format (the saved UIDLs stay); a message that arrives later has no P field until a POP3 session lists it.
  const conf = path.join(saving.dir, 'dovecot.conf');
  writeFileSync(conf, readFileSync(conf, 'utf8').replace(`pop3_uidl_format = ${FORMAT}`, `pop3_uidl_format = ${LATER}`));
  execFileSync('doveadm', ['-c', conf, 'reload']);
  await appendOverImap(saving, CAROL, ['a4']);
  assert.equal((readFileSync(path.join(saving.maildirOf(CAROL), 'dovecot-uidlist'), 'utf8').match(/ P\S+/g) ?? []).length, 3);
  const imported = cli(['import', 'dovecot', saving.maildirOf(CAROL), '--to', CAROL, '--pop3-uidl-format', LATER]);
  assert.match(imported, /carol@example\.test INBOX: .*4 new/);

  // (b) Dave's Dovecot has the defaults: nothing saved, %08Xu%08Xv.
  await appendOverImap(plain, DAVE, ['b1', 'b2', 'b3']);
  const daveDovecot = await uidls(plain.pop3Port, DAVE, false, true);
  assert.doesNotMatch(readFileSync(path.join(plain.maildirOf(DAVE), 'dovecot-uidlist'), 'utf8'), / P/);
  assert.ok(daveDovecot.every((u) => /^[0-9a-f]{16}$/.test(u)), daveDovecot.join(' '));
  cli(['import', 'dovecot', plain.maildirOf(DAVE), '--to', DAVE]);

  // Dovecot's listing now: the three saved, and a4's from the new format (listed, and saved, just now).
  const carolDovecot = await uidls(saving.pop3Port, CAROL, false);
  assert.deepEqual(carolDovecot.slice(0, 3), seen);
  assert.match(carolDovecot[3]!, /^4@[0-9a-f]{8}$/, 'a4 under the new format');

  // (c) New mail, delivered to Postino after the move.
  const delivered = postino(data.dir, ['deliver', '--from', 'bob@remote.test', '--to', CAROL], message('c1').toString());
  assert.equal(delivered.code, 0, delivered.stderr);

  const kept = await withServe(async ({ pop3s, imaps }) => {
    const carol = await uidls(pop3s, CAROL, true);
    assert.deepEqual(carol.slice(0, 4), carolDovecot, '(a) the same UIDL for every message');
    assert.equal(carol.length, 5);
    const own = carol[4]!;
    assert.ok(!carolDovecot.includes(own), `(c) the new message's UIDL ${own} is Postino's own`);
    assert.deepEqual(await uidls(pop3s, DAVE, true), daveDovecot, '(b) the default format, the same UIDLs');

    // (d) An imported message moved out of INBOX and back over IMAP keeps its UIDL.
    const before = await subjects(pop3s, CAROL);
    const client = new ImapFlow({ host: '127.0.0.1', port: imaps, secure: true, auth: { user: CAROL, pass: PASSWORD }, tls: { rejectUnauthorized: false }, logger: false, disableAutoIdle: true });
    await client.connect();
    await client.mailboxCreate('Archive');
    await client.mailboxOpen('INBOX');
    const moved = await client.messageMove('2', 'Archive', { uid: true });
    assert.ok(moved && moved.uidMap);
    await client.mailboxOpen('Archive');
    await client.messageMove('1:*', 'INBOX', { uid: true });
    await client.logout();
    const after = await subjects(pop3s, CAROL);
    assert.deepEqual(new Map([...after].sort()), new Map([...before].sort()), 'every message keeps its UIDL, a2 (moved out and back) too');
    assert.equal(after.get(carolDovecot[1]!), 'a2');
    return after;
  });

  // The index rebuilt from the Maildir: the UIDLs come back with the UIDs.
  cli(['reindex']);
  await withServe(async ({ pop3s }) => {
    assert.deepEqual(new Map([...(await subjects(pop3s, CAROL))].sort()), new Map([...kept].sort()));
    assert.deepEqual(await uidls(pop3s, DAVE, true), daveDovecot);
  });
});
