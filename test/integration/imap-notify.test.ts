// NOTIFY (RFC 5465) over TCP: one session asks to be notified, another one
// appends, expunges, stores flags, creates, renames, deletes and subscribes,
// and the first hears STATUS and LIST responses (between commands, at any
// time when it is not in a command, and in IDLE), FETCH with MessageNew's
// fetch-att for the selected mailbox; BADEVENT for events Postino cannot
// report; hostile inputs (huge event lists, many mailboxes, a flood of
// changes to a client that does not read) stay bounded and end in
// NOTIFICATIONOVERFLOW; and Python's imaplib drives NOTIFY as a client would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { startImapHarness, USER, PASSWORD, type ImapHarness } from './imap-harness.js';
import { tagged, type RawImap } from './imap-raw-client.js';
import { NOTIFY_LIMITS } from '../../src/protocol/imap/notify.js';
import { have, runClient } from '../support/client-process.js';

let h: ImapHarness;

before(async () => {
  h = await startImapHarness();
});

after(async () => {
  await h?.close();
});

const ok = async (c: RawImap, command: string, timeoutMs = 5000): Promise<string> => {
  const r = await c.cmd(command, timeoutMs);
  assert.match(tagged(r), /^t\d+ OK/, `${command}: ${r}`);
  return r;
};

async function append(c: RawImap, box: string, text = 'Subject: hi\r\n\r\nbody\r\n', flags = ''): Promise<void> {
  const tag = c.nextTag();
  c.write(`${tag} APPEND ${box}${flags ? ` (${flags})` : ''} {${text.length}+}\r\n${text}\r\n`);
  const r = await c.waitFor(new RegExp(`${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`));
  assert.match(r, new RegExp(`${tag} OK`), r);
}

test('CAPABILITY announces NOTIFY', async () => {
  const c = await h.login();
  assert.match(await c.cmd('CAPABILITY'), /\* CAPABILITY [^\r\n]* NOTIFY/);
  c.close();
});

test('NOTIFY SET STATUS (personal ...): initial STATUS, then STATUS on append, flags and expunge in another mailbox (the items Dovecot sends), unsolicited between commands', async () => {
  const a = await h.login();
  const b = await h.login();
  await ok(b, 'CREATE Lists');
  await append(b, 'Lists');
  const r = await ok(a, 'NOTIFY SET STATUS (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) (personal (MessageNew MessageExpunge FlagChange))');
  assert.match(r, /\* STATUS "Lists" \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1 HIGHESTMODSEQ \d+\)/);
  assert.match(r, /\* STATUS "INBOX" \(MESSAGES \d+ UIDNEXT \d+ UIDVALIDITY \d+ UNSEEN \d+ HIGHESTMODSEQ \d+\)/);
  // Not in a command: the notification comes by itself (RFC 5465 5).
  await append(b, 'Lists');
  assert.match(await a.waitFor(/\* STATUS "Lists" \([^)]*\)\r\n/), /\(MESSAGES 2 UIDNEXT 3 UNSEEN 2 HIGHESTMODSEQ \d+\)/);
  await ok(b, 'SELECT Lists');
  await ok(b, 'STORE 1 +FLAGS (\\Seen)');
  assert.match(await a.waitFor(/\* STATUS "Lists" \([^)]*\)\r\n/), /\(UNSEEN 1 HIGHESTMODSEQ \d+\)/);
  await ok(b, 'STORE 2 +FLAGS (\\Deleted)');
  await a.waitFor(/\* STATUS "Lists"[^\r\n]*\r\n/);
  await ok(b, 'EXPUNGE');
  assert.match(await a.waitFor(/\* STATUS "Lists" \([^)]*\)\r\n/), /\(MESSAGES 1 UIDNEXT 3 UNSEEN 0 HIGHESTMODSEQ \d+\)/);
  await ok(b, 'DELETE Lists');
  a.close();
  b.close();
});

