// The IMAP server at the protocol level, over real TCP (STARTTLS and
// implicit TLS): exact commands in, responses checked as text.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startImapHarness, USER, PASSWORD, type ImapHarness } from './imap-harness.js';
import { RawImap, tagged } from './imap-raw-client.js';
import { fixturesDir } from '../support/paths.js';

let h: ImapHarness;

before(async () => {
  h = await startImapHarness({ messageSize: 1024 * 1024 });
});

after(async () => {
  await h.close();
});

const plainAuth = Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64');

async function loggedIn(): Promise<RawImap> {
  const c = await RawImap.connect(h.tlsPort, true);
  const r = await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`);
  assert.match(tagged(r), /OK \[CAPABILITY /);
  return c;
}

function msg(subject: string, body = 'hello world', extra = ''): string {
  return `From: Bob <bob@remote.test>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@remote.test>\r\n${extra}\r\n${body}\r\n`;
}

async function append(c: RawImap, mailbox: string, message: string, flags = ''): Promise<string> {
  const tag = c.nextTag();
  c.write(`${tag} APPEND ${mailbox} ${flags ? `(${flags}) ` : ''}{${Buffer.byteLength(message)}+}\r\n${message}\r\n`);
  return c.waitFor(new RegExp(`${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`));
}

test('plain port: LOGINDISABLED and no AUTH before STARTTLS; after it, login works', async () => {
  const c = await RawImap.connect(h.port, false);
  const caps = await c.cmd('CAPABILITY');
  assert.match(caps, /\* CAPABILITY [^\r\n]*STARTTLS/);
  assert.match(caps, /LOGINDISABLED/);
  assert.doesNotMatch(caps, /AUTH=PLAIN/);
  assert.match(tagged(await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`)), /NO \[PRIVACYREQUIRED\]/);
  assert.match(tagged(await c.cmd(`AUTHENTICATE PLAIN ${plainAuth}`)), /NO \[PRIVACYREQUIRED\]/);
  await c.starttls();
  const caps2 = await c.cmd('CAPABILITY');
  assert.match(caps2, /AUTH=PLAIN/);
  assert.match(caps2, /AUTH=SCRAM-SHA-256/);
  assert.doesNotMatch(caps2, /LOGINDISABLED|STARTTLS/);
  assert.match(tagged(await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`)), /OK \[CAPABILITY [^\]]*IDLE/);
  assert.match(await c.cmd('LOGOUT'), /\* BYE/);
  c.close();
});

test('AUTHENTICATE PLAIN with SASL-IR, PLAIN with an empty challenge, LOGIN, wrong password, cancel', async () => {
  const c1 = await RawImap.connect(h.tlsPort, true);
  assert.match(tagged(await c1.cmd(`AUTHENTICATE PLAIN ${plainAuth}`)), /OK/);
  c1.close();

  const c2 = await RawImap.connect(h.tlsPort, true);
  c2.write('a1 AUTHENTICATE PLAIN\r\n');
  await c2.waitFor(/^\+ \r\n/m);
  c2.write(`${plainAuth}\r\n`);
  assert.match(await c2.waitFor(/a1 [^\r\n]*\r\n/), /a1 OK/);
  c2.close();

  const c3 = await RawImap.connect(h.tlsPort, true);
  c3.write('a1 AUTHENTICATE LOGIN\r\n');
  await c3.waitFor(/^\+ VXNlcm5hbWU6\r\n/m);
  c3.write(`${Buffer.from(USER).toString('base64')}\r\n`);
  await c3.waitFor(/^\+ UGFzc3dvcmQ6\r\n/m);
  c3.write(`${Buffer.from(PASSWORD).toString('base64')}\r\n`);
  assert.match(await c3.waitFor(/a1 [^\r\n]*\r\n/), /a1 OK/);
  c3.close();

  const c4 = await RawImap.connect(h.tlsPort, true);
  const bad = Buffer.from(`\0${USER}\0wrong password`).toString('base64');
  assert.match(tagged(await c4.cmd(`AUTHENTICATE PLAIN ${bad}`)), /NO \[AUTHENTICATIONFAILED\]/);
  c4.write('a9 AUTHENTICATE PLAIN\r\n');
  await c4.waitFor(/^\+ \r\n/m);
  c4.write('*\r\n');
  assert.match(await c4.waitFor(/a9 [^\r\n]*\r\n/), /a9 BAD/);
  assert.match(tagged(await c4.cmd('NOOP')), /OK/);
  c4.close();
});

test('malformed commands get BAD and the session goes on; a flood of them ends it', async () => {
  const c = await loggedIn();
  assert.match(tagged(await c.cmd('FROBNICATE')), /BAD/);
  assert.match(tagged(await c.cmd('SELECT')), /BAD/);
  assert.match(tagged(await c.cmd('SELECT "unterminated')), /BAD/);
  assert.match(tagged(await c.cmd('FETCH 1 FLAGS')), /BAD/); // not selected
  c.write('\r\n');
  c.write('(((\r\n');
  assert.match(tagged(await c.cmd('NOOP')), /OK/);
  for (let i = 0; i < 9; i++) c.write(`x${i} BOGUS\r\n`);
  c.write('x9 BOGUS\r\n');
  await c.waitFor(/\* BYE [^\r\n]*\r\n/);
  c.close();
});

test('literals: synchronising, LITERAL+, and a literal over APPENDLIMIT is refused without ending the session', async () => {
  const c = await loggedIn();
  c.write('s1 SELECT {5}\r\n');
  await c.waitFor(/^\+ [^\r\n]*\r\n/m);
  c.write('INBOX\r\n');
  assert.match(await c.waitFor(/s1 [^\r\n]*\r\n/), /s1 OK \[READ-WRITE\]/);
  assert.match(tagged(await c.cmd('STATUS {5+}\r\nINBOX (MESSAGES)')), /OK/);
  c.write(`s2 APPEND INBOX {${2 * 1024 * 1024}}\r\n`);
  assert.match(await c.waitFor(/s2 [^\r\n]*\r\n/), /s2 NO \[TOOBIG\]/);
  c.write(`s3 APPEND INBOX {${2 * 1024 * 1024}+}\r\n`);
  c.write(Buffer.alloc(2 * 1024 * 1024, 0x41));
  c.write('\r\n');
  assert.match(await c.waitFor(/s3 [^\r\n]*\r\n/, 10_000), /s3 NO \[TOOBIG\]/);
  assert.match(tagged(await c.cmd('NOOP')), /OK/);
  c.close();
});

test('$Forwarded (RFC 5550): listed in FLAGS and PERMANENTFLAGS before any message has it, so its FETCH never shows a flag FLAGS lacks', async () => {
  const c = await loggedIn();
  assert.match(tagged(await c.cmd('CREATE Fwd')), /OK/);
  await append(c, 'Fwd', msg('to forward', 'body'));
  const sel = await c.cmd('SELECT Fwd');
  assert.match(sel, /\* FLAGS \([^)]*\$Forwarded[^)]*\)/);
  assert.match(sel, /PERMANENTFLAGS \([^)]*\$Forwarded/);
  const stored = await c.cmd('STORE 1 +FLAGS ($Forwarded)');
  assert.match(stored, /\* 1 FETCH \(FLAGS \([^)]*\$Forwarded/);
  assert.doesNotMatch(stored, /\* FLAGS/, 'listed already: no FLAGS update');
  assert.match(await c.cmd('SELECT Fwd'), /\* FLAGS \([^)]*\$Forwarded[^)]*\)/);
  assert.match(await c.cmd('FETCH 1 FLAGS'), /\* 1 FETCH \(FLAGS \([^)]*\$Forwarded/);
  assert.match(tagged(await c.cmd('CLOSE')), /OK/);
  assert.match(tagged(await c.cmd('DELETE Fwd')), /OK/);
  c.close();
});

test('APPEND, SELECT, FETCH items and \\Seen handling, STORE, SEARCH, COPY/MOVE with UIDPLUS, EXPUNGE', async () => {
  const c = await loggedIn();
  assert.match(tagged(await c.cmd('CREATE Work')), /OK/);
  const a1 = await append(c, 'Work', msg('first one', 'apple banana'), '\\Flagged');
  assert.match(a1, /OK \[APPENDUID \d+ 1\]/);
  await append(c, 'Work', msg('second', 'cherry', 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n').replace('cherry', 'caf=C3=A9 cherry'));
  await append(c, 'Work', msg('third', 'durian'), '$Important');
  const sel = await c.cmd('SELECT Work');
  assert.match(sel, /\* 3 EXISTS/);
  assert.match(sel, /\* FLAGS \([^)]*\$Important/);
  assert.match(sel, /\[UIDVALIDITY \d+\]/);
  assert.match(sel, /\[UIDNEXT 4\]/);
  assert.match(sel, /\[HIGHESTMODSEQ \d+\]/);

  const f1 = await c.cmd('FETCH 1 (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
  assert.match(f1, /\* 1 FETCH \(UID 1 FLAGS \(\\Flagged \\Recent\) RFC822.SIZE \d+ INTERNALDATE "[^"]+" ENVELOPE \("Mon, 23 Nov 2026 10:00:00 \+0000" "first one"/);
  assert.match(f1, /BODY\[HEADER.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: first one\r\n\r\n\)/);
  assert.doesNotMatch(f1, /\\Seen/);
  const f2 = await c.cmd('FETCH 1 BODY[TEXT]');
  assert.match(f2, /BODY\[TEXT\] \{14\}\r\napple banana\r\n FLAGS/);
  assert.match(f2, /FLAGS \(\\Flagged \\Seen \\Recent\)/);
  const f3 = await c.cmd('UID FETCH 1 (BODY.PEEK[]<0.4> RFC822.HEADER)');
  assert.match(f3, /UID 1 BODY\[\]<0> \{4\}\r\nFrom/);
  assert.match(f3, /RFC822.HEADER \{\d+\}\r\nFrom: Bob/);
  const size = Number(/RFC822.SIZE (\d+)/.exec(f1)![1]);
  const whole = await c.cmd('FETCH 1 BODY.PEEK[]');
  assert.match(whole, new RegExp(`BODY\\[\\] \\{${size}\\}`));

  assert.match(await c.cmd('SEARCH BODY cherry'), /\* SEARCH 2\r\n/);
  assert.match(await c.cmd('SEARCH CHARSET UTF-8 BODY café'), /\* SEARCH 2\r\n/);
  assert.match(await c.cmd('SEARCH FLAGGED'), /\* SEARCH 1\r\n/);
  assert.match(await c.cmd('SEARCH UNSEEN'), /\* SEARCH 2 3\r\n/);
  assert.match(await c.cmd('SEARCH OR SUBJECT third SUBJECT second'), /\* SEARCH 2 3\r\n/);
  assert.match(await c.cmd('SEARCH NOT SUBJECT third'), /\* SEARCH 1 2\r\n/);
  assert.match(await c.cmd('SEARCH KEYWORD $Important'), /\* SEARCH 3\r\n/);
  assert.match(await c.cmd('SEARCH FROM bob@remote.test TO alice'), /\* SEARCH 1 2 3\r\n/);
  assert.match(await c.cmd('SEARCH HEADER Message-ID <third@remote.test>'), /\* SEARCH 3\r\n/);
  assert.match(await c.cmd('SEARCH SENTON 23-Nov-2026'), /\* SEARCH 1 2 3\r\n/);
  assert.match(await c.cmd('SEARCH SENTBEFORE 1-Jan-2020'), /\* SEARCH\r\n/);
  assert.match(await c.cmd('SEARCH LARGER 1 SMALLER 100000 2:*'), /\* SEARCH 2 3\r\n/);
  assert.match(await c.cmd('UID SEARCH UID 2:3 TEXT durian'), /\* SEARCH 3\r\n/);
  assert.match(await c.cmd('SEARCH RETURN (MIN MAX COUNT) ALL'), /\* ESEARCH \(TAG "t\d+"\) MIN 1 MAX 3 COUNT 3\r\n/);
  assert.match(tagged(await c.cmd('SEARCH CHARSET KOI8-R ALL')), /NO \[BADCHARSET/);
  assert.match(tagged(await c.cmd('SEARCH FOO')), /BAD/);

  const st = await c.cmd('STORE 2:3 +FLAGS (\\Deleted)');
  assert.match(st, /\* 2 FETCH \(FLAGS \(\\Deleted \\Recent\)\)/);
  assert.match(st, /\* 3 FETCH \(FLAGS \(\$Important \\Deleted \\Recent\)\)/);
  assert.equal((await c.cmd('STORE 1 -FLAGS.SILENT (\\Flagged)')).split('\r\n').length, 2);
  const st2 = await c.cmd('UID STORE 1 FLAGS (\\Seen $Label1)');
  assert.match(st2, /\* 1 FETCH \(UID 1 FLAGS \(\\Seen \\Recent \$Label1\)\)/);

  const cp = await c.cmd('COPY 1:2 INBOX');
  // The destination UIDs pair with the source set in order (the store may assign them in any order).
  assert.match(tagged(cp), /OK \[COPYUID \d+ 1:2 (\d+:\d+|\d+,\d+)\]/);
  assert.match(tagged(await c.cmd('COPY 1 Nowhere')), /NO \[TRYCREATE\]/);
  const ex = await c.cmd('EXPUNGE');
  // Expunged in UID order: message 2 goes, then the old 3 has become 2.
  assert.match(ex, /\* 3 EXPUNGE\r\n\* 2 EXPUNGE\r\n/);
  const mv = await c.cmd('UID MOVE 1 Archive');
  assert.match(mv, /\* OK \[COPYUID \d+ 1 \d+\]/);
  assert.match(mv, /\* 1 EXPUNGE/);
  assert.match(await c.cmd('STATUS Work (MESSAGES UIDNEXT UNSEEN)'), /\* STATUS "Work" \(MESSAGES 0 UIDNEXT 4 UNSEEN 0\)/);
  assert.match(tagged(await c.cmd('CLOSE')), /OK/);
  assert.match(tagged(await c.cmd('FETCH 1 FLAGS')), /BAD/);
  c.close();
});

test('another session\'s changes: EXPUNGE is held back during FETCH/STORE/SEARCH, EXISTS/FETCH flags delivered, IDLE is immediate', async () => {
  const a = await loggedIn();
  const b = await loggedIn();
  await a.cmd('CREATE Shared');
  for (const s of ['one', 'two', 'three']) await append(a, 'Shared', msg(s));
  await a.cmd('SELECT Shared');
  await b.cmd('SELECT Shared');
  await b.cmd('STORE 1 +FLAGS (\\Deleted)');
  await b.cmd('EXPUNGE');
  await b.cmd('STORE 2 +FLAGS (\\Answered)');
  // A still numbers "one" as 1: FETCH must not announce the expunge.
  const f = await a.cmd('FETCH 1:* (UID)');
  assert.doesNotMatch(f, /EXPUNGE/);
  assert.match(f, /\* 2 FETCH \(UID 2\)/);
  const n = await a.cmd('NOOP');
  assert.match(n, /\* 1 EXPUNGE\r\n/);
  // The flag change may come with the FETCH (allowed) or the NOOP.
  assert.match(f + n, /\* 3 FETCH \(FLAGS \(\\Answered \\Recent\)\)/);
  assert.match(await a.cmd('FETCH 1:* (UID)'), /\* 1 FETCH \(UID 2\)\r\n\* 2 FETCH \(UID 3\)/);

  // IDLE: a delivery by another session arrives at once.
  a.write('i1 IDLE\r\n');
  await a.waitFor(/^\+ idling\r\n/m);
  const started = Date.now();
  await append(b, 'Shared', msg('four'));
  await a.waitFor(/\* 3 EXISTS\r\n/, 2000);
  const latency = Date.now() - started;
  assert.ok(latency < 1000, `IDLE notification took ${latency} ms`);
  await b.cmd('STORE 1 +FLAGS (\\Deleted)');
  await b.cmd('EXPUNGE');
  await a.waitFor(/\* 1 EXPUNGE\r\n/, 2000);
  a.write('DONE\r\n');
  assert.match(await a.waitFor(/i1 [^\r\n]*\r\n/), /i1 OK/);
  a.close();
  b.close();
});

test('SORT and THREAD: by subject, from, size, date, arrival, with REVERSE; REFERENCES and ORDEREDSUBJECT', async () => {
  const c = await loggedIn();
  await c.cmd('CREATE Sorted');
  await append(c, 'Sorted', msg('Re: banana', 'x').replace('Bob <bob@remote.test>', 'Zed <zed@remote.test>'));
  await append(c, 'Sorted', msg('apple', 'a longer body here'));
  await append(c, 'Sorted', msg('[list] Cherry', 'y').replace('Mon, 23 Nov 2026', 'Sun, 22 Nov 2026'));
  await c.cmd('SELECT Sorted');
  assert.match(await c.cmd('SORT (SUBJECT) UTF-8 ALL'), /\* SORT 2 1 3\r\n/);
  assert.match(await c.cmd('SORT (REVERSE SUBJECT) UTF-8 ALL'), /\* SORT 3 1 2\r\n/);
  assert.match(await c.cmd('SORT (FROM SUBJECT) UTF-8 ALL'), /\* SORT 2 3 1\r\n/);
  assert.match(await c.cmd('SORT (DATE) UTF-8 ALL'), /\* SORT 3 1 2\r\n/);
  // ARRIVAL compares whole seconds, as Dovecot does: appended within one second, 1 and 3 tie and keep sequence order.
  assert.match(await c.cmd('SORT (REVERSE ARRIVAL) US-ASCII NOT SUBJECT apple'), /\* SORT (3 1|1 3)\r\n/);
  assert.match(await c.cmd('UID SORT (SIZE) UTF-8 ALL'), /\* SORT 1 3 2\r\n/);
  assert.match(tagged(await c.cmd('SORT (BOGUS) UTF-8 ALL')), /BAD/);
  // Any charset the platform can decode is accepted, as in Dovecot; an unknown one is not.
  assert.match(tagged(await c.cmd('SORT (DATE) X-UNKNOWN ALL')), /NO \[BADCHARSET/);
  // THREAD: a reply by References joins its parent.
  const reply = msg('Re: apple', 'reply').replace('Message-ID: <Reapple@remote.test>', 'Message-ID: <r1@remote.test>\r\nIn-Reply-To: <apple@remote.test>');
  await append(c, 'Sorted', reply);
  await c.cmd('NOOP');
  assert.match(await c.cmd('THREAD REFERENCES UTF-8 ALL'), /\* THREAD \(3\)\(1\)\(2 4\)\r\n/);
  assert.match(await c.cmd('UID THREAD ORDEREDSUBJECT UTF-8 ALL'), /\* THREAD \(3\)\(1\)\(2 4\)\r\n/);
  assert.match(await c.cmd('THREAD REFERENCES UTF-8 SUBJECT nothing-matches'), /\* THREAD\r\n/);
  c.close();
});

test('CONDSTORE: MODSEQ in FETCH, CHANGEDSINCE, STORE UNCHANGEDSINCE gives MODIFIED, SEARCH MODSEQ', async () => {
  const c = await loggedIn();
  await c.cmd('CREATE Cond');
  await append(c, 'Cond', msg('c1'));
  await append(c, 'Cond', msg('c2'));
  const sel = await c.cmd('SELECT Cond (CONDSTORE)');
  const highest = Number(/HIGHESTMODSEQ (\d+)/.exec(sel)![1]);
  const f = await c.cmd('FETCH 1:2 (MODSEQ)');
  const m1 = Number(/\* 1 FETCH \(MODSEQ \((\d+)\)\)/.exec(f)![1]);
  assert.ok(m1 <= highest);
  const st = await c.cmd(`STORE 1 (UNCHANGEDSINCE ${m1}) +FLAGS (\\Seen)`);
  assert.match(st, /\* 1 FETCH \(FLAGS \(\\Seen \\Recent\) MODSEQ \(\d+\)\)/);
  const st2 = await c.cmd(`STORE 1 (UNCHANGEDSINCE ${m1}) +FLAGS (\\Flagged)`);
  assert.match(tagged(st2), /OK \[MODIFIED 1\]/);
  const changed = await c.cmd(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${highest})`);
  assert.match(changed, /\* 1 FETCH \(FLAGS \(\\Seen \\Recent\) MODSEQ \(\d+\)\)/);
  assert.doesNotMatch(changed, /\* 2 FETCH/);
  assert.match(await c.cmd(`SEARCH MODSEQ ${highest + 1}`), /\* SEARCH 1 \(MODSEQ \d+\)\r\n/);
  c.close();
});

