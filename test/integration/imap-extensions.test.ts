// BINARY (RFC 3516), MULTIAPPEND (RFC 3502), APPEND UTF8 (RFC 6855),
// SEARCHRES (RFC 5182) and \Recent (RFC 3501 2.3.2) over real TCP, plus
// imapflow, which fetches attachments with BINARY once it is offered.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { startImapHarness, USER, PASSWORD, type ImapHarness } from './imap-harness.js';
import { RawImap, tagged } from './imap-raw-client.js';

let h: ImapHarness;

before(async () => {
  h = await startImapHarness();
});

after(async () => {
  await h.close();
});

const loggedIn = (): Promise<RawImap> => h.login();

/** Sends a command whose parts are text and literals (given as Buffers, sent with "+"). */
async function send(c: RawImap, parts: Array<string | Buffer>, binary = false): Promise<string> {
  const tag = c.nextTag();
  const chunks: Buffer[] = [Buffer.from(`${tag} `)];
  for (const p of parts) {
    if (typeof p === 'string') chunks.push(Buffer.from(p, 'latin1'));
    else chunks.push(Buffer.from(`${binary ? '~' : ''}{${p.length}+}\r\n`), p);
  }
  chunks.push(Buffer.from('\r\n'));
  c.write(Buffer.concat(chunks));
  return c.waitFor(new RegExp(`${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`));
}

const PAYLOAD = Buffer.concat([Buffer.from('head\0'), Buffer.alloc(300, 0xff), Buffer.from('\0tail')]);

function withAttachment(data: Buffer, cte = 'base64'): Buffer {
  const encoded = cte === 'base64' ? data.toString('base64').replace(/(.{76})/g, '$1\r\n') : data.toString('latin1');
  return Buffer.from(
    'From: bob@remote.test\r\nTo: alice@example.test\r\nSubject: attachment\r\nMIME-Version: 1.0\r\n' +
      'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b1\r\n' +
      `Content-Type: application/octet-stream; name="x.bin"\r\nContent-Disposition: attachment; filename="x.bin"\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n` +
      encoded +
      '\r\n--b1--\r\n',
    'latin1',
  );
}

test('BINARY: decoded parts with literal8 when they hold NULs, BINARY.SIZE, partials, UNKNOWN-CTE, \\Seen', async () => {
  const c = await loggedIn();
  await c.cmd('CREATE Bin');
  assert.match(await send(c, ['APPEND Bin ', withAttachment(PAYLOAD)]), /OK \[APPENDUID \d+ 1\]/);
  assert.match(await send(c, ['APPEND Bin ', withAttachment(Buffer.from('x'), 'x-uuencode')]), /OK \[APPENDUID \d+ 2\]/);
  // literal8 in APPEND: a message with raw binary content.
  const raw = Buffer.concat([Buffer.from('From: bob@remote.test\r\nSubject: raw\r\nContent-Transfer-Encoding: binary\r\n\r\n'), PAYLOAD]);
  assert.match(await send(c, ['APPEND Bin (\\Seen) ', raw], true), /OK \[APPENDUID \d+ 3\]/);
  await c.cmd('SELECT Bin');

  const f = await c.cmd('FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1])');
  const bytes = Buffer.from(f, 'latin1');
  const head = `* 1 FETCH (BINARY[2] ~{${PAYLOAD.length}}\r\n`;
  assert.equal(bytes.subarray(0, head.length).toString('latin1'), head);
  assert.ok(bytes.subarray(head.length, head.length + PAYLOAD.length).equals(PAYLOAD), 'the decoded attachment, byte for byte');
  assert.match(f, new RegExp(` BINARY.SIZE\\[2\\] ${PAYLOAD.length} BINARY\\[1\\] \\{12\\}\\r\\nsee attached\\)\\r\\n`));
  assert.doesNotMatch(await c.cmd('FETCH 1 FLAGS'), /\\Seen/, 'PEEK leaves \\Seen alone');

  assert.match(await c.cmd('FETCH 1 (BINARY[2]<306.20>)'), /\* 1 FETCH \(BINARY\[2\]<306> ~\{4\}\r\ntail FLAGS \(\\Seen \\Recent\)\)/);
  assert.match(await c.cmd('FETCH 1 (BINARY.SIZE[9] BINARY.PEEK[9])'), /BINARY.SIZE\[9\] 0 BINARY\[9\] ""/);
  assert.match(tagged(await c.cmd('FETCH 2 (BINARY.PEEK[2])')), /NO \[UNKNOWN-CTE\]/);
  assert.match(tagged(await c.cmd('FETCH 2 (BINARY.SIZE[])')), /NO \[UNKNOWN-CTE\]/);
  assert.match(tagged(await c.cmd('FETCH 2 (BINARY.PEEK[1])')), /OK/, 'the other parts of it decode');
  assert.match(tagged(await c.cmd('FETCH 1 (BINARY[1.MIME])')), /BAD/);

  const whole = Buffer.from(await c.cmd('UID FETCH 3 (BINARY.PEEK[])'), 'latin1');
  assert.ok(whole.includes(Buffer.concat([Buffer.from(`BINARY[] ~{${raw.length}}\r\n`), raw])), 'the appended literal8 comes back unchanged');
  // BODY[] never carries NULs (Dovecot sends 0x80 instead): only BINARY does.
  assert.ok(!Buffer.from(await c.cmd('UID FETCH 3 (BODY.PEEK[TEXT])'), 'latin1').subarray(0, 400).includes(0));
  c.close();
});