test('The selected mailbox: MessageNew with fetch-att sends FETCH of the new message; no STATUS for it', async () => {
  const a = await h.login();
  const b = await h.login();
  await ok(b, 'CREATE Sel');
  await ok(a, 'SELECT Sel');
  await ok(a, 'NOTIFY SET (selected (MessageNew (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)]) MessageExpunge)) (personal (MessageNew MessageExpunge))');
  await append(b, 'Sel', 'Subject: fetched for you\r\n\r\nx\r\n');
  const r = await ok(a, 'NOOP');
  assert.match(r, /\* 1 EXISTS/);
  assert.match(r, /\* 1 FETCH \([^\r\n]*UID 1[^\r\n]*BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: fetched for you/);
  assert.doesNotMatch(r, /STATUS "Sel"/);
  // In IDLE as well.
  a.write('t99 IDLE\r\n');
  await a.waitFor(/\+ [^\r\n]*\r\n/);
  await append(b, 'Sel', 'Subject: second\r\n\r\nx\r\n');
  await a.waitFor(/\* 2 EXISTS\r\n/);
  await a.waitFor(/\* 2 FETCH \([^\r\n]*UID 2[^\r\n]*\{\d+\}\r\nSubject: second/);
  // Another mailbox in IDLE: STATUS right away.
  await append(b, 'INBOX');
  await a.waitFor(/\* STATUS "INBOX" \([^)]*\)\r\n/);
  a.write('DONE\r\n');
  await a.waitFor(/t99 OK[^\r\n]*\r\n/);
  await ok(b, 'DELETE Sel');
  a.close();
  b.close();
});

test('MailboxName and SubscriptionChange: LIST responses for create, rename (OLDNAME), delete, subscribe and unsubscribe', async () => {
  const a = await h.login();
  const b = await h.login();
  await ok(a, 'NOTIFY SET (personal (MailboxName SubscriptionChange))');
  const told = async (): Promise<string[]> => (await ok(a, 'NOOP')).split('\r\n').filter((l) => l.startsWith('* LIST'));
  await ok(b, 'CREATE Fresh');
  assert.ok((await told()).includes('* LIST () "/" "Fresh"'));
  await ok(b, 'RENAME Fresh Renamed');
  assert.ok((await told()).includes('* LIST () "/" "Renamed" ("OLDNAME" (Fresh))'));
  await ok(b, 'SUBSCRIBE Renamed');
  assert.deepEqual(await told(), ['* LIST (\\Subscribed) "/" "Renamed"']);
  await ok(b, 'UNSUBSCRIBE Renamed');
  assert.deepEqual(await told(), ['* LIST () "/" "Renamed"']);
  await ok(b, 'DELETE Renamed');
  assert.ok((await told()).includes('* LIST (\\NonExistent) "/" "Renamed"'));
  // NOTIFY NONE: nothing more.
  await ok(a, 'NOTIFY NONE');
  await ok(b, 'CREATE Quiet');
  await ok(b, 'DELETE Quiet');
  const r = await ok(a, 'NOOP');
  assert.doesNotMatch(r, /LIST/);
  a.close();
  b.close();
});

test('Filters: MAILBOXES, SUBTREE, SUBSCRIBED and INBOXES pick the mailboxes they name; the first group that takes a mailbox decides', async () => {
  const a = await h.login();
  const b = await h.login();
  for (const m of ['Work', 'Work/Sub', 'Other', 'Subbed']) await ok(b, `CREATE ${m}`);
  await ok(b, 'SUBSCRIBE Subbed');
  await ok(a, 'NOTIFY SET (inboxes NONE) (mailboxes Other (MessageNew MessageExpunge)) (subtree Work (MessageNew MessageExpunge)) (subscribed (MessageNew MessageExpunge))');
  for (const m of ['Work/Sub', 'Other', 'Subbed', 'INBOX']) await append(b, m);
  const r = await ok(a, 'NOOP');
  for (const m of ['Work/Sub', 'Other', 'Subbed']) assert.match(r, new RegExp(`\\* STATUS "${m}" \\(`), m);
  assert.doesNotMatch(r, /STATUS "INBOX"/);
  for (const m of ['Work/Sub', 'Work', 'Other', 'Subbed']) await ok(b, `DELETE ${m}`);
  await ok(b, 'UNSUBSCRIBE Subbed');
  a.close();
  b.close();
});

test('Bad NOTIFY commands: BADEVENT for AnnotationChange and metadata, BAD for malformed ones; MessageNew or FlagChange alone accepted as Dovecot does', async () => {
  const a = await h.login();
  for (const ev of ['AnnotationChange', 'MailboxMetadataChange', 'ServerMetadataChange']) {
    const r = await a.cmd(`NOTIFY SET (personal (MessageNew MessageExpunge ${ev}))`);
    // Dovecot 2.3 names the refused event (RFC 5465 would list the supported ones).
    assert.match(tagged(r), new RegExp(`^t\\d+ NO \\[BADEVENT ${ev}\\]`), ev);
  }
  for (const bad of [
    'NOTIFY',
    'NOTIFY SET',
    'NOTIFY SET (personal)',
    'NOTIFY SET (personal ())',
    'NOTIFY SET (nowhere (MessageNew MessageExpunge))',
    'NOTIFY SET (personal (NoSuchEvent))',
    'NOTIFY SET (personal (MessageNew (UID) MessageExpunge))',
    'NOTIFY SET (selected (MessageNew (NOSUCHATT) MessageExpunge))',
    'NOTIFY SET (selected NONE) (selected-delayed NONE)',
    'NOTIFY NONE extra',
  ]) {
    assert.match(tagged(await a.cmd(bad)), /^t\d+ BAD/, bad);
    // Not too many BADs in a row (the session would end).
    await ok(a, 'NOOP');
  }
  // RFC 5465 says BAD; Dovecot 2.3 accepts these, and so do we.
  await ok(a, 'NOTIFY SET (personal (MessageNew))');
  await ok(a, 'NOTIFY SET (personal (FlagChange))');
  a.close();
});

test('Hostile: a huge event list and very many mailbox names are refused with BAD; the session lives on', async () => {
  const a = await h.login();
  const events = Array.from({ length: 20_000 }, () => 'MessageNew').join(' ');
  const r1 = await a.cmd(`NOTIFY SET (personal (${events} MessageExpunge))`);
  assert.match(tagged(r1), /^t\d+ (OK|BAD)/);
  const names = Array.from({ length: NOTIFY_LIMITS.maxNames + 1 }, (_, i) => `m${i}`).join(' ');
  assert.match(tagged(await a.cmd(`NOTIFY SET (mailboxes (${names}) (MessageNew MessageExpunge))`)), /^t\d+ BAD/);
  const groups = Array.from({ length: NOTIFY_LIMITS.maxGroups + 1 }, () => '(personal NONE)').join(' ');
  assert.match(tagged(await a.cmd(`NOTIFY SET ${groups}`)), /^t\d+ BAD/);
  await ok(a, 'NOOP');
  a.close();
});

test('Many mailboxes: changes in 150 mailboxes each reach the client', async () => {
  const a = await h.login();
  const b = await h.login();
  for (let i = 0; i < 150; i++) await ok(b, `CREATE Many/${i}`);
  await ok(a, 'NOTIFY SET (subtree Many (MessageNew MessageExpunge))');
  for (let i = 0; i < 150; i++) await append(b, `Many/${i}`);
  const r = await ok(a, 'NOOP');
  const got = new Set(r.match(/\* STATUS "Many\/\d+"/g) ?? []);
  // Each mailbox was told at least once; none hears of another's change.
  assert.equal(got.size, 150);
  for (let i = 0; i < 150; i++) await ok(b, `DELETE Many/${i}`);
  await ok(b, 'DELETE Many');
  a.close();
  b.close();
});

/**
 * A client on a bare TLS socket that can stop reading; what it receives is
 * scanned once as it arrives (a 9 MB literal must not be kept or rescanned):
 * only status lines and the count of STATUS lines are kept.
 */
async function slowClient(): Promise<{ sock: tls.TLSSocket; lines: string[]; statuses: () => number; until(re: RegExp, ms?: number): Promise<void> }> {
  const sock = tls.connect({ host: '127.0.0.1', port: h.tlsPort, rejectUnauthorized: false });
  const lines: string[] = [];
  let statuses = 0;
  let partial = '';
  const waiters: Array<() => void> = [];
  sock.on('data', (d: Buffer) => {
    const text = partial + d.toString('latin1');
    const parts = text.split('\r\n');
    partial = parts.pop()!.slice(-2000);
    for (const l of parts) {
      if (l.startsWith('* STATUS')) statuses++;
      else if (/^(\* OK|\* BYE|[a-z]\d+ (OK|NO|BAD))/.test(l)) lines.push(l);
    }
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('secureConnect', () => resolve());
    sock.once('error', reject);
  });
  const until = async (re: RegExp, ms = 60_000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!lines.some((l) => re.test(l))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; lines: ${JSON.stringify(lines.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 500);
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  };
  sock.write(`l1 LOGIN "${USER}" "${PASSWORD}"\r\n`);
  await until(/^l1 OK/);
  return { sock, lines, statuses: () => statuses, until };
}

test('A flood of changes to a client that does not read: bounded, then NOTIFICATIONOVERFLOW and silence', async () => {
  const a = await slowClient();
  const b = await h.login();
  await ok(b, 'CREATE Flood');
  await ok(b, 'CREATE Big');
  // A message large enough that the silent client's socket buffers fill up.
  await append(b, 'Big', 'Subject: big\r\n\r\n' + ('y'.repeat(998) + '\r\n').repeat(9000));
  a.sock.write('s1 SELECT Big\r\ns2 NOTIFY SET (personal (MessageNew MessageExpunge FlagChange))\r\n');
  await a.until(/^s2 OK/);
  // The client asks for the big message three times and stops reading: its session is stuck writing.
  a.sock.pause();
  a.sock.write('f1 FETCH 1 BODY.PEEK[]\r\nf2 FETCH 1 BODY.PEEK[]\r\nf3 FETCH 1 BODY.PEEK[]\r\n');
  await new Promise((r) => setTimeout(r, 300));
  await append(b, 'Flood');
  await ok(b, 'SELECT Flood');
  // Double the mailbox until more changes happened than a session may fall behind.
  for (let n = 1; n <= NOTIFY_LIMITS.maxBehind; n *= 2) await ok(b, 'COPY 1:* Flood', 120_000);
  // Now read: the FETCHes complete, then the overflow notice, once.
  a.sock.resume();
  await a.until(/^f3 OK/);
  a.sock.write('n1 NOOP\r\n');
  await a.until(/^n1 OK/);
  assert.equal(a.lines.filter((l) => /NOTIFICATIONOVERFLOW/.test(l)).length, 1, JSON.stringify(a.lines));
  // Far fewer STATUS lines than changes: nothing was queued per change.
  assert.ok(a.statuses() < 50, `${a.statuses()} STATUS lines`);
  const before = a.statuses();
  await ok(b, 'STORE 1 +FLAGS (\\Seen)');
  await append(b, 'Flood');
  a.sock.write('n2 NOOP\r\n');
  await a.until(/^n2 OK/);
  assert.equal(a.statuses(), before, 'no STATUS after NOTIFICATIONOVERFLOW');
  await ok(b, 'CLOSE', 60_000);
  await ok(b, 'DELETE Flood', 60_000);
  await ok(b, 'DELETE Big');
  a.sock.destroy();
  b.close();
});

const PYTHON_NOTIFY = String.raw`
import imaplib, json, ssl, sys, time
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
a = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
b = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
a.login(user, password); b.login(user, password)
out = {'caps': list(a.capability()[1][0].decode().split())}
b.create('PyBox')
imaplib.Commands['NOTIFY'] = ('AUTH', 'SELECTED')
typ, data = a._simple_command('NOTIFY', 'SET', 'STATUS', '(personal (MessageNew MessageExpunge FlagChange MailboxName))')
out['notify'] = typ
out['initial'] = [x.decode() if isinstance(x, bytes) else str(x) for x in a.untagged_responses.pop('STATUS', [])]
b.append('PyBox', None, None, b'Subject: py\r\n\r\nhello\r\n')
b.create('PyOther')
time.sleep(0.3)
typ, data = a.noop()
out['status'] = [x.decode() for x in a.untagged_responses.pop('STATUS', [])]
out['list'] = [x.decode() if isinstance(x, bytes) else str(x) for x in a.untagged_responses.pop('LIST', [])]
typ, data = a.xatom('NOTIFY', 'SET', '(personal (AnnotationChange))')
out['badevent'] = typ
out['badevent_text'] = data[0].decode() if data and isinstance(data[0], bytes) else str(data)
typ, data = a.xatom('NOTIFY', 'NONE')
out['none'] = typ
b.delete('PyBox'); b.delete('PyOther')
a.logout(); b.logout()
print(json.dumps(out))
`;

test('Python imaplib: NOTIFY SET STATUS, STATUS and LIST notifications, BADEVENT, NOTIFY NONE', { skip: !have('python3') }, async () => {
  const script = path.join(h.dir, 'notify.py');
  writeFileSync(script, PYTHON_NOTIFY);
  const r = await runClient('python3', [script, String(h.tlsPort), USER, PASSWORD]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.ok((out.caps as string[]).includes('NOTIFY'));
  assert.equal(out.notify, 'OK');
  assert.ok((out.initial as string[]).some((s) => /^"PyBox" \(MESSAGES 0 /.test(s)), JSON.stringify(out.initial));
  assert.ok((out.status as string[]).some((s) => /^"PyBox" \(MESSAGES 1 UIDNEXT 2 UNSEEN 1 HIGHESTMODSEQ \d+\)/.test(s)), JSON.stringify(out.status));
  assert.ok((out.list as string[]).some((s) => /\(\) "\/" "PyOther"/.test(s)), JSON.stringify(out.list));
  assert.equal(out.badevent, 'NO');
  assert.equal(out.none, 'OK');
});