test('mailboxes: CREATE hierarchy, LIST patterns and extensions, mUTF-7 and UTF8=ACCEPT, RENAME, DELETE, SUBSCRIBE, NAMESPACE, QUOTA, ID', async () => {
  const c = await loggedIn();
  assert.match(tagged(await c.cmd('CREATE Projects/2026/Q1')), /OK/);
  assert.match(tagged(await c.cmd('CREATE INBOX')), /NO \[ALREADYEXISTS\]/);
  assert.match(tagged(await c.cmd('CREATE Projects')), /NO \[ALREADYEXISTS\]/);
  const all = await c.cmd('LIST "" "*"');
  assert.match(all, /\* LIST \(\\HasNoChildren\) "\/" "INBOX"\r\n/);
  assert.match(all, /\* LIST \(\\HasNoChildren \\Sent\) "\/" "Sent"\r\n/);
  assert.match(all, /\* LIST \(\\HasChildren\) "\/" "Projects"\r\n/);
  assert.match(all, /"\/" "Projects\/2026\/Q1"\r\n/);
  const top = await c.cmd('LIST "" "%"');
  assert.doesNotMatch(top, /Projects\/2026/);
  assert.match(await c.cmd('LIST "Projects/" "%"'), /"\/" "Projects\/2026"\r\n/);
  assert.match(await c.cmd('LIST "" ""'), /\* LIST \(\\Noselect\) "\/" ""/);
  assert.match(await c.cmd('LIST "" "inbox"'), /"\/" "INBOX"\r\n/);
  const special = await c.cmd('LIST (SPECIAL-USE) "" "*" RETURN (STATUS (MESSAGES UIDNEXT))');
  assert.match(special, /\\Trash\) "\/" "Trash"\r\n\* STATUS "Trash" \(MESSAGES \d+ UIDNEXT \d+\)/);
  assert.doesNotMatch(special, /INBOX/);

  assert.match(tagged(await c.cmd('CREATE "Entw&APw-rfe"')), /OK/);
  assert.match(await c.cmd('LIST "" "Entw*"'), /"\/" "Entw&APw-rfe"\r\n/);
  // Not valid modified UTF-7: refused with NO, as Dovecot does (the command itself is well formed).
  assert.match(tagged(await c.cmd('CREATE "bad&name"')), /NO/);
  assert.match(await c.cmd('ENABLE UTF8=ACCEPT'), /\* ENABLED UTF8=ACCEPT/);
  assert.match(Buffer.from(await c.cmd('LIST "" "Entw*"'), 'latin1').toString('utf8'), /"\/" "Entwürfe"\r\n/);

  assert.match(tagged(await c.cmd('RENAME Projects Clients')), /OK/);
  const renamed = await c.cmd('LIST "" "Clients*"');
  assert.match(renamed, /Clients\/2026\/Q1/);
  assert.match(tagged(await c.cmd('RENAME Nothing Other')), /NO \[NONEXISTENT\]/);
  // Not under itself (a plain NO, as Dovecot), and nothing is made on the way.
  assert.match(tagged(await c.cmd('RENAME Clients Clients/2026/Q1/Clients')), /NO A mailbox cannot be renamed under itself/);
  assert.match(tagged(await c.cmd('RENAME clients Clients/Sub')), /NO \[NONEXISTENT\]/, 'names other than INBOX keep their case');
  const unchanged = await c.cmd('LIST "" "Clients*"');
  assert.equal(unchanged.match(/^\* LIST /gm)?.length, 3, unchanged);
  // RFC 3501 6.3.5: the superiors a new name needs are created.
  assert.match(tagged(await c.cmd('CREATE Solo')), /OK/);
  assert.match(tagged(await c.cmd('RENAME Solo Up/Down/Solo')), /OK/);
  const superiors = await c.cmd('LIST "" "Up*"');
  assert.match(superiors, /\(\\HasChildren\) "\/" "Up"\r\n/);
  assert.match(superiors, /\(\\HasChildren\) "\/" "Up\/Down"\r\n/);
  assert.match(superiors, /"\/" "Up\/Down\/Solo"\r\n/);
  assert.match(tagged(await c.cmd('DELETE Clients/2026/Q1')), /OK/);
  assert.match(tagged(await c.cmd('DELETE INBOX')), /NO/);
  assert.match(tagged(await c.cmd('UNSUBSCRIBE Clients')), /OK/);
  assert.doesNotMatch(await c.cmd('LSUB "" "*"'), /"Clients"\r\n/);
  assert.match(await c.cmd('LIST (SUBSCRIBED) "" "*"'), /\(\\Subscribed\) "\/" "INBOX"/);
  assert.match(await c.cmd('NAMESPACE'), /\* NAMESPACE \(\("" "\/"\)\) NIL NIL/);
  assert.match(await c.cmd('ID ("name" "test")'), /\* ID \("name" "Postino"/);
  assert.match(tagged(await c.cmd('GETQUOTAROOT INBOX')), /OK/);
  assert.match(await c.cmd('EXAMINE INBOX'), /OK \[READ-ONLY\]/);
  assert.match(tagged(await c.cmd('EXPUNGE')), /NO/);
  assert.match(tagged(await c.cmd('UNSELECT')), /OK/);
  c.close();
});

