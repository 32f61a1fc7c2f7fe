// POP3 through a real `postino serve`, with real clients: Python's poplib
// (STLS and POP3S), fetchmail (STLS, with and without `keep`) and a raw
// client for the rest. Shows: downloads are byte-exact (dot-stuffing,
// CRLF); UIDLs stay the same across sessions, a restart, a `postino
// reindex`, IMAP flag changes and an IMAP MOVE out of the INBOX and back; a
// connection dropped before QUIT deletes nothing; a second session of the
// account gets [IN-USE] while IMAP keeps working; IMAP sees RETR's \Seen
// and QUIT's expunges; every error reply; USER/PASS refused before STLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { startServe, type Served } from '../support/serve.js';
import { postino } from '../support/cli.js';
import { cliPath } from '../support/paths.js';
import { makeMessage } from '../support/messages.js';
import { SERVICES } from '../../src/config.js';
import { RawImap, tagged } from './imap-raw-client.js';
import { Pop3Client } from './pop3-client.js';

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const USER = 'bob@example.test';
const PASSWORD = 'a long enough passphrase 77';

/** A message with lines a POP3 server must stuff, and a bare LF line end. */
const TRICKY = Buffer.from(
  'From: a@remote.test\r\nTo: bob@example.test\r\nSubject: dots\r\nX-Test-Id: tricky\r\n\r\n.starts with a dot\r\n..two dots\r\n.\r\nbare LF next\nlast line\r\n',
);

interface Ports {
  pop3: number;
  pop3s: number;
  imaps: number;
}

async function portsOf(served: Served): Promise<Ports> {
  const port = async (service: string) => Number((await served.waitFor((e) => e.event === 'listening' && e.service === service)).port);
  return { pop3: await port('pop3'), pop3s: await port('pop3s'), imaps: await port('imaps') };
}

async function pop3(ports: Ports): Promise<Pop3Client> {
  const c = await Pop3Client.connect(ports.pop3);
  await c.stls();
  const r = await c.login(USER, PASSWORD);
  assert.match(r, /^\+OK/, r);
  return c;
}

/** UIDL value per X-Test-Id: what a client that keeps mail on the server remembers. */
async function uidlById(ports: Ports): Promise<Map<string, string>> {
  const c = await pop3(ports);
  const out = new Map<string, string>();
  for (const [n, u] of await c.uidl()) {
    const top = await c.multi(`TOP ${n} 0`);
    const id = /^X-Test-Id: (\S+)/m.exec(top.body)?.[1];
    assert.ok(id, top.body);
    out.set(id, u);
  }
  assert.match(await c.cmd('QUIT'), /^\+OK/);
  return out;
}