test('imapflow downloads an attachment through BINARY', { timeout: 30_000 }, async () => {
  const c = new ImapFlow({ host: '127.0.0.1', port: h.tlsPort, secure: true, auth: { user: USER, pass: PASSWORD }, tls: { rejectUnauthorized: false }, logger: false });
  await c.connect();
  try {
    assert.ok(c.capabilities.has('BINARY'));
    await c.mailboxCreate('Flow').catch(() => undefined);
    const appended = await c.append('Flow', withAttachment(PAYLOAD));
    assert.ok(appended && appended.uid);
    await c.mailboxOpen('Flow');
    const { content } = await c.download(String(appended.uid), '2', { uid: true });
    const chunks: Buffer[] = [];
    assert.ok(content);
    for await (const chunk of content) chunks.push(chunk as Buffer);
    assert.ok(Buffer.concat(chunks).equals(PAYLOAD));
  } finally {
    await c.logout();
  }
});

test('MULTIAPPEND: several messages in one APPEND, APPENDUID with all UIDs; all or none', async () => {
  const c = await loggedIn();
  await c.cmd('CREATE Multi');
  const m = (s: string) => Buffer.from(`Subject: ${s}\r\n\r\n${s}\r\n`);
  const r = await send(c, ['APPEND Multi (\\Seen) ', m('one'), ' ', m('two'), ' (\\Flagged) "23-Nov-2026 10:00:00 +0100" ', m('three')]);
  assert.match(tagged(r), /OK \[APPENDUID (\d+) 1:3\]/);
  await c.cmd('SELECT Multi');
  const f = await c.cmd('FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
  assert.match(f, /\* 1 FETCH \(FLAGS \(\\Seen \\Recent\) [^\r\n]*\r\nSubject: one/);
  assert.match(f, /\* 2 FETCH \(FLAGS \(\\Recent\) [^\r\n]*\r\nSubject: two/);
  assert.match(f, /\* 3 FETCH \(FLAGS \(\\Flagged \\Recent\) INTERNALDATE "23-Nov-2026 09:00:00 \+0000" [^\r\n]*\r\nSubject: three/);
  assert.match(tagged(await send(c, ['APPEND Multi ', m('four'), ' ', Buffer.alloc(0)])), /NO/);
  assert.match(tagged(await send(c, ['APPEND Nowhere ', m('a'), ' ', m('b')])), /NO \[TRYCREATE\]/);

  // Over quota at the third message: the first two are taken back.
  const used = h.storage.mail.quota(h.accountId).usedBytes;
  h.storage.directory.setQuota(USER, used + 100);
  try {
    const big = Buffer.from(`Subject: big\r\n\r\n${'x'.repeat(80)}\r\n`);
    assert.match(tagged(await send(c, ['APPEND Multi ', m('five'), ' ', m('six'), ' ', big])), /NO \[OVERQUOTA\]/);
  } finally {
    h.storage.directory.setQuota(USER, null);
  }
  assert.match(await c.cmd('STATUS Multi (MESSAGES)'), /MESSAGES 3\)/);
  assert.match(await c.cmd('UID SEARCH ALL'), /\* SEARCH 1 2 3\r\n/, 'neither four nor five and six stayed');
  // Nothing of the failed APPENDs was ever visible: no UID was used up.
  assert.match(tagged(await send(c, ['APPEND Multi ', m('seven')])), /OK \[APPENDUID \d+ 4\]/);
  c.close();
});

test('APPEND UTF8 (~{n}) needs ENABLE UTF8=ACCEPT', async () => {
  const c = await loggedIn();
  const m = Buffer.from('Subject: Grüße\r\nFrom: jürgen@bücher.example\r\n\r\nÄpfel\r\n');
  assert.match(tagged(await send(c, ['APPEND INBOX UTF8 (', m, ')'], true)), /BAD/);
  await c.cmd('ENABLE UTF8=ACCEPT');
  const r = await send(c, ['APPEND INBOX UTF8 (', m, ')'], true);
  assert.match(tagged(r), /OK \[APPENDUID \d+ (\d+)\]/);
  const uid = /APPENDUID \d+ (\d+)/.exec(r)![1];
  await c.cmd('EXAMINE INBOX');
  assert.match(Buffer.from(await c.cmd(`UID FETCH ${uid} BODY.PEEK[HEADER.FIELDS (SUBJECT)]`), 'latin1').toString('utf8'), /Subject: Grüße/);
  assert.match(tagged(await send(c, ['APPEND INBOX UTF8 (', m, ')'], false)), /BAD/, 'UTF8 data is a literal8');
  c.close();
});

test('SEARCHRES: SEARCH RETURN (SAVE) and $ in FETCH, STORE, COPY, UID SEARCH; expunged messages leave $', async () => {
  const c = await loggedIn();
  await c.cmd('CREATE Res');
  for (let i = 1; i <= 5; i++) await send(c, [`APPEND Res ${i % 2 ? '(\\Flagged) ' : ''}`, Buffer.from(`Subject: m${i}\r\n\r\nbody ${i}\r\n`)]);
  await c.cmd('SELECT Res');
  assert.equal(await c.cmd('SEARCH RETURN (SAVE) FLAGGED').then((r) => r.split('\r\n').length), 2, 'SAVE alone: only the tagged OK');
  assert.match(await c.cmd('FETCH $ (UID)'), /\* 1 FETCH \(UID 1\)\r\n\* 3 FETCH \(UID 3\)\r\n\* 5 FETCH \(UID 5\)\r\n/);
  assert.match(await c.cmd('UID SEARCH UID $ NOT 5'), /\* SEARCH 1 3\r\n/);
  assert.match(await c.cmd('SEARCH $'), /\* SEARCH 1 3 5\r\n/);
  assert.match(await c.cmd('SEARCH RETURN (SAVE MIN MAX) ALL'), /\* ESEARCH \(TAG "t\d+"\) MIN 1 MAX 5\r\n/);
  assert.match(await c.cmd('FETCH $ (UID)'), /\* 1 FETCH \(UID 1\)\r\n\* 5 FETCH \(UID 5\)\r\nt\d+ OK/);
  await c.cmd('UID SEARCH RETURN (SAVE) UID 2:4');
  assert.match(await c.cmd('STORE $ +FLAGS.SILENT (\\Deleted)'), /^t\d+ OK/);
  assert.match(tagged(await c.cmd('COPY $ INBOX')), /OK \[COPYUID \d+ 2:4 /);
  await c.cmd('UID EXPUNGE 3');
  assert.match(await c.cmd('UID FETCH $ (FLAGS)'), /\* 2 FETCH \(UID 2 FLAGS[^\r\n]*\r\n\* 3 FETCH \(UID 4 FLAGS/);
  // A failed SEARCH ... SAVE empties $; a new SELECT forgets it.
  assert.match(tagged(await c.cmd('SEARCH RETURN (SAVE) CHARSET KOI8-R ALL')), /NO/);
  assert.match(await c.cmd('FETCH $ (UID)'), /^t\d+ OK/);
  await c.cmd('SEARCH RETURN (SAVE) ALL');
  await c.cmd('SELECT Res');
  assert.match(await c.cmd('FETCH $ (UID)'), /^t\d+ OK/);
  assert.match(tagged(await c.cmd('FETCH $,1 (UID)')), /BAD/);
  c.close();
});

test('\\Recent: one read-write session claims new mail; EXAMINE and STATUS look without taking it', async () => {
  const a = await loggedIn();
  const b = await loggedIn();
  const d = await loggedIn();
  await a.cmd('CREATE Fresh');
  for (const s of ['r1', 'r2']) await send(a, ['APPEND Fresh ', Buffer.from(`Subject: ${s}\r\n\r\n${s}\r\n`)]);
  assert.match(await b.cmd('STATUS Fresh (RECENT MESSAGES)'), /\(RECENT 2 MESSAGES 2\)/);
  assert.match(await b.cmd('EXAMINE Fresh'), /\* 2 RECENT\r\n/);
  assert.match(await b.cmd('FETCH 1 FLAGS'), /\\Recent/);
  const sa = await a.cmd('SELECT Fresh');
  assert.match(sa, /\* 2 RECENT\r\n/, 'EXAMINE did not take them');
  assert.match(await d.cmd('SELECT Fresh'), /\* 0 RECENT\r\n/, 'taken by the first SELECT');
  assert.match(await d.cmd('FETCH 1:* FLAGS'), /\* 1 FETCH \(FLAGS \(\)\)\r\n\* 2 FETCH \(FLAGS \(\)\)\r\n/);
  assert.match(await d.cmd('SEARCH NEW'), /\* SEARCH\r\n/);
  assert.match(await a.cmd('SEARCH NEW'), /\* SEARCH 1 2\r\n/);
  assert.match(await a.cmd('SEARCH OLD'), /\* SEARCH\r\n/);
  assert.match(await a.cmd('STATUS Fresh (RECENT)'), /RECENT 2\)/, 'the selected mailbox: this session\'s own');
  await b.cmd('UNSELECT');
  assert.match(await b.cmd('STATUS Fresh (RECENT)'), /RECENT 0\)/, 'none left unclaimed');

  // New mail while two sessions have it selected: the one told first gets it.
  await send(b, ['APPEND Fresh ', Buffer.from('Subject: r3\r\n\r\nr3\r\n')]);
  const na = await a.cmd('NOOP');
  assert.match(na, /\* 3 EXISTS\r\n\* 3 RECENT\r\n/);
  const nd = await d.cmd('NOOP');
  assert.match(nd, /\* 3 EXISTS\r\n/);
  assert.doesNotMatch(nd, /RECENT/);
  assert.match(await a.cmd('FETCH 3 FLAGS'), /FLAGS \(\\Recent\)/);
  // Expunging a recent message changes the count: the new one follows the EXPUNGE, as Dovecot 2.3 sends it
  // (test/conformance/imap-dovecot-differential.test.ts compares the two).
  await a.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
  assert.match(await a.cmd('EXPUNGE'), /^\* 1 EXPUNGE\r\n\* 2 RECENT\r\n\S+ OK/);
  assert.match(await a.cmd('SEARCH RECENT'), /\* SEARCH 1 2\r\n/);
  a.close();
  b.close();
  d.close();
});