test('FETCH BODYSTRUCTURE over the wire equals the golden of every fixture message', { timeout: 60_000 }, async () => {
  const dir = path.join(fixturesDir, 'imap');
  const emls = fs.readdirSync(dir).filter((f) => f.endsWith('.eml')).sort();
  const withGolden = emls.filter((f) => fs.existsSync(path.join(dir, f.replace(/\.eml$/, '.bodystructure'))));
  assert.ok(withGolden.length >= 40);
  const mb = await h.storage.mail.createMailbox(h.accountId, 'Fixtures');
  const uids = new Map<number, string>();
  for (const f of withGolden) {
    const r = await h.storage.mail.append(h.accountId, mb.name, fs.readFileSync(path.join(dir, f)));
    uids.set(r.uid, f);
  }
  const c = await loggedIn();
  await c.cmd('EXAMINE Fixtures');
  for (const [uid, f] of uids) {
    const reply = await c.cmd(`UID FETCH ${uid} (BODYSTRUCTURE RFC822.SIZE BODY.PEEK[])`);
    const golden = fs.readFileSync(path.join(dir, f.replace(/\.eml$/, '.bodystructure')), 'latin1');
    assert.ok(reply.includes(`BODYSTRUCTURE ${golden}`), `${f}: BODYSTRUCTURE differs:\n${reply.slice(0, 2000)}`);
    const size = Number(/RFC822\.SIZE (\d+)/.exec(reply)![1]);
    assert.ok(reply.includes(`BODY[] {${size}}\r\n`), `${f}: RFC822.SIZE ${size} is not the BODY[] length`);
  }
  c.close();
});

