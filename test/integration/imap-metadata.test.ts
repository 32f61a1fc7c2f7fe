// METADATA (RFC 5464) over TCP against the in-process IMAP listener: the
// RFC's examples, private and shared entries on the server and on mailboxes,
// DELETE and RENAME, hostile input (huge literals, deep and long names, many
// entries: each a NO with its code and nothing changed), and a Python
// imaplib session. Restart and reindex: imap-metadata-serve.test.ts; the
// same commands against Dovecot: test/conformance/imap-metadata-dovecot.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startImapHarness, USER, PASSWORD, type ImapHarness } from './imap-harness.js';
import { RawImap, tagged } from './imap-raw-client.js';
import { IMAP_LIMITS } from '../../src/protocol/imap/limits.js';
import { have, runClient } from '../support/client-process.js';

let h: ImapHarness;

before(async () => {
  h = await startImapHarness();
});

after(async () => {
  await h?.close();
});

const ok = async (c: RawImap, command: string) => {
  const r = await c.cmd(command);
  assert.match(tagged(r), /^t\d+ OK/, `${command}: ${r}`);
  return r;
};

/** Sends a command ending in a synchronising literal after the continuation, then `rest`; the whole reply. */
async function withLiteral(c: RawImap, head: string, literal: Buffer | string, rest: string, literal8 = false): Promise<string> {
  const tag = c.nextTag();
  const bytes = Buffer.isBuffer(literal) ? literal : Buffer.from(literal);
  c.write(`${tag} ${head} ${literal8 ? '~' : ''}{${bytes.length}}\r\n`);
  const cont = await c.waitFor(/^(\+|t\d+ )[^\r\n]*\r\n/m);
  if (!cont.startsWith('+')) return cont;
  c.write(Buffer.concat([bytes, Buffer.from(`${rest}\r\n`)]));
  return c.waitFor(new RegExp(`(?:^|\\r\\n)${tag} (?:OK|NO|BAD)[^\\r\\n]*\\r\\n`), 10_000);
}

const MAX = IMAP_LIMITS.metadataMaxValueSize;

test('CAPABILITY announces METADATA and METADATA-SERVER after login only', async () => {
  const c = await RawImap.connect(h.tlsPort, true);
  const pre = await c.cmd('CAPABILITY');
  assert.doesNotMatch(pre, /METADATA/);
  await ok(c, `LOGIN "${USER}" "${PASSWORD}"`);
  const caps = (await c.cmd('CAPABILITY')).split('\r\n')[0]!.split(' ');
  assert.ok(caps.includes('METADATA') && caps.includes('METADATA-SERVER'), caps.join(' '));
  c.close();
});

test('RFC 5464 4.2 and 4.3 examples: get, set with a literal, set several, remove with NIL', async () => {
  const c = await h.login();
  // Nothing set yet: the entry is NIL (4.2).
  assert.match(await c.cmd('GETMETADATA INBOX /private/comment'), /^\* METADATA INBOX \(\/private\/comment NIL\)\r\n/);
  // 4.3: a value sent as a synchronising literal, across two lines.
  const comment = 'My new comment across\r\ntwo lines.';
  assert.equal(Buffer.byteLength(comment), 33);
  assert.match(tagged(await withLiteral(c, 'SETMETADATA INBOX (/private/comment', comment, ')')), /^t\d+ OK/);
  assert.match(await c.cmd('GETMETADATA INBOX /private/comment'), /^\* METADATA INBOX \(\/private\/comment \{33\}\r\nMy new comment across\r\ntwo lines\.\)\r\n/);
  // 4.3: several entries in one command; 4.2: several in one GETMETADATA (values always as literals, as Dovecot).
  await ok(c, 'SETMETADATA INBOX (/private/comment "My own comment" /shared/comment "Its sunny outside!")');
  assert.match(
    await c.cmd('GETMETADATA INBOX (/private/comment /shared/comment)'),
    /^\* METADATA INBOX \(\/private\/comment \{14\}\r\nMy own comment \/shared\/comment \{18\}\r\nIts sunny outside!\)\r\n/,
  );
  // 4.3: NIL removes.
  await ok(c, 'SETMETADATA INBOX (/private/comment NIL)');
  assert.match(await c.cmd('GETMETADATA INBOX (/private/comment /shared/comment)'), /\(\/private\/comment NIL \/shared\/comment \{18\}\r\nIts sunny outside!\)/);
  await ok(c, 'SETMETADATA INBOX (/shared/comment NIL)');
  c.close();
});