function deliver(dir: string, raw: Buffer): void {
  const r = spawnSync(process.execPath, [cliPath, 'deliver', '--from', 'a@remote.test', '--to', USER, '--data', dir], { input: raw, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

async function imap(ports: Ports): Promise<RawImap> {
  const c = await RawImap.connect(ports.imaps, true);
  assert.match(tagged(await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`, 20_000)), /OK/);
  return c;
}

function python(script: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('python3', ['-c', script, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const POPLIB = `
import poplib, ssl, sys, json
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
mode, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
if mode == 'pop3s':
    p = poplib.POP3_SSL('127.0.0.1', port, context=ctx)
else:
    p = poplib.POP3('127.0.0.1', port)
    try:
        p.user(user); print(json.dumps({'plain': 'accepted'})); sys.exit(1)
    except poplib.error_proto as e:
        refused = e.args[0].decode()
    p.stls(ctx)
p.user(user); p.pass_(password)
count, size = p.stat()
uidl = [l.decode() for l in p.uidl()[1]]
messages = []
for i in range(1, count + 1):
    resp, lines, octets = p.retr(i)
    messages.append(b'\\r\\n'.join(lines).decode('latin1') + '\\r\\n')
top = [l.decode('latin1') for l in p.top(1, 0)[1]]
p.quit()
print(json.dumps({'count': count, 'size': size, 'uidl': uidl, 'messages': messages, 'top': top, 'refused': refused if mode != 'pop3s' else None}))
`;

function fetchmail(dir: string, ports: Ports, keep: boolean, tag: string): { code: number; mbox: string; log: string } {
  const home = path.join(dir, `fetchmail-home`);
  spawnSync('mkdir', ['-p', home]);
  const mbox = path.join(dir, `fetchmail-${tag}.mbox`);
  const rc = path.join(home, '.fetchmailrc');
  writeFileSync(
    rc,
    [
      `set no syslog`,
      `set idfile "${path.join(home, '.fetchids')}"`,
      `poll 127.0.0.1 with proto POP3 port ${ports.pop3} and timeout 60 and uidl and auth password`,
      `  user "${USER}" there with password "${PASSWORD}" is "tester" here`,
      `  options sslproto 'TLS1.2+' no sslcertck ${keep ? 'keep' : 'nokeep fetchall'}`,
      `  mda "/bin/sh -c 'cat >> ${mbox}'"`,
      '',
    ].join('\n'),
  );
  chmodSync(rc, 0o600);
  const r = spawnSync('fetchmail', ['-f', rc, '-v', '--nodetach', ...(keep ? [] : ['--all'])], {
    env: { ...process.env, HOME: home, FETCHMAILHOME: home, FETCHMAILUSER: 'tester' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status ?? -1, mbox: existsSync(mbox) ? readFileSync(mbox, 'latin1') : '', log: r.stdout + r.stderr };
}

const count = (mbox: string) => (mbox.match(/^X-Test-Id: /gm) ?? []).length;

test('POP3 with poplib, fetchmail and a raw client over a real serve', { timeout: 600_000 }, async (t) => {
  const s = scratchDir('postino-pop3-');
  const serve = () => startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], { ...freePorts, POSTINO_DEMO: '0' });
  let served: Served | undefined;
  try {
    const add = postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', USER, '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(add.code, 0, add.stderr);
    const ids = ['m1', 'm2', 'm3', 'm4', 'm5'];
    for (const id of ids) deliver(s.dir, makeMessage(id, 4096));
    deliver(s.dir, TRICKY);
    served = serve();
    let ports = await portsOf(served);

    let first: Map<string, string> = new Map();

    await t.test('poplib over STLS and POP3S downloads every message byte for byte', () => {
      const r = python(POPLIB, ['pop3', String(ports.pop3), USER, PASSWORD]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const out = JSON.parse(r.stdout) as { count: number; uidl: string[]; messages: string[]; top: string[]; refused: string };
      assert.match(out.refused, /^-ERR \[AUTH\]/, 'USER before STLS is refused');
      assert.equal(out.count, 6);
      assert.equal(new Set(out.uidl.map((l) => l.split(' ')[1])).size, 6, 'six different UIDLs');
      for (const l of out.uidl) assert.match(l, /^\d+ [\x21-\x7e]{1,70}$/);
      const byId = new Map(out.messages.map((m) => [/^X-Test-Id: (\S+)/m.exec(m)?.[1], m]));
      for (const id of ids) {
        const stored = byId.get(id);
        assert.ok(stored, id);
        // deliver prepends its trace headers; the message itself follows unchanged.
        assert.ok(stored.endsWith(makeMessage(id, 4096).toString('latin1')), id);
      }
      // Unstuffed by poplib, and the bare LF came as CRLF.
      assert.ok(byId.get('tricky')!.endsWith('\r\n.starts with a dot\r\n..two dots\r\n.\r\nbare LF next\r\nlast line\r\n'), byId.get('tricky'));
      assert.ok(out.top.includes(''), 'TOP n 0 has the header and the blank line');
      assert.ok(!out.top.some((l) => /^[0-9a-f]{64}$/.test(l)), 'and no body line');
      const again = python(POPLIB, ['pop3s', String(ports.pop3s), USER, PASSWORD]);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual((JSON.parse(again.stdout) as { uidl: string[] }).uidl, out.uidl, 'the same UIDLs on POP3S in the next session');
    });

    await t.test('UIDLs are stable across sessions, IMAP flag changes and a MOVE out of the INBOX and back', async () => {
      first = await uidlById(ports);
      assert.equal(first.size, 6);
      const c = await imap(ports);
      assert.match(tagged(await c.cmd('SELECT INBOX')), /OK/);
      assert.match(tagged(await c.cmd('STORE 1:* +FLAGS (\\Flagged $Label1)')), /OK/);
      assert.match(tagged(await c.cmd('UID MOVE 2:3 Archive')), /OK/);
      assert.deepEqual(await uidlById(ports), new Map([...first].filter(([id]) => id !== 'm2' && id !== 'm3')), 'moved out: gone from POP3');
      assert.match(tagged(await c.cmd('SELECT Archive')), /OK/);
      assert.match(tagged(await c.cmd('MOVE 1:* INBOX')), /OK/);
      await c.cmd('LOGOUT');
      c.close();
      assert.deepEqual(await uidlById(ports), first, 'back in the INBOX with the same UIDLs');
    });

    await t.test('RETR sets \\Seen for IMAP, TOP does not', async () => {
      const c = await imap(ports);
      assert.match(tagged(await c.cmd('SELECT INBOX')), /OK/);
      const flags = await c.cmd('FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (X-TEST-ID)])');
      // Every message was RETRieved by poplib above.
      assert.equal((flags.match(/\\Seen/g) ?? []).length, 6, flags);
      assert.match(tagged(await c.cmd('STORE 1:* -FLAGS (\\Seen)')), /OK/);
      const p = await pop3(ports);
      await p.multi('TOP 1 5');
      const retr = await p.multi('RETR 2');
      assert.match(retr.status, /^\+OK \d+ octets$/);
      await p.cmd('QUIT');
      const after = await c.cmd('FETCH 1:2 (FLAGS)');
      assert.match(after, /\* 1 FETCH \(FLAGS \((?![^)]*\\Seen)[^)]*\)\)/, after);
      assert.match(after, /\* 2 FETCH \(FLAGS \([^)]*\\Seen[^)]*\)\)/, after);
      await c.cmd('LOGOUT');
      c.close();
    });

    await t.test('a connection dropped before QUIT deletes nothing; RSET unmarks', async () => {
      const p = await pop3(ports);
      assert.match(await p.cmd('DELE 1'), /^\+OK/);
      assert.match(await p.cmd('DELE 2'), /^\+OK/);
      assert.match(await p.cmd('STAT'), /^\+OK 4 /);
      p.destroy();
      // The lock goes with the connection: the next login works, and sees every message.
      let q: Pop3Client | undefined;
      for (let i = 0; i < 50 && !q; i++) {
        const c = await Pop3Client.connect(ports.pop3);
        await c.stls();
        const r = await c.login(USER, PASSWORD);
        if (r.startsWith('+OK')) q = c;
        else {
          assert.match(r, /IN-USE/);
          c.destroy();
          await new Promise((res) => setTimeout(res, 100));
        }
      }
      assert.ok(q);
      assert.match(await q.cmd('STAT'), /^\+OK 6 /);
      assert.match(await q.cmd('DELE 3'), /^\+OK/);
      assert.match(await q.cmd('RSET'), /^\+OK 6 messages/);
      assert.match(await q.cmd('QUIT'), /^\+OK Logging out, 0 messages deleted/);
      assert.deepEqual(await uidlById(ports), first);
    });

    await t.test('a second concurrent session gets [IN-USE]; IMAP keeps working', async () => {
      const a = await pop3(ports);
      const b = await Pop3Client.connect(ports.pop3s, true);
      assert.match(await b.cmd(`USER ${USER}`), /^\+OK/);
      assert.match(await b.cmd(`PASS ${PASSWORD}`), /^-ERR \[IN-USE\] /);
      // Still in AUTHORIZATION: it may try again once the first is gone.
      const c = await imap(ports);
      assert.match(tagged(await c.cmd('SELECT INBOX')), /OK/);
      assert.match(tagged(await c.cmd('NOOP')), /OK/);
      assert.match(await a.cmd('QUIT'), /^\+OK/);
      await a.waitClosed();
      assert.match(await b.login(USER, PASSWORD), /^\+OK Logged in/);
      assert.match(await b.cmd('QUIT'), /^\+OK/);
      await c.cmd('LOGOUT');
      c.close();
    });

    await t.test('every error reply, and the session goes on', async () => {
      const c = await Pop3Client.connect(ports.pop3);
      const expect = async (command: string, re: RegExp) => assert.match(await c.cmd(command), re, command);
      await expect('STAT', /^-ERR Log in first$/);
      await expect('RETR 1', /^-ERR Log in first$/);
      await expect('USER x', /^-ERR \[AUTH\] Plaintext authentication disallowed/);
      await expect('AUTH PLAIN', /^-ERR \[AUTH\] Plaintext authentication disallowed/);
      await expect('BOGUS', /^-ERR Unknown command$/);
      await expect('', /^-ERR Unknown command$/);
      await expect('APOP bob@example.test 0123456789abcdef0123456789abcdef', /^-ERR Unknown command$/);
      await expect('QUIT extra', /^-ERR Wrong arguments for QUIT$/);
      await expect(`NOOP ${'x'.repeat(300)}`, /^-ERR Line too long$/);
      await expect('CAPA\0', /^-ERR (Wrong arguments|Unknown command|Invalid characters)/);
      await c.stls();
      await expect('STLS', /^-ERR /);
      await expect('PASS nothing-yet', /^-ERR Send USER first$/);
      await expect('AUTH CRAM-MD5', /^-ERR Unsupported authentication mechanism$/);
      assert.match(await c.cmd('AUTH PLAIN'), /^\+ $/);
      await expect('*', /^-ERR Authentication aborted$/);
      await expect(`USER ${USER}`, /^\+OK/);
      await expect('PASS wrong password', /^-ERR \[AUTH\] Authentication failed$/);
      assert.match(await c.cmd('AUTH PLAIN'), /^\+ $/);
      await expect('not base64!', /^-ERR \[AUTH\] Malformed authentication data$/);
      await expect(`AUTH PLAIN ${Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64')}`, /^\+OK Logged in/);
      await expect('NOOP', /^\+OK/);
      await expect('USER x', /^-ERR Not allowed after login$/);
      await expect('STLS', /^-ERR Not allowed after login$/);
      await expect('RETR', /^-ERR Wrong arguments for RETR$/);
      await expect('RETR 0', /^-ERR Invalid message number$/);
      await expect('RETR 01', /^-ERR Invalid message number$/);
      await expect('RETR -1', /^-ERR Invalid message number$/);
      await expect('RETR 99', /^-ERR No such message$/);
      await expect('RETR 99999999999999999999', /^-ERR Invalid message number$/);
      await expect('LIST 7', /^-ERR No such message$/);
      await expect('UIDL 7', /^-ERR No such message$/);
      await expect('TOP 1', /^-ERR Wrong arguments for TOP$/);
      await expect('TOP 1 x', /^-ERR Invalid line count$/);
      await expect('TOP 1 -1', /^-ERR Invalid line count$/);
      await expect('DELE 1', /^\+OK Message 1 deleted$/);
      await expect('DELE 1', /^-ERR Message is deleted$/);
      await expect('RETR 1', /^-ERR Message is deleted$/);
      await expect('LIST 1', /^-ERR Message is deleted$/);
      await expect('STAT', /^\+OK 5 /);
      // Removed by IMAP meanwhile: RETR says so.
      const i = await imap(ports);
      assert.match(tagged(await i.cmd('SELECT INBOX')), /OK/);
      assert.match(tagged(await i.cmd('STORE 2 +FLAGS.SILENT (\\Deleted)')), /OK/);
      assert.match(tagged(await i.cmd('EXPUNGE')), /OK/);
      await expect('RETR 2', /^-ERR Message was removed meanwhile by another client$/);
      await expect('RSET', /^\+OK 6 messages/);
      await expect('LIST 1', /^\+OK 1 \d+$/);
      await expect('QUIT', /^\+OK Logging out, 0 messages deleted/);
      await i.cmd('LOGOUT');
      i.close();
      // Three failed logins end the session.
      const d = await Pop3Client.connect(ports.pop3s, true);
      await d.cmd(`USER ${USER}`);
      assert.match(await d.cmd('PASS bad-1'), /^-ERR \[AUTH\]/);
      await d.cmd(`USER ${USER}`);
      assert.match(await d.cmd('PASS bad-2'), /^-ERR \[AUTH\]/);
      await d.cmd(`USER ${USER}`);
      assert.match(await d.cmd('PASS bad-3'), /^-ERR \[AUTH\]/);
      assert.match(await d.line(), /^-ERR \[AUTH\] Too many authentication failures$/);
      await d.waitClosed();
      assert.ok(d.closed);
      // Failures are logged like IMAP's, for fail2ban.
      const failed = served!.events.filter((e) => e.event === 'auth-failed' && e.service === 'pop3');
      assert.ok(failed.length >= 4, JSON.stringify(failed));
      assert.ok(failed.some((e) => e.reason === 'malformed'));
      first = await uidlById(ports);
    });

    await t.test('UIDLs survive a restart and a `postino reindex`', async () => {
      assert.equal(await served!.stop(), 0);
      served = serve();
      ports = await portsOf(served);
      assert.deepEqual(await uidlById(ports), first, 'after a restart');
      assert.equal(await served.stop(), 0);
      const r = postino(s.dir, ['reindex', USER]);
      assert.equal(r.code, 0, r.stderr);
      served = serve();
      ports = await portsOf(served);
      assert.deepEqual(await uidlById(ports), first, 'after reindex');
    });

    await t.test('fetchmail over STLS with keep: a second run downloads nothing new', () => {
      const one = fetchmail(s.dir, ports, true, 'keep1');
      assert.equal(one.code, 0, one.log);
      assert.equal(count(one.mbox), 5, one.log);
      const two = fetchmail(s.dir, ports, true, 'keep2');
      assert.equal(two.code, 1, `exit 1 is "no mail": ${two.log}`);
      assert.equal(count(two.mbox), 0, two.log);
      assert.match(one.log, /STLS/);
    });

    await t.test('fetchmail without keep empties the INBOX, and an IMAP session sees the expunges', async () => {
      const c = await imap(ports);
      assert.match(tagged(await c.cmd('SELECT INBOX')), /OK/);
      const f = fetchmail(s.dir, ports, false, 'nokeep');
      assert.equal(f.code, 0, f.log);
      assert.equal(count(f.mbox), 5, f.log);
      const noop = await c.cmd('NOOP');
      assert.equal((noop.match(/^\* \d+ EXPUNGE/gm) ?? []).length, 5, noop);
      const status = await c.cmd('STATUS Archive (MESSAGES)');
      assert.match(status, /OK/);
      await c.cmd('LOGOUT');
      c.close();
      const p = await pop3(ports);
      assert.match(await p.cmd('STAT'), /^\+OK 0 0$/);
      await p.cmd('QUIT');
    });
  } finally {
    if (served) assert.equal(await served.stop(), 0);
    s.cleanup();
  }
});
