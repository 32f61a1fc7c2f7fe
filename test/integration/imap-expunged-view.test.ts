// A message another session expunged, seen from a session that has not been
// told yet (RFC 2180 4.1): it keeps its number there, and FETCH still gives
// its flags, structure and (while the store keeps the file) its body, with
// OK, as Dovecot 2.3 answers from its index and cache; the EXPUNGE comes at
// the next command that may send it; what was kept for the session is let
// go once every session that numbered the message was told or went away.
// Two IMAPS sessions over real TCP against the in-process server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { startImapHarness, USER, PASSWORD, type ImapHarness } from './imap-harness.js';
import { RawImap, tagged } from './imap-raw-client.js';

let h: ImapHarness;

before(async () => {
  h = await startImapHarness();
});

after(async () => {
  await h.close();
});

async function loggedIn(): Promise<RawImap> {
  const c = await RawImap.connect(h.tlsPort, true);
  assert.match(tagged(await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`)), /OK/);
  return c;
}

function msg(subject: string): string {
  return `From: Bob <bob@remote.test>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${subject}@remote.test>\r\n\r\nbody of ${subject}\r\n`;
}

async function append(c: RawImap, mailbox: string, message: string): Promise<void> {
  const tag = c.nextTag();
  c.write(`${tag} APPEND ${mailbox} {${Buffer.byteLength(message)}+}\r\n${message}\r\n`);
  assert.match(await c.waitFor(new RegExp(`${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`)), new RegExp(`${tag} OK`));
}

/** A mailbox with messages one, two, three, selected by two sessions; b then expunges "two". */
async function twoSessions(mailbox: string): Promise<{ a: RawImap; b: RawImap; id: number }> {
  const a = await loggedIn();
  const b = await loggedIn();
  assert.match(tagged(await a.cmd(`CREATE ${mailbox}`)), /OK/);
  for (const s of ['one', 'two', 'three']) await append(a, mailbox, msg(`${mailbox}-${s}`));
  assert.match(tagged(await a.cmd(`SELECT ${mailbox}`)), /OK/);
  assert.match(tagged(await b.cmd(`SELECT ${mailbox}`)), /OK/);
  const id = (await h.ctx.storage.mail.findMailbox(h.accountId, mailbox))!.id;
  return { a, b, id };
}

async function expungeTwo(b: RawImap): Promise<void> {
  assert.match(tagged(await b.cmd('STORE 2 +FLAGS.SILENT (\\Deleted)')), /OK/);
  assert.match(await b.cmd('EXPUNGE'), /\* 2 EXPUNGE\r\n\S+ OK/);
}

/** Removed message files still waiting in the mailbox's tmp/. */
function waitingFiles(mailbox: string): string[] {
  const tmp = path.join(h.storage.mail.accountDir(h.accountId), `.${mailbox}`, 'tmp');
  return readdirSync(tmp).filter((n) => n.includes('removed'));
}

/** Polls (the release follows the server's handling of a command or a closed socket). */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(check(), what);
}

test('FETCH of a message expunged elsewhere gives its flags, UID, structure and body with OK; EXPUNGE at the next NOOP; kept data let go then', async () => {
  const { a, b } = await twoSessions('Shared');
  await expungeTwo(b);
  const kept = h.storage.mail.expungedKept();
  assert.equal(kept.records, 1, 'the record is kept while a still numbers the message');
  assert.equal(kept.files, 1);
  assert.equal(waitingFiles('Shared').length, 1, 'its file waits in tmp/');

  const f = await a.cmd('FETCH 2 (FLAGS UID INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)');
  assert.match(f, /\* 2 FETCH \(FLAGS \(\\Deleted \\Recent\) UID 2 INTERNALDATE "[^"]+" RFC822\.SIZE \d+ ENVELOPE \("Mon, 23 Nov 2026 10:00:00 \+0000" "Shared-two" /);
  assert.match(f, /BODYSTRUCTURE \("text" "plain"/);
  assert.match(tagged(f), /^\S+ OK FETCH completed/);
  assert.doesNotMatch(f, /EXPUNGE/);

  const body = await a.cmd('FETCH 2 BODY.PEEK[]');
  assert.match(body, /\* 2 FETCH \(BODY\[\] \{\d+\}\r\nFrom: Bob[^]*body of Shared-two\r\n\)/);
  assert.match(tagged(body), /OK/);
  // Not a PEEK: \Seen cannot be stored on a message that is gone; the body still comes.
  assert.match(await a.cmd('FETCH 2 BODY[TEXT]'), /\* 2 FETCH \(BODY\[TEXT\] \{\d+\}\r\nbody of Shared-two\r\n\)\r\n\S+ OK/);

  const all = await a.cmd('FETCH 1:* (FLAGS ENVELOPE)');
  assert.equal(all.match(/^\* \d FETCH /gm)?.length, 3);
  assert.match(all, /\* 2 FETCH \(FLAGS \(\\Deleted \\Recent\) ENVELOPE \([^\r\n]*"Shared-two"/);
  assert.match(tagged(all), /OK/);

  // STORE on it: nothing to store, OK (as Dovecot), and it does not come back.
  const st = await a.cmd('STORE 2 +FLAGS (\\Flagged)');
  assert.doesNotMatch(st, /\* 2 FETCH/);
  assert.match(tagged(st), /OK/);

  const n = await a.cmd('NOOP');
  assert.match(n, /\* 2 EXPUNGE\r\n/);
  // (A UID command may tell it too, after the FETCH, as Dovecot does: see the QRESYNC case.)
  assert.match(await a.cmd('FETCH 1:* (UID)'), /\* 1 FETCH \(UID 1\)\r\n\* 2 FETCH \(UID 3\)\r\n\S+ OK/);
  assert.deepEqual(h.storage.mail.expungedKept(), { records: 0, files: 0, bytes: 0 });
  await eventually(() => waitingFiles('Shared').length === 0, 'the file is deleted once every session was told');
  a.close();
  b.close();
});

test('a session that goes away without being told lets go of what was kept for it', async () => {
  const { a, b } = await twoSessions('Gone');
  await expungeTwo(b);
  assert.equal(h.storage.mail.expungedKept().records, 1);
  // Another SELECT ends the view.
  assert.match(tagged(await a.cmd('SELECT INBOX')), /OK/);
  assert.equal(h.storage.mail.expungedKept().records, 0);

  assert.match(tagged(await a.cmd('SELECT Gone')), /OK/);
  assert.match(tagged(await b.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)')), /OK/);
  assert.match(await b.cmd('EXPUNGE'), /\* 1 EXPUNGE/);
  assert.equal(h.storage.mail.expungedKept().records, 1);
  // A dropped connection ends it too.
  a.close();
  await eventually(() => h.storage.mail.expungedKept().records === 0, 'released when the connection closed');
  await eventually(() => waitingFiles('Gone').length === 0, 'and the file deleted');

  // Nobody else numbers it: nothing is kept, the file goes at once.
  assert.match(tagged(await b.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)')), /OK/);
  assert.match(await b.cmd('EXPUNGE'), /\* 1 EXPUNGE/);
  assert.equal(h.storage.mail.expungedKept().records, 0);
  await eventually(() => waitingFiles('Gone').length === 0, 'file deleted');
  b.close();
});

test('moved away by another session: flags and envelope still come; the body, which went with it, is refused with NO [EXPUNGEISSUED]', async () => {
  const { a, b } = await twoSessions('Movers');
  assert.match(tagged(await b.cmd('MOVE 2 INBOX')), /OK/);
  const f = await a.cmd('FETCH 2 (FLAGS ENVELOPE)');
  assert.match(f, /\* 2 FETCH \(FLAGS \(\\Recent\) ENVELOPE \([^\r\n]*"Movers-two"/);
  assert.match(tagged(f), /OK/);
  const body = await a.cmd('FETCH 1:3 BODY.PEEK[]');
  assert.equal(body.match(/^\* \d FETCH /gm)?.length, 2);
  assert.match(tagged(body), /NO \[EXPUNGEISSUED\]/);
  assert.match(await a.cmd('NOOP'), /\* 2 EXPUNGE\r\n/);
  assert.equal(h.storage.mail.expungedKept().records, 0);
  a.close();
  b.close();
});

test('QRESYNC: UID FETCH (CHANGEDSINCE VANISHED) reports the expunged UID as VANISHED (EARLIER), not as a FETCH', async () => {
  const a = await loggedIn();
  const b = await loggedIn();
  assert.match(tagged(await a.cmd('ENABLE QRESYNC')), /OK/);
  assert.match(tagged(await a.cmd('CREATE Qr')), /OK/);
  for (const s of ['one', 'two', 'three']) await append(a, 'Qr', msg(`Qr-${s}`));
  const sel = await a.cmd('SELECT Qr');
  const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(sel)![1]);
  assert.match(tagged(await b.cmd('SELECT Qr')), /OK/);
  await expungeTwo(b);
  const f = await a.cmd(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq - 3} VANISHED)`);
  assert.match(f, /\* VANISHED \(EARLIER\) 2\r\n/);
  assert.doesNotMatch(f, /UID 2 /);
  assert.match(tagged(f), /OK/);
  // A UID command may announce the expunge itself (RFC 7162 3.2.10: VANISHED, without EARLIER).
  assert.match(f, /\* VANISHED 2\r\n/);
  a.close();
  b.close();
});

test('keywords: a FETCH never shows a keyword before FLAGS listed it, also on a message expunged meanwhile', async () => {
  const { a, b } = await twoSessions('Kw');
  // b gives "two" a keyword new to the mailbox, then expunges it; a has heard of neither.
  assert.match(tagged(await b.cmd('STORE 2 +FLAGS ($Fresh1)')), /OK/);
  await expungeTwo(b);
  assert.match(tagged(await b.cmd('STORE 1 +FLAGS ($Fresh2)')), /OK/);
  const f = await a.cmd('FETCH 1:* (FLAGS)');
  const lines = f.split('\r\n');
  const flagsAt = lines.findIndex((l) => /^\* FLAGS \([^)]*\$Fresh1[^)]*\$Fresh2/.test(l));
  const firstUse = lines.findIndex((l) => /^\* \d+ FETCH .*\$Fresh/.test(l));
  assert.ok(firstUse >= 0, `the keywords are shown: ${f}`);
  assert.ok(flagsAt >= 0 && flagsAt < firstUse, `FLAGS before the first FETCH naming a new keyword: ${f}`);
  assert.match(f, /\* 2 FETCH \(FLAGS \([^)]*\$Fresh1[^)]*\)\)/);
  a.close();
  b.close();
});

test('a message stored without a MIME index: its envelope is made from the kept file', async () => {
  const u = await startImapHarness({ indexAtAppend: false });
  try {
    const a = await u.login();
    const b = await u.login();
    await append(a, 'INBOX', msg('plain-one'));
    await append(a, 'INBOX', msg('plain-two'));
    assert.match(tagged(await a.cmd('SELECT INBOX')), /OK/);
    assert.match(tagged(await b.cmd('SELECT INBOX')), /OK/);
    assert.match(tagged(await b.cmd('STORE 2 +FLAGS.SILENT (\\Deleted)')), /OK/);
    assert.match(await b.cmd('EXPUNGE'), /\* 2 EXPUNGE/);
    const f = await a.cmd('FETCH 2 (ENVELOPE RFC822.SIZE)');
    assert.match(f, /\* 2 FETCH \(ENVELOPE \([^\r\n]*"plain-two"[^\r\n]*RFC822\.SIZE \d+\)\r\n\S+ OK/);
    assert.match(await a.cmd('NOOP'), /\* 2 EXPUNGE/);
    assert.equal(u.storage.mail.expungedKept().records, 0);
    a.close();
    b.close();
  } finally {
    await u.close();
  }
});