test('unknown errors do not leak; the server keeps serving other sessions', async () => {
  const c = await loggedIn();
  const other = await loggedIn();
  // A mailbox name the store refuses (too deep) is a NO with a safe message.
  const deep = Array.from({ length: 20 }, (_, i) => `l${i}`).join('/');
  const r = tagged(await c.cmd(`CREATE "${deep}"`));
  assert.match(r, /NO/);
  assert.doesNotMatch(r, /Error:|at |\.ts|sqlite/i);
  assert.match(tagged(await other.cmd('NOOP')), /OK/);
  c.close();
  other.close();
});

test('QRESYNC: VANISHED instead of EXPUNGE, SELECT (QRESYNC ...) and UID FETCH (CHANGEDSINCE ... VANISHED), [CLOSED]', async () => {
  const a = await loggedIn();
  const b = await loggedIn();
  await a.cmd('CREATE Resync');
  for (const s of ['q1', 'q2', 'q3', 'q4']) await append(a, 'Resync', msg(s));
  assert.match(await a.cmd('ENABLE QRESYNC'), /\* ENABLED QRESYNC/);
  const sel = await a.cmd('SELECT Resync');
  const validity = Number(/UIDVALIDITY (\d+)/.exec(sel)![1]);
  const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(sel)![1]);
  // Changes while the client is away.
  await b.cmd('SELECT Resync');
  await b.cmd('UID STORE 2 +FLAGS (\\Deleted)');
  await b.cmd('UID EXPUNGE 2');
  await b.cmd('UID STORE 3 +FLAGS (\\Flagged)');
  await a.cmd('UNSELECT');
  const re = await a.cmd(`SELECT Resync (QRESYNC (${validity} ${modseq} 1:4))`);
  assert.match(re, /\* VANISHED \(EARLIER\) 2\r\n/);
  assert.match(re, /\* 2 FETCH \(UID 3 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)/);
  const uf = await a.cmd(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`);
  assert.match(uf, /\* VANISHED \(EARLIER\) 2\r\n/);
  // An expunge while selected is a VANISHED, not an EXPUNGE.
  await b.cmd('UID STORE 4 +FLAGS (\\Deleted)');
  await b.cmd('UID EXPUNGE 4');
  const n = await a.cmd('NOOP');
  assert.match(n, /\* VANISHED 4\r\n/);
  assert.doesNotMatch(n, /EXPUNGE/);
  assert.match(await a.cmd('SELECT INBOX'), /\* OK \[CLOSED\]/);
  a.close();
  b.close();
});
