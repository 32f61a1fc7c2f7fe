// Oracle comparison for SORT, ESORT and THREAD: the fixtures/imap-sort corpus
// (tricky subjects, dates across timezones, missing and duplicate
// Message-IDs, reference loops, missing parents, addresses with and without
// display names and encoded words, Unicode case forms) is APPENDed, with the
// same INTERNALDATEs, to a scratch Dovecot and to Postino, and every command
// below must get the same untagged answer and the same tagged status from
// both. Fails (does not skip) without Dovecot.
//
// Normalised before comparing: the tagged reply's text (only OK/NO/BAD and
// the response code's name count), the ESEARCH tag, and trailing spaces —
// Dovecot answers an empty THREAD with "* THREAD " (a trailing space the RFC
// 5256 grammar does not allow); Postino sends "* THREAD".
//
// Known differences, left out of the corpus on purpose (see the report that
// came with this test): with two Subject, Message-ID or References fields
// Dovecot uses the first and Postino the last (what its index keeps); an
// encoded word in a charset nobody knows is read as UTF-8 by Dovecot, as
// Latin-1 by Postino.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fixturesDir } from '../support/paths.js';
import { startDovecotLmtp, type RunningDovecot } from '../support/dovecot-lmtp.js';
import { startImapHarness, USER, PASSWORD, type ImapHarness } from '../integration/imap-harness.js';
import { RawImap, tagged } from '../integration/imap-raw-client.js';

const DIR = path.join(fixturesDir, 'imap-sort');
const DUSER = 'oracle@example.test';

interface Fixture {
  name: string;
  raw: Buffer;
  internalDate: string;
}

function loadCorpus(): Fixture[] {
  const lines = fs.readFileSync(path.join(DIR, 'internaldates.txt'), 'utf8').split('\n');
  const out: Fixture[] = [];
  for (const line of lines) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.indexOf(' ');
    const name = line.slice(0, space);
    out.push({ name, raw: fs.readFileSync(path.join(DIR, name)), internalDate: line.slice(space + 1) });
  }
  return out;
}

let dovecot: RunningDovecot;
let h: ImapHarness;
let d: RawImap;
let p: RawImap;
let corpus: Fixture[] = [];

async function append(c: RawImap, f: Fixture): Promise<void> {
  const tag = c.nextTag();
  c.write(Buffer.concat([Buffer.from(`${tag} APPEND INBOX (\\Seen) "${f.internalDate}" {${f.raw.length}+}\r\n`), f.raw, Buffer.from('\r\n')]));
  const r = await c.waitFor(new RegExp(`${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`));
  assert.match(tagged(r), / OK/, `${f.name}: ${r}`);
}

before(async () => {
  corpus = loadCorpus();
  dovecot = await startDovecotLmtp({ users: [DUSER] });
  h = await startImapHarness();
  d = await RawImap.connect(dovecot.imapPort, false);
  assert.match(tagged(await d.cmd(`LOGIN "${DUSER}" "${dovecot.password}"`)), /OK/);
  p = await RawImap.connect(h.tlsPort, true);
  assert.match(tagged(await p.cmd(`LOGIN "${USER}" "${PASSWORD}"`)), /OK/);
  for (const c of [d, p]) {
    for (const f of corpus) await append(c, f);
    assert.match(await c.cmd('SELECT INBOX'), new RegExp(`\\* ${corpus.length} EXISTS`));
  }
});

after(async () => {
  d?.close();
  p?.close();
  await h?.close();
  await dovecot?.stop();
});