test('RFC 5464 4.2.1 MAXSIZE: longer values are left out and the longest is named in LONGENTRIES', async () => {
  const c = await h.login();
  const long = 'x'.repeat(2199);
  await ok(c, `SETMETADATA INBOX (/private/comment "My own comment" /shared/comment "${long}")`);
  const r = await c.cmd('GETMETADATA (MAXSIZE 1024) INBOX (/private/comment /shared/comment)');
  assert.match(r, /^\* METADATA INBOX \(\/private\/comment \{14\}\r\nMy own comment\)\r\n/);
  assert.match(tagged(r), /^t\d+ OK \[METADATA LONGENTRIES 2199\]/);
  // Nothing short enough: no METADATA response at all.
  const none = await c.cmd('GETMETADATA (MAXSIZE 10) INBOX /shared/comment');
  assert.equal(none.split('\r\n')[0], tagged(none));
  assert.match(tagged(none), /LONGENTRIES 2199/);
  await ok(c, 'SETMETADATA INBOX (/private/comment NIL /shared/comment NIL)');
  c.close();
});

test('RFC 5464 4.2.2 DEPTH: 0 is the entry alone, 1 its children, infinity everything below', async () => {
  const c = await h.login();
  await ok(c, 'SETMETADATA INBOX (/private/filters/values/small "SMALLER 5000" /private/filters/values/boss "FROM \\"boss@example.com\\"" /private/filters/values/boss/deep "d")');
  const one = await c.cmd('GETMETADATA (DEPTH 1) INBOX (/private/filters/values)');
  assert.match(one, /^\* METADATA INBOX \(\/private\/filters\/values\/boss \{23\}\r\nFROM "boss@example\.com" \/private\/filters\/values\/small \{12\}\r\nSMALLER 5000\)\r\n/);
  const all = await c.cmd('GETMETADATA (DEPTH infinity) INBOX /private/filters');
  assert.equal((all.match(/\/private\/filters\/values\//g) ?? []).length, 3);
  // DEPTH 0 (the default) answers NIL for the entry without a value; 1 leaves it out.
  assert.match(await c.cmd('GETMETADATA INBOX /private/filters/values'), /^\* METADATA INBOX \(\/private\/filters\/values NIL\)\r\n/);
  const bad = await c.cmd('GETMETADATA (DEPTH 2) INBOX /private/filters');
  assert.match(tagged(bad), /^t\d+ BAD/);
  // Asking twice, or for a parent and its child, names each entry once.
  const twice = await c.cmd('GETMETADATA (DEPTH infinity) INBOX (/private/filters /private/filters/values /private/filters)');
  assert.equal((twice.match(/\/private\/filters\/values\/small/g) ?? []).length, 1);
  await ok(c, 'SETMETADATA INBOX (/private/filters/values/small NIL /private/filters/values/boss NIL /private/filters/values/boss/deep NIL)');
  c.close();
});

test('server entries (mailbox ""): /private is kept apart from INBOX\'s; the server\'s /shared cannot be set (NO [CANNOT], as Dovecot)', async () => {
  const c = await h.login();
  await ok(c, 'SETMETADATA "" (/private/vendor/vendor.example/setting "on")');
  await ok(c, 'SETMETADATA INBOX (/private/vendor/vendor.example/setting "inbox")');
  assert.match(await c.cmd('GETMETADATA "" /private/vendor/vendor.example/setting'), /^\* METADATA "" \(\/private\/vendor\/vendor\.example\/setting \{2\}\r\non\)/);
  assert.match(await c.cmd('GETMETADATA INBOX /private/vendor/vendor.example/setting'), /\{5\}\r\ninbox\)/);
  assert.match(await c.cmd('GETMETADATA (DEPTH infinity) "" /private'), /^\* METADATA "" \(\/private\/vendor\/vendor\.example\/setting \{2\}\r\non\)/);
  // RFC 5464 4.3 sets a server /shared/comment; Dovecot 2.3 refuses it (the administrator's entries), and so does Postino.
  assert.match(tagged(await c.cmd('SETMETADATA "" (/private/comment "p" /shared/comment "Shared comment")')), /^t\d+ NO \[CANNOT\]/);
  assert.match(await c.cmd('GETMETADATA "" (/private/comment /shared/comment /shared/admin)'), /\(\/private\/comment NIL \/shared\/comment NIL \/shared\/admin NIL\)/);
  await ok(c, 'SETMETADATA "" (/private/vendor/vendor.example/setting NIL)');
  await ok(c, 'SETMETADATA INBOX (/private/vendor/vendor.example/setting NIL)');
  c.close();
});

test('entry names: case-insensitive and answered lower-cased; invalid ones BAD; a missing mailbox NO [NONEXISTENT]', async () => {
  const c = await h.login();
  await ok(c, 'SETMETADATA INBOX (/Private/Comment "x")');
  assert.match(await c.cmd('GETMETADATA inbox /PRIVATE/COMMENT'), /^\* METADATA INBOX \(\/private\/comment \{1\}\r\nx\)/);
  for (const bad of ['/private/comment/', '/private//comment', '/private/*', '/private/%', '/foo/bar', 'comment', '"/private/caf\u00e9"']) {
    assert.match(tagged(await c.cmd(`GETMETADATA INBOX ${bad}`)), /^t\d+ BAD/, bad);
    assert.match(tagged(await c.cmd(`SETMETADATA INBOX (${bad} "v")`)), /^t\d+ BAD/, bad);
    await ok(c, 'NOOP'); // ten BADs in a row end a session
  }
  for (const bad of ['SETMETADATA INBOX (/private/x)', 'SETMETADATA INBOX /private/x "v"', 'SETMETADATA INBOX (/private/x ("v"))', 'GETMETADATA INBOX', 'GETMETADATA (FOO 1) INBOX /private/x', 'GETMETADATA (MAXSIZE 4294967296) INBOX /private/x']) {
    assert.match(tagged(await c.cmd(bad)), /^t\d+ BAD/, bad);
    await ok(c, 'NOOP');
  }
  assert.match(tagged(await c.cmd('GETMETADATA Nowhere /private/comment')), /^t\d+ NO \[NONEXISTENT\]/);
  assert.match(tagged(await c.cmd('SETMETADATA Nowhere (/private/comment "x")')), /^t\d+ NO \[NONEXISTENT\]/);
  // Still what it was.
  assert.match(await c.cmd('GETMETADATA INBOX /private/comment'), /\{1\}\r\nx\)/);
  await ok(c, 'SETMETADATA INBOX (/private/comment NIL)');
  c.close();
});

test('values: a literal8 without NULs is taken; one with NULs is NO [CANNOT] (as Dovecot); an empty value is a value', async () => {
  const c = await h.login();
  assert.match(tagged(await withLiteral(c, 'SETMETADATA INBOX (/private/bin', Buffer.from([0x41, 0xff, 0x0d, 0x0a, 0x42]), ')', true)), /^t\d+ OK/);
  const r = await c.cmd('GETMETADATA INBOX /private/bin');
  assert.ok(r.startsWith('* METADATA INBOX (/private/bin {5}\r\nA\xff\r\nB)\r\n'), JSON.stringify(r));
  assert.match(tagged(await withLiteral(c, 'SETMETADATA INBOX (/private/bin', Buffer.from([0x41, 0x00, 0x42]), ')', true)), /^t\d+ NO \[CANNOT\]/);
  assert.match(await c.cmd('GETMETADATA INBOX /private/bin'), /\{5\}/);
  await ok(c, 'SETMETADATA INBOX (/private/bin "")');
  assert.match(await c.cmd('GETMETADATA INBOX /private/bin'), /^\* METADATA INBOX \(\/private\/bin \{0\}\r\n\)\r\n/);
  await ok(c, 'SETMETADATA INBOX (/private/bin NIL)');
  c.close();
});

test('DELETE takes a mailbox\'s entries away; RENAME keeps them, for its children too', async () => {
  const c = await h.login();
  await ok(c, 'CREATE Proj/Sub');
  await ok(c, 'SETMETADATA Proj (/private/comment "parent")');
  await ok(c, 'SETMETADATA Proj/Sub (/shared/comment "child")');
  await ok(c, 'RENAME Proj Work');
  assert.match(await c.cmd('GETMETADATA Work /private/comment'), /\{6\}\r\nparent\)/);
  assert.match(await c.cmd('GETMETADATA Work/Sub /shared/comment'), /\{5\}\r\nchild\)/);
  assert.match(tagged(await c.cmd('GETMETADATA Proj /private/comment')), /NO \[NONEXISTENT\]/);
  await ok(c, 'DELETE Work/Sub');
  await ok(c, 'CREATE Work/Sub');
  assert.match(await c.cmd('GETMETADATA Work/Sub /shared/comment'), /\(\/shared\/comment NIL\)/);
  await ok(c, 'DELETE Work/Sub');
  await ok(c, 'DELETE Work');
  c.close();
});

