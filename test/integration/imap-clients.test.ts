// Other real clients: curl's IMAP support and Python's imaplib, each
// running a short scripted session (STARTTLS and implicit TLS).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startImapHarness, USER, PASSWORD, type ImapHarness } from './imap-harness.js';
import { have, runClient } from '../support/client-process.js';

let h: ImapHarness;

before(async () => {
  h = await startImapHarness();
});

after(async () => {
  await h.close();
});

function curl(args: string[]) {
  return runClient('curl', ['-sS', '--insecure', '-u', `${USER}:${PASSWORD}`, '--max-time', '20', ...args]);
}

test('curl: list, append, search, fetch over STARTTLS and IMAPS', { skip: !have('curl') }, async () => {
  const base = `imap://127.0.0.1:${h.port}`;
  const list = await curl(['--ssl-reqd', `${base}/`]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /\* LIST \([^)]*\) "\/" "?INBOX"?/);
  assert.match(list.stdout, /\\Sent\) "\/" "?Sent"?/);

  const file = path.join(h.dir, 'curl-message.eml');
  writeFileSync(file, 'From: curl@remote.test\r\nTo: alice@example.test\r\nSubject: sent by curl\r\n\r\nHello from curl.\r\n');
  const up = await curl(['--ssl-reqd', '-T', file, `${base}/INBOX`]);
  assert.equal(up.code, 0, up.stderr);

  const search = await curl(['--ssl-reqd', '-X', 'SEARCH SUBJECT "sent by curl"', `${base}/INBOX`]);
  assert.equal(search.code, 0, search.stderr);
  const uid = /\* SEARCH (\d+)/.exec(search.stdout)?.[1];
  assert.ok(uid, search.stdout);

  const fetched = await curl([`imaps://127.0.0.1:${h.tlsPort}/INBOX;UID=${uid}`]);
  assert.equal(fetched.code, 0, fetched.stderr);
  assert.match(fetched.stdout, /Subject: sent by curl/);
  assert.match(fetched.stdout, /Hello from curl\./);

  // curl refuses to send credentials in the clear when told so; the server never offers it.
  const plain = await curl([`${base}/`]);
  assert.notEqual(plain.code, 0, 'no login without TLS');
});

const PYTHON_SESSION = `
import imaplib, json, ssl, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
out = {}
m = imaplib.IMAP4('127.0.0.1', port)
out['caps_before'] = list(m.capabilities)
m.starttls(ssl_context=ctx)
out['login'] = m.login(user, password)[0]
typ, _ = m.create('PyFolder')
out['create'] = typ
msg = b'From: py@remote.test\\r\\nSubject: from python\\r\\n\\r\\nbody text here\\r\\n'
out['append'] = m.append('PyFolder', '(\\\\Flagged)', imaplib.Time2Internaldate(1700000000), msg)[0]
typ, data = m.select('PyFolder')
out['exists'] = int(data[0])
typ, data = m.search(None, 'SUBJECT', '"from python"')
out['search'] = data[0].decode()
typ, data = m.fetch('1', '(FLAGS INTERNALDATE BODY.PEEK[TEXT])')
out['fetch_body'] = data[0][1].decode()
out['fetch_meta'] = data[0][0].decode()
typ, data = m.store('1', '+FLAGS', '(\\\\Seen)')
out['store'] = data[0].decode()
out['copy'] = m.copy('1', 'INBOX')[0]
# CATENATE (RFC 4469): a new message from the stored one's header and body, by IMAP URL.
typ, data = m._simple_command('APPEND', 'PyFolder', 'CATENATE', '(URL "/PyFolder/;UID=1/;SECTION=HEADER" URL "/PyFolder/;UID=1/;SECTION=TEXT")')
out['catenate'] = typ
typ, data = m.uid('FETCH', '2', '(BODY.PEEK[])')
out['catenated'] = data[0][1].decode()
m.uid('STORE', '2', '+FLAGS', '(\\Deleted)')
typ, data = m.uid('SEARCH', None, 'ALL')
out['uids'] = data[0].decode()
m.store('1', '+FLAGS', '(\\\\Deleted)')
typ, data = m.expunge()
out['expunge'] = [d.decode() for d in data if d]
typ, data = m.list()
out['list'] = [d.decode() for d in data]
out['close'] = m.close()[0]
out['logout'] = m.logout()[0]
print(json.dumps(out))
`;

test('Python imaplib: a scripted session over STARTTLS', { skip: !have('python3') }, async () => {
  const script = path.join(h.dir, 'session.py');
  writeFileSync(script, PYTHON_SESSION);
  const r = await runClient('python3', [script, String(h.port), USER, PASSWORD]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.ok((out.caps_before as string[]).includes('STARTTLS'));
  assert.ok((out.caps_before as string[]).includes('LOGINDISABLED'));
  assert.equal(out.login, 'OK');
  assert.equal(out.create, 'OK');
  assert.equal(out.append, 'OK');
  assert.equal(out.exists, 1);
  assert.equal(out.search, '1');
  assert.equal(out.fetch_body, 'body text here\r\n');
  // The session that selected the new message first sees it as \Recent (RFC 3501 2.3.2).
  assert.match(String(out.fetch_meta), /FLAGS \(\\Flagged \\Recent\)/);
  assert.match(String(out.fetch_meta), /INTERNALDATE "14-Nov-2023 22:13:20 \+0000"/);
  assert.match(String(out.store), /FLAGS \(\\Flagged \\Seen \\Recent\)/);
  assert.equal(out.copy, 'OK');
  assert.equal(out.catenate, 'OK');
  assert.equal(out.catenated, 'From: py@remote.test\r\nSubject: from python\r\n\r\nbody text here\r\n');
  assert.equal(out.uids, '1 2');
  assert.deepEqual(out.expunge, ['2', '1']);
  assert.ok((out.list as string[]).some((l) => /"PyFolder"$/.test(l)));
  assert.equal(out.close, 'OK');
  assert.equal(out.logout, 'BYE');
});