/** What must agree: the SORT/THREAD/ESEARCH/SEARCH lines and the tagged status (word and code name). */
function essence(reply: string): string {
  const lines = reply.split('\r\n').filter((l) => l !== '');
  const status = /^\S+ (OK|NO|BAD)(?: \[([A-Z-]+))?/.exec(lines[lines.length - 1] ?? '');
  const data = lines.filter((l) => /^\* (SORT|THREAD|ESEARCH|SEARCH)\b/.test(l)).map((l) => l.replace(/\(TAG "[^"]*"\)/, '(TAG "*")').trimEnd());
  return [...data, `${status?.[1] ?? '?'}${status?.[2] ? ` [${status[2]}]` : ''}`].join('\n');
}

/** Runs each command on both servers in turn; returns the differences. */
async function compare(commands: string[]): Promise<string[]> {
  const diffs: string[] = [];
  for (const cmd of commands) {
    const [dv, pv] = [essence(await d.cmd(cmd)), essence(await p.cmd(cmd))];
    if (dv !== pv) diffs.push(`${cmd}\n  dovecot: ${JSON.stringify(dv)}\n  postino: ${JSON.stringify(pv)}`);
  }
  return diffs;
}

const KEYS = ['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO'];

test('the corpus is big enough and covers what it claims', () => {
  assert.ok(corpus.length >= 25, `${corpus.length} messages`);
  const text = corpus.map((f) => f.raw.toString('latin1')).join('\n');
  for (const needle of ['In-Reply-To:', 'References:', '=?UTF-8?', '=?ISO-8859-1?', '-0500', '+0530', ' EST', 'undisclosed-recipients:;', '(fwd)', '[Fwd:']) {
    assert.ok(text.includes(needle), needle);
  }
});

test('SORT by every key, REVERSE, UID SORT and several keys agree with Dovecot', async () => {
  const commands: string[] = [];
  for (const k of KEYS) commands.push(`SORT (${k}) UTF-8 ALL`, `SORT (REVERSE ${k}) UTF-8 ALL`, `UID SORT (${k}) UTF-8 ALL`);
  commands.push(
    'SORT (FROM DATE) UTF-8 ALL',
    'SORT (REVERSE FROM REVERSE DATE) UTF-8 ALL',
    'SORT (SUBJECT REVERSE ARRIVAL) UTF-8 ALL',
    'SORT (TO SIZE) UTF-8 ALL',
    'SORT (CC REVERSE DISPLAYFROM SIZE) UTF-8 ALL',
    'SORT (DISPLAYTO REVERSE CC ARRIVAL) UTF-8 ALL',
    'SORT (DATE REVERSE DATE SUBJECT) UTF-8 ALL',
    'SORT (REVERSE REVERSE SUBJECT) UTF-8 ALL',
    'SORT ("SUBJECT") UTF-8 ALL',
    'SORT (SUBJECT) UTF-8 SINCE 2-Mar-2024',
    'SORT (DISPLAYFROM) US-ASCII OR FROM zed FROM bob',
    'SORT (REVERSE DATE) UTF-8 NOT SUBJECT lunch',
    'UID SORT (SIZE SUBJECT) UTF-8 1:20',
    'SORT (SUBJECT) UTF-8 SUBJECT nothing-matches',
    'SORT (SUBJECT) ISO-8859-1 ALL',
    'SORT (DATE) KOI8-R SUBJECT zebra',
    'SORT () UTF-8 ALL',
    'SORT (REVERSE) UTF-8 ALL',
    'SORT (BOGUS) UTF-8 ALL',
    'SORT (SUBJECT) X-UNKNOWN ALL',
  );
  const diffs = await compare(commands);
  assert.equal(diffs.length, 0, `${diffs.length} of ${commands.length} differ:\n${diffs.join('\n')}`);
});

test('ESORT return options and SAVE agree with Dovecot', async () => {
  const commands = [
    'SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL',
    'UID SORT RETURN (MIN MAX ALL) (REVERSE SIZE) UTF-8 1:10',
    'SORT RETURN () (SUBJECT) UTF-8 ALL',
    'SORT RETURN (MIN) (SUBJECT) UTF-8 ALL',
    'SORT RETURN (MAX) (DISPLAYFROM) UTF-8 ALL',
    'SORT RETURN (COUNT) (SUBJECT) UTF-8 FROM nobody',
    'SORT RETURN () (SUBJECT) UTF-8 FROM nobody',
    'SORT RETURN (MIN MAX) (SUBJECT) UTF-8 FROM nobody',
    'SORT RETURN (PARTIAL 5:1) (SUBJECT) UTF-8 ALL',
    'SORT RETURN (PARTIAL 30:40 COUNT) (DATE) UTF-8 ALL',
    'SORT RETURN (PARTIAL 500:600) (DATE) UTF-8 ALL',
    'SORT RETURN (SAVE MIN) (REVERSE ARRIVAL) UTF-8 ALL',
    'UID SEARCH UID $',
    'SORT RETURN (SAVE) (SUBJECT) UTF-8 FROM zed',
    'SEARCH $',
    'SORT RETURN (SAVE MAX MIN) (SUBJECT) UTF-8 ALL',
    'SEARCH $',
    'SORT RETURN (SAVE COUNT MIN) (SUBJECT) UTF-8 FROM zed',
    'SEARCH $',
    'SORT (ARRIVAL) UTF-8 $',
    'SORT RETURN (ALL PARTIAL 1:2) (SUBJECT) UTF-8 ALL',
    'SORT RETURN (PARTIAL 0:2) (SUBJECT) UTF-8 ALL',
    'SORT RETURN (FOO) (SUBJECT) UTF-8 ALL',
  ];
  const diffs = await compare(commands);
  assert.equal(diffs.length, 0, `${diffs.length} of ${commands.length} differ:\n${diffs.join('\n')}`);
});

test('THREAD=REFERENCES and THREAD=ORDEREDSUBJECT agree with Dovecot, on all messages and on subsets', async () => {
  const searches = ['ALL', 'SINCE 2-Mar-2024', 'NOT FROM lunch', '1:20', '21:32', '2:31', 'OR SUBJECT zebra SUBJECT plan', 'SUBJECT budget', 'SUBJECT nothing-matches'];
  const commands: string[] = [];
  for (const algorithm of ['REFERENCES', 'ORDEREDSUBJECT']) {
    for (const s of searches) commands.push(`THREAD ${algorithm} UTF-8 ${s}`);
    commands.push(`UID THREAD ${algorithm} US-ASCII ALL`);
  }
  commands.push('THREAD REFERENCES windows-1252 ALL', 'THREAD BOGUS UTF-8 ALL', 'THREAD REFERENCES X-UNKNOWN ALL');
  const diffs = await compare(commands);
  assert.equal(diffs.length, 0, `${diffs.length} of ${commands.length} differ:\n${diffs.join('\n')}`);
});