test('hostile: a huge synchronising literal is refused before it is sent (NO [METADATA MAXSIZE n]); a huge LITERAL+ is skipped; the session goes on', async () => {
  const c = await h.login();
  await ok(c, 'SETMETADATA INBOX (/private/keep "kept")');
  // {100000000}: the answer comes at once, no continuation; the client sends nothing more.
  const tag = c.nextTag();
  c.write(`${tag} SETMETADATA INBOX (/private/keep {100000000}\r\n`);
  const refused = await c.waitFor(new RegExp(`^(\\+|${tag} )[^\\r\\n]*\\r\\n`, 'm'));
  assert.match(refused, new RegExp(`^${tag} NO \\[METADATA MAXSIZE ${MAX}\\]`), refused);
  // One octet over the limit, non-synchronising: the bytes go by, then the NO.
  const over = Buffer.alloc(MAX + 1, 0x61);
  const tag2 = c.nextTag();
  c.write(Buffer.concat([Buffer.from(`${tag2} SETMETADATA INBOX (/private/keep {${over.length}+}\r\n`), over, Buffer.from(')\r\n')]));
  assert.match(await c.waitFor(new RegExp(`${tag2} [^\\r\\n]*\\r\\n`)), new RegExp(`${tag2} NO \\[METADATA MAXSIZE ${MAX}\\]`));
  // Exactly the limit is fine.
  assert.match(tagged(await withLiteral(c, 'SETMETADATA INBOX (/private/big', Buffer.alloc(MAX, 0x62), ')')), /^t\d+ OK/);
  assert.match(tagged(await c.cmd('GETMETADATA (MAXSIZE 0) INBOX /private/big')), new RegExp(`LONGENTRIES ${MAX}\\]`));
  assert.match(await c.cmd('GETMETADATA INBOX /private/keep'), /\{4\}\r\nkept\)/);
  await ok(c, 'SETMETADATA INBOX (/private/big NIL /private/keep NIL)');
  c.close();
});

