// PARTIAL (RFC 9394: paged SEARCH results and the UID FETCH modifier) and
// CONTEXT=SEARCH (RFC 5267: searches kept up to date with ADDTO/REMOVEFROM,
// CANCELUPDATE, NOUPDATE) over real TCP, from the RFCs' examples, hostile
// inputs, and a Python imaplib session. What Dovecot 2.3 answers alike is
// compared in test/conformance/imap-context-dovecot.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startImapHarness, USER, PASSWORD, type ImapHarness } from './imap-harness.js';
import { RawImap, tagged } from './imap-raw-client.js';
import { have, runClient } from '../support/client-process.js';

let h: ImapHarness;
let c: RawImap;

async function append(cl: RawImap, mailbox: string, subject: string, flags = ''): Promise<void> {
  const text = Buffer.from(`From: a@example.test\r\nSubject: ${subject}\r\n\r\nbody of ${subject}\r\n`);
  const tag = cl.nextTag();
  cl.write(Buffer.concat([Buffer.from(`${tag} APPEND ${mailbox} (${flags}) {${text.length}+}\r\n`), text, Buffer.from('\r\n')]));
  assert.match(tagged(await cl.waitFor(new RegExp(`${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`))), /OK/);
}

/** The one ESEARCH/SEARCH line a command answers with ('' when none), checking the tagged OK. */
async function answer(command: string, cl = c): Promise<string> {
  const r = await cl.cmd(command);
  assert.match(tagged(r), / OK/, `${command}: ${r}`);
  const lines = r.split('\r\n').filter((l) => /^\* (E?SEARCH)\b/.test(l));
  assert.ok(lines.length <= 1, `${command}: ${r}`);
  return (lines[0] ?? '').replace(/\(TAG "[^"]*"\) /, '');
}

async function bad(command: string, cl = c): Promise<void> {
  assert.match(tagged(await cl.cmd(command)), /^\S+ BAD /, command);
  // A good command between, so the session's limit on BADs in a row is not what is tested.
  assert.match(tagged(await cl.cmd('NOOP')), / OK/);
}

/** Sends a command with a tag of our choosing. */
async function tagCmd(cl: RawImap, tag: string, command: string): Promise<string> {
  cl.write(`${tag} ${command}\r\n`);
  return cl.waitFor(new RegExp(`(?:^|\\r\\n)${tag} (?:OK|NO|BAD)[^\\r\\n]*\\r\\n`));
}

before(async () => {
  h = await startImapHarness();
  c = await h.login();
  assert.match(tagged(await c.cmd('CREATE Pages')), /OK/);
  // 30 messages, UIDs 1-30: 5 and 10 \Deleted, 29 and 30 $Junk.
  for (let i = 1; i <= 30; i++) await append(c, 'Pages', `m${i}`, i === 5 || i === 10 ? '\\Deleted' : i >= 29 ? '$Junk' : '');
  assert.match(tagged(await c.cmd('SELECT Pages')), /OK/);
});

after(async () => {
  c?.close();
  await h?.close();
});

test('CAPABILITY announces PARTIAL and CONTEXT=SEARCH', async () => {
  const r = await c.cmd('CAPABILITY');
  const caps = r.split('\r\n')[0]!.split(' ');
  for (const cap of ['PARTIAL', 'CONTEXT=SEARCH', 'ESEARCH', 'SEARCHRES']) assert.ok(caps.includes(cap), `${cap} in ${r}`);
});

test('RFC 9394 3.1: pages from the first and from the last result, the range echoed, NIL past the end', async () => {
  // UNDELETED UNKEYWORD $Junk: UIDs 1-4, 6-9, 11-28 (26 results).
  const q = 'UNDELETED UNKEYWORD $Junk';
  assert.equal(await answer(`UID SEARCH RETURN (PARTIAL 1:5) ${q}`), '* ESEARCH UID PARTIAL (1:5 1:4,6)');
  assert.equal(await answer(`UID SEARCH RETURN (PARTIAL 6:10) ${q}`), '* ESEARCH UID PARTIAL (6:10 7:9,11:12)');
  // 500:400 is the same as 400:500; a range reaching past the end returns what there is.
  assert.equal(await answer(`UID SEARCH RETURN (PARTIAL 500:25) ${q}`), '* ESEARCH UID PARTIAL (25:500 27:28)');
  assert.equal(await answer(`UID SEARCH RETURN (PARTIAL 24000:24500) ${q}`), '* ESEARCH UID PARTIAL (24000:24500 NIL)');
  assert.equal(await answer(`UID SEARCH RETURN (PARTIAL -1:-3) ${q}`), '* ESEARCH UID PARTIAL (-1:-3 26:28)');
  assert.equal(await answer(`UID SEARCH RETURN (PARTIAL -3:-1) ${q}`), '* ESEARCH UID PARTIAL (-1:-3 26:28)');
  assert.equal(await answer(`UID SEARCH RETURN (PARTIAL -25:-100) ${q}`), '* ESEARCH UID PARTIAL (-25:-100 1:2)');
  assert.equal(await answer(`UID SEARCH RETURN (PARTIAL -27:-30) ${q}`), '* ESEARCH UID PARTIAL (-27:-30 NIL)');
  assert.equal(await answer('UID SEARCH RETURN (PARTIAL 1:4294967295) SUBJECT m3'), '* ESEARCH UID PARTIAL (1:4294967295 3,30)');
  assert.equal(await answer('SEARCH RETURN (PARTIAL 1:10) SUBJECT nothing-matches'), '* ESEARCH PARTIAL (1:10 NIL)');
  // MIN, MAX and COUNT are of the whole result (RFC 9394 3.2).
  assert.equal(await answer('SEARCH RETURN (MIN MAX COUNT PARTIAL 2:3) UNDELETED'), '* ESEARCH MIN 1 MAX 30 PARTIAL (2:3 2:3) COUNT 28');
  // Sequence numbers for SEARCH, UIDs for UID SEARCH.
  const other = await h.login();
  assert.match(tagged(await other.cmd('CREATE Seq')), /OK/);
  for (const s of ['a', 'b', 'c', 'd']) await append(other, 'Seq', s);
  assert.match(tagged(await other.cmd('SELECT Seq')), /OK/);
  assert.match(tagged(await other.cmd('STORE 1 +FLAGS (\\Deleted)')), /OK/);
  assert.match(tagged(await other.cmd('EXPUNGE')), /OK/);
  assert.equal(await answer('SEARCH RETURN (PARTIAL -1:-2) ALL', other), '* ESEARCH PARTIAL (-1:-2 2:3)');
  assert.equal(await answer('UID SEARCH RETURN (PARTIAL -1:-2) ALL', other), '* ESEARCH UID PARTIAL (-1:-2 3:4)');
  // ESORT's PARTIAL shares the range: from the end of the sorted result.
  assert.match((await other.cmd('SORT RETURN (PARTIAL -1:-2) (REVERSE SUBJECT) UTF-8 ALL')).split('\r\n')[0]!, / PARTIAL \(-1:-2 2,1\)$/, 'in sort order');
  other.close();
});

test('RFC 9394 3.2: what SAVE keeps beside PARTIAL, MIN, MAX and COUNT', async () => {
  const saved = async () => answer('UID SEARCH UID $');
  assert.equal(await answer('UID SEARCH RETURN (SAVE PARTIAL -1:-2) UNDELETED'), '* ESEARCH UID PARTIAL (-1:-2 29:30)');
  assert.equal(await saved(), '* SEARCH 29 30');
  assert.equal(await answer('UID SEARCH RETURN (SAVE MIN MAX PARTIAL 2:3) UNDELETED'), '* ESEARCH UID MIN 1 MAX 30 PARTIAL (2:3 2:3)');
  assert.equal(await saved(), '* SEARCH 1 2 3 30');
  assert.equal(await answer('UID SEARCH RETURN (SAVE MIN PARTIAL 4:5) UNDELETED'), '* ESEARCH UID MIN 1 PARTIAL (4:5 4,6)');
  assert.equal(await saved(), '* SEARCH 1 4 6');
  assert.equal(await answer('UID SEARCH RETURN (SAVE COUNT PARTIAL 1:1) UNDELETED'), '* ESEARCH UID PARTIAL (1:1 1) COUNT 28');
  assert.equal((await saved()).split(' ').length - 2, 28);
  assert.equal(await answer('UID SEARCH RETURN (SAVE PARTIAL 100:200) UNDELETED'), '* ESEARCH UID PARTIAL (100:200 NIL)');
  assert.equal(await saved(), '* SEARCH');
  // A refused command leaves "$" as it was.
  assert.equal(await answer('UID SEARCH RETURN (SAVE PARTIAL 1:2) ALL'), '* ESEARCH UID PARTIAL (1:2 1:2)');
  await bad('UID SEARCH RETURN (SAVE ALL PARTIAL 3:4) ALL');
  assert.equal(await saved(), '* SEARCH 1 2');
});

test('RFC 9394 3.3/3.4: the PARTIAL FETCH modifier, alone and with CHANGEDSINCE', async () => {
  const fetched = (r: string) => r.split('\r\n').filter((l) => /^\* \d+ FETCH /.test(l)).map((l) => /UID (\d+)/.exec(l)?.[1] ?? /^\* (\d+) /.exec(l)![1]).join(' ');
  const ok = async (cmd: string) => {
    const r = await c.cmd(cmd);
    assert.match(tagged(r), / OK/, `${cmd}: ${r}`);
    return fetched(r);
  };
  assert.equal(await ok('UID FETCH 10:20 (UID FLAGS) (PARTIAL -1:-3)'), '18 19 20');
  assert.equal(await ok('UID FETCH 1:* (UID) (PARTIAL 2:4)'), '2 3 4');
  assert.equal(await ok('UID FETCH 25:40 (UID) (PARTIAL 3:1)'), '25 26 27');
  assert.equal(await ok('UID FETCH 1:* (UID) (PARTIAL 100:200)'), '');
  assert.equal(await ok('FETCH 1:* (FLAGS) (PARTIAL -2:-1)'), '29 30');
  const stored = await c.cmd('UID STORE 3,7 +FLAGS (\\Flagged)');
  const modseq = Number(/MODSEQ \((\d+)\)/.exec(stored)?.[1] ?? (await c.cmd('UID FETCH 3 (MODSEQ)')).match(/MODSEQ \((\d+)\)/)![1]);
  assert.equal(await ok(`UID FETCH 1:* (UID) (CHANGEDSINCE ${modseq - 1} PARTIAL -1:-1)`), '7');
  assert.equal(await ok(`UID FETCH 1:* (UID) (PARTIAL 1:1 CHANGEDSINCE ${modseq - 1})`), '3');
  for (const m of ['(PARTIAL)', '(PARTIAL 0:1)', '(PARTIAL 1:2 PARTIAL 3:4)', '(PARTIAL 1:*)', '(PARTIAL -1:2)', '(PARTIAL "1:2")', '(PARTIAL 1:99999999999)']) {
    await bad(`UID FETCH 1:* (UID) ${m}`);
  }
});

test('hostile PARTIAL ranges are BAD and change nothing', async () => {
  const long = '9'.repeat(60_000);
  for (const r of ['0:5', '5:0', '1:*', '*:*', '-1:5', '1:-5', '5', '-5', '1:4294967296', `1:${long}`, '1:2:3', '1,2', '"1:2"', '(1:2)', '--1:--2', '1.5:2', '']) {
    await bad(`SEARCH RETURN (PARTIAL ${r}) ALL`);
  }
  for (const r of ['PARTIAL 1:2 ALL', 'ALL PARTIAL 1:2', 'PARTIAL 1:2 PARTIAL 1:2', 'PARTIAL 1:2 BOGUS']) await bad(`SEARCH RETURN (${r}) ALL`);
  // The session still answers after all that.
  assert.equal(await answer('UID SEARCH RETURN (PARTIAL 1:1) ALL'), '* ESEARCH UID PARTIAL (1:1 1)');
});

test('RFC 5267 4: UPDATE follows new, changed and expunged messages, also during IDLE; CANCELUPDATE ends it', async () => {
  const a = await h.login();
  const b = await h.login();
  assert.match(tagged(await a.cmd('CREATE Ctx')), /OK/);
  await append(a, 'Ctx', 'cold');
  await append(a, 'Ctx', 'hot one');
  assert.match(tagged(await a.cmd('SELECT Ctx')), /OK/);
  assert.match(tagged(await b.cmd('SELECT Ctx')), /OK/);
  assert.match(await tagCmd(a, 'U1', 'UID SEARCH RETURN (UPDATE ALL) SUBJECT hot'), /\* ESEARCH \(TAG "U1"\) UID ALL 2\r\nU1 OK/);
  assert.match(await tagCmd(a, 'U2', 'SEARCH RETURN (UPDATE COUNT) FLAGGED'), /\* ESEARCH \(TAG "U2"\) COUNT 0\r\nU2 OK/);
  // The tag is in use: BAD (and the first search keeps going).
  assert.match(tagged(await tagCmd(a, 'U1', 'UID SEARCH RETURN (UPDATE) ALL')), /^U1 BAD/);

  a.write('i1 IDLE\r\n');
  await a.waitFor(/^\+ [^\r\n]*\r\n/m);
  await append(b, 'Ctx', 'hot two');
  await a.waitFor(/\* 3 EXISTS\r\n(?:\* 3 RECENT\r\n)?\* ESEARCH \(TAG "U1"\) UID ADDTO \(0 3\)\r\n/);
  assert.match(tagged(await b.cmd('STORE 1,3 +FLAGS (\\Flagged)')), /OK/);
  await a.waitFor(/\* ESEARCH \(TAG "U2"\) ADDTO \(0 1,3\)\r\n/);
  assert.match(tagged(await b.cmd('STORE 3 +FLAGS (\\Deleted)')), /OK/);
  assert.match(tagged(await b.cmd('EXPUNGE')), /OK/);
  await a.waitFor(/\* ESEARCH \(TAG "U1"\) UID REMOVEFROM \(0 3\)\r\n\* ESEARCH \(TAG "U2"\) REMOVEFROM \(0 3\)\r\n\* 3 EXPUNGE\r\n/);
  a.write('DONE\r\n');
  await a.waitFor(/i1 OK[^\r\n]*\r\n/);

  assert.match(tagged(await a.cmd('CANCELUPDATE "U1"')), /OK/);
  await append(b, 'Ctx', 'hot three');
  const r = await a.cmd('NOOP');
  assert.match(r, /\* 3 EXISTS/);
  assert.doesNotMatch(r, /ESEARCH/, 'no updates after CANCELUPDATE (and hot three is not \\Flagged)');
  // RFC 9394 3.1: PARTIAL and UPDATE do not interact: updates name every new match.
  assert.match(await tagCmd(a, 'P1', 'UID SEARCH RETURN (UPDATE PARTIAL 1:1) SUBJECT hot'), /\(TAG "P1"\) UID PARTIAL \(1:1 2\)\r\n/);
  await append(b, 'Ctx', 'hot four');
  await append(b, 'Ctx', 'hot five');
  assert.match(await a.cmd('NOOP'), /\* ESEARCH \(TAG "P1"\) UID ADDTO \(0 5:6\)\r\n/);
  a.close();
  b.close();
});

test('updated searches are bounded: past 16, OK [NOUPDATE "tag"] with the answer but no updates; malformed UPDATE/CANCELUPDATE are BAD', async () => {
  const a = await h.login();
  const b = await h.login();
  assert.match(tagged(await a.cmd('SELECT Ctx')), /OK/);
  for (let i = 1; i <= 16; i++) assert.match(await tagCmd(a, `S${i}`, 'UID SEARCH RETURN (UPDATE COUNT) ALL'), new RegExp(`S${i} OK`));
  const refused = await tagCmd(a, 'S17', 'UID SEARCH RETURN (UPDATE COUNT) ALL');
  assert.match(refused, /\* ESEARCH \(TAG "S17"\) UID COUNT \d+\r\nS17 OK \[NOUPDATE "S17"\]/);
  // Many more are refused alike; the session's state stays bounded.
  for (let i = 18; i <= 60; i++) assert.match(await tagCmd(a, `S${i}`, 'UID SEARCH RETURN (UPDATE) ALL'), new RegExp(`S${i} OK \\[NOUPDATE "S${i}"\\]`));
  await append(b, 'Ctx', 'news');
  const r = await a.cmd('NOOP');
  assert.equal((r.match(/ESEARCH/g) ?? []).length, 16, r);
  assert.doesNotMatch(r, /TAG "S(1[7-9]|[2-6]\d)"/);
  // Ending one makes room for another.
  assert.match(tagged(await a.cmd('CANCELUPDATE "S1" "S2"')), /OK/);
  assert.match(tagged(await tagCmd(a, 'S99', 'UID SEARCH RETURN (UPDATE) ALL')), /^S99 OK$|^S99 OK [^[]/);
  for (const cmd of ['SEARCH RETURN (UPDATE UPDATE) ALL', 'CANCELUPDATE', 'CANCELUPDATE S3', 'CANCELUPDATE ("S3")', 'CANCELUPDATE {2+}\r\nS3']) await bad(cmd, a);
  assert.match(tagged(await a.cmd('CANCELUPDATE "nope"')), /NO/);
  assert.match(tagged(await a.cmd(`CANCELUPDATE ${Array.from({ length: 2000 }, (_, i) => `"x${i}"`).join(' ')}`)), /NO/);
  // Not in the selected state: BAD like any selected-state command.
  assert.match(tagged(await a.cmd('UNSELECT')), /OK/);
  await bad('CANCELUPDATE "S3"', a);
  a.close();
  b.close();
});

const PYTHON_SESSION = `
import imaplib, json, re, ssl, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
out = {}
m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
m.login(user, password)
caps = m.capability()[1][0].decode().split()
out['caps'] = sorted(c for c in caps if c in ('PARTIAL', 'CONTEXT=SEARCH'))
m.create('Py')
for s in ['one', 'two', 'three']:
    m.append('Py', None, None, ('Subject: %s\\r\\n\\r\\nbody\\r\\n' % s).encode())
m.select('Py')
typ, _ = m._simple_command('UID', 'SEARCH', 'RETURN', '(PARTIAL -1:-2)', 'ALL')
out['partial'] = [d.decode() for d in m.response('ESEARCH')[1]]
typ, data = m._simple_command('UID', 'FETCH', '1:*', '(UID)', '(PARTIAL 1:1)')
out['fetch'] = [d.decode() for d in m.response('FETCH')[1] if d]
typ, _ = m._simple_command('UID', 'SEARCH', 'RETURN', '(UPDATE)', 'SUBJECT', 'two')
line = m.response('ESEARCH')[1][0].decode()
tag = re.search(r'TAG "([^"]+)"', line).group(1)
other = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
other.login(user, password)
other.append('Py', None, None, b'Subject: two again\\r\\n\\r\\nbody\\r\\n')
m.noop()
out['update'] = [d.decode().replace(tag, 'TAG') for d in m.response('ESEARCH')[1]]
out['cancel'] = m.xatom('CANCELUPDATE', '"%s"' % tag)[0]
other.append('Py', None, None, b'Subject: two more\\r\\n\\r\\nbody\\r\\n')
m.noop()
out['after_cancel'] = m.response('ESEARCH')[1]
out['logout'] = m.logout()[0]
other.logout()
print(json.dumps(out))
`;


test('Python imaplib: PARTIAL pages, the FETCH modifier, an updated search and CANCELUPDATE', { skip: !have('python3') }, async () => {
  const script = path.join(h.dir, 'partial_context.py');
  writeFileSync(script, PYTHON_SESSION);
  const r = await runClient('python3', [script, String(h.tlsPort), USER, PASSWORD]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(out.caps, ['CONTEXT=SEARCH', 'PARTIAL']);
  assert.match((out.partial as string[])[0]!, /^\(TAG "[^"]+"\) UID PARTIAL \(-1:-2 2:3\)$/);
  assert.deepEqual(out.fetch, ['1 (UID 1)']);
  assert.deepEqual(out.update, ['(TAG "TAG") UID ADDTO (0 4)']);
  assert.equal(out.cancel, 'OK');
  assert.deepEqual(out.after_cancel, [null], 'imaplib: no ESEARCH after CANCELUPDATE');
  assert.equal(out.logout, 'BYE');
});