test('hostile: deep and long entry names are NO [LIMIT] and change nothing; the bounds themselves are fine', async () => {
  const c = await h.login();
  const deepest = '/private' + '/d'.repeat(IMAP_LIMITS.metadataMaxEntryDepth);
  await ok(c, `SETMETADATA INBOX (${deepest} "deep")`);
  const tooDeep = deepest + '/d';
  assert.match(tagged(await c.cmd(`SETMETADATA INBOX (/private/first "1" ${tooDeep} "x")`)), /^t\d+ NO \[LIMIT\]/);
  assert.match(tagged(await c.cmd(`GETMETADATA INBOX ${tooDeep}`)), /^t\d+ NO \[LIMIT\]/);
  const tooLong = '/private/' + 'k'.repeat(IMAP_LIMITS.metadataMaxEntryNameLength);
  assert.match(tagged(await c.cmd(`SETMETADATA INBOX (${tooLong} "x")`)), /^t\d+ NO \[LIMIT\]/);
  // 20,000 levels in one name (a 40 KB line): answered at once, as a limit.
  assert.match(tagged(await c.cmd(`SETMETADATA INBOX (/private${'/z'.repeat(20_000)} "x")`)), /^t\d+ NO \[LIMIT\]/);
  assert.match(await c.cmd('GETMETADATA INBOX /private/first'), /\(\/private\/first NIL\)/);
  const everything = await c.cmd('GETMETADATA (DEPTH infinity) INBOX /private');
  assert.equal((everything.match(/\/private\/d/g) ?? []).length, 1);
  await ok(c, `SETMETADATA INBOX (${deepest} NIL)`);
  c.close();
});

test(`hostile: many entries: ${IMAP_LIMITS.metadataMaxEntriesPerMailbox} per mailbox, then NO [METADATA TOOMANY] and nothing of that command kept`, async () => {
  const c = await h.login();
  await ok(c, 'CREATE Many');
  const n = IMAP_LIMITS.metadataMaxEntriesPerMailbox;
  const entries = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `/private/e${from + i} "v"`).join(' ');
  // One more than allowed in one command: refused whole.
  assert.match(tagged(await c.cmd(`SETMETADATA Many (${entries(0, n + 1)})`)), /^t\d+ NO \[METADATA TOOMANY\]/);
  assert.doesNotMatch(await c.cmd('GETMETADATA (DEPTH 1) Many /private'), /^\* METADATA/m);
  // Up to the limit is fine, in any number of commands.
  await ok(c, `SETMETADATA Many (${entries(0, n - 1)})`);
  await ok(c, `SETMETADATA Many (${entries(n - 1, n)})`);
  assert.match(tagged(await c.cmd(`SETMETADATA Many (/private/e0 "changed" ${entries(n, n + 1)})`)), /^t\d+ NO \[METADATA TOOMANY\]/);
  assert.match(await c.cmd('GETMETADATA Many /private/e0'), /\{1\}\r\nv\)/);
  // Changing and removing stay possible at the limit.
  await ok(c, 'SETMETADATA Many (/private/e0 "changed")');
  await ok(c, 'SETMETADATA Many (/private/e1 NIL)');
  await ok(c, `SETMETADATA Many (${entries(n, n + 1)})`);
  const all = await c.cmd('GETMETADATA (DEPTH 1) Many /private');
  assert.equal((all.match(/\/private\/e\d+ \{/g) ?? []).length, n);
  // Octets per mailbox are bounded too: 64 KB values fill a fresh mailbox's 1 MB.
  await ok(c, 'CREATE Heavy');
  const value = Buffer.alloc(MAX, 0x63);
  let refused = '';
  for (let i = 0; i < 20 && refused === ''; i++) {
    const r = tagged(await withLiteral(c, `SETMETADATA Heavy (/private/h${i}`, value, ')'));
    if (!/ OK/.test(r)) refused = r;
  }
  assert.match(refused, /^t\d+ NO \[METADATA TOOMANY\]/);
  const heavy = await c.cmd('GETMETADATA (DEPTH 1 MAXSIZE 0) Heavy /private');
  assert.match(tagged(heavy), /OK \[METADATA LONGENTRIES/);
  await ok(c, 'DELETE Many');
  await ok(c, 'DELETE Heavy');
  c.close();
});


// imaplib knows no METADATA commands: they are registered, then sent with
// _simple_command; the METADATA responses come back in untagged_responses
// (a value sent as a literal arrives as a (head, data) tuple).
const PYTHON_SESSION = String.raw`
import imaplib, json, ssl, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
imaplib.Commands['GETMETADATA'] = ('AUTH', 'SELECTED')
imaplib.Commands['SETMETADATA'] = ('AUTH', 'SELECTED')
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
out = {}
m.login(user, password)
out['caps'] = m.capability()[1][0].decode().split()

def get(*args):
    typ, data = m._simple_command('GETMETADATA', *args)
    typ, data = m._untagged_response(typ, data, 'METADATA')
    flat = []
    for d in data:
        if isinstance(d, tuple):
            flat.append([d[0].decode(), d[1].decode()])
        elif d is not None:
            flat.append(d.decode())
    return [typ, flat]

out['set_inbox'] = m._simple_command('SETMETADATA', 'INBOX', '(/private/comment "Thunderbird was here" /shared/comment "for everyone")')[0]
out['set_server'] = m._simple_command('SETMETADATA', '""', '(/private/vendor/vendor.roundcube/prefs "{\\"theme\\":\\"elastic\\"}")')[0]
out['get_one'] = get('INBOX', '/private/comment')
out['get_two'] = get('INBOX', '(/private/comment /shared/comment)')
out['get_server'] = get('""', '/private/vendor/vendor.roundcube/prefs')
out['get_depth'] = get('(DEPTH infinity)', '""', '/private')
try:
    m._simple_command('SETMETADATA', 'INBOX', '(/private/bad* "x")')
    out['bad'] = 'accepted'
except imaplib.IMAP4.error as e:
    out['bad'] = str(e)
out['remove'] = m._simple_command('SETMETADATA', 'INBOX', '(/private/comment NIL /shared/comment NIL)')[0]
out['after_remove'] = get('INBOX', '/private/comment')
out['logout'] = m.logout()[0]
print(json.dumps(out))
`;

test('Python imaplib: SETMETADATA and GETMETADATA in a scripted session', async () => {
  const script = path.join(h.dir, 'metadata.py');
  writeFileSync(script, PYTHON_SESSION);
  const r = await runClient('python3', [script, String(h.tlsPort), USER, PASSWORD]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.ok((out.caps as string[]).includes('METADATA'));
  assert.ok((out.caps as string[]).includes('METADATA-SERVER'));
  assert.equal(out.set_inbox, 'OK');
  assert.equal(out.set_server, 'OK');
  assert.deepEqual(out.get_one, ['OK', [['INBOX (/private/comment {20}', 'Thunderbird was here'], ')']]);
  assert.deepEqual(out.get_two, ['OK', [['INBOX (/private/comment {20}', 'Thunderbird was here'], [' /shared/comment {12}', 'for everyone'], ')']]);
  assert.deepEqual(out.get_server, ['OK', [['"" (/private/vendor/vendor.roundcube/prefs {19}', '{"theme":"elastic"}'], ')']]);
  assert.deepEqual(out.get_depth, out.get_server);
  assert.match(String(out.bad), /BAD/);
  assert.equal(out.remove, 'OK');
  assert.deepEqual(out.after_remove, ['OK', ['INBOX (/private/comment NIL)']]);
  assert.equal(out.logout, 'BYE');
});
