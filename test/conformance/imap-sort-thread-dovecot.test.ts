// Oracle comparison for SORT, ESORT and THREAD: the fixtures/imap-sort corpus
// (tricky subjects, dates across timezones, missing and duplicate
// Message-IDs, reference loops, missing parents, addresses with and without
// display names and encoded words, Unicode case forms) is APPENDed, with the
// same INTERNALDATEs, to a scratch Dovecot and to Postino, and every command
// below must get the same untagged answer and the same tagged status from
// both; so must four seeded random mailboxes built from small pools of
// Message-IDs, subjects and dates. Fails (does not skip) without Dovecot.
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
import { prng } from '../support/prng.js';

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

async function append(c: RawImap, f: Fixture, mailbox = 'INBOX'): Promise<void> {
  const tag = c.nextTag();
  c.write(Buffer.concat([Buffer.from(`${tag} APPEND ${mailbox} (\\Seen) "${f.internalDate}" {${f.raw.length}+}\r\n`), f.raw, Buffer.from('\r\n')]));
  const r = await c.waitFor(new RegExp(`${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`));
  assert.match(tagged(r), / OK/, `${f.name}: ${r}`);
}

/**
 * A seeded mailbox of messages drawn from a small pool of Message-IDs,
 * subjects and dates, so duplicates, loops, shared and missing parents and
 * subject collisions are everywhere.
 */
function randomMailbox(seed: number, count: number): Fixture[] {
  const rand = prng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
  const leaders = ['', 'Re: ', 'RE: ', 'Fwd: ', 'Fw: ', 'Re[2]: ', '[list] ', '[list] Re: ', 'Re: Re: ', 're:', '[a][b] ', 'Fwd: [x] Re: ', 'Re:', ' '];
  const bases = ['Lunch', 'Budget', 'plan', 'Plan', '', 'été', '[blob]', 'x'];
  const trailers = ['', '', ' (fwd)', '  ', ' (FWD) (fwd)'];
  const ids = Array.from({ length: pick([10, 20, 60]) }, (_, i) => `<id${i}@r.example>`);
  const zones = ['+0000', '-0500', '+0530', 'GMT', 'EST', ''];
  const out: Fixture[] = [];
  for (let i = 1; i <= count; i++) {
    const h: string[] = [];
    if (rand() < 0.95) {
      let sub = pick(leaders) + pick(bases) + pick(trailers);
      if (rand() < 0.1) sub = `[fwd: ${sub}]`;
      h.push(`Subject: ${sub}`);
    }
    h.push(`From: a${1 + Math.floor(rand() * 5)}@example.com`);
    if (rand() < 0.9) h.push(`Date: ${1 + Math.floor(rand() * 3)} Mar 2024 0${Math.floor(rand() * 4)}:00:00 ${pick(zones)}`.trimEnd());
    if (rand() < 0.9) h.push(`Message-ID: ${pick(ids)}`);
    const refs = pick([0, 0, 1, 2, 3, 5, 8]);
    if (refs > 0) h.push(`References: ${Array.from({ length: refs }, () => pick([...ids, '<bad>'])).join(' ')}`);
    if (rand() < 0.4) h.push(`In-Reply-To: ${pick(ids)}`);
    out.push({
      name: `random ${seed}/${i}`,
      raw: Buffer.from(`${h.join('\r\n')}\r\n\r\nbody\r\n`, 'utf8'),
      internalDate: `0${1 + Math.floor(rand() * 3)}-Mar-2024 0${Math.floor(rand() * 4)}:00:00 +0000`,
    });
  }
  return out;
}

const RANDOM_SEEDS = [1, 2, 3, 4];

before(async () => {
  corpus = loadCorpus();
  dovecot = await startDovecotLmtp({ users: [DUSER] });
  h = await startImapHarness();
  d = await RawImap.connect(dovecot.imapPort, false);
  assert.match(tagged(await d.cmd(`LOGIN "${DUSER}" "${dovecot.password}"`)), /OK/);
  p = await RawImap.connect(h.tlsPort, true);
  assert.match(tagged(await p.cmd(`LOGIN "${USER}" "${PASSWORD}"`)), /OK/);
  for (const c of [d, p]) {
    for (const seed of RANDOM_SEEDS) {
      assert.match(tagged(await c.cmd(`CREATE Random${seed}`)), /OK/);
      for (const f of randomMailbox(seed, 120)) await append(c, f, `Random${seed}`);
    }
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

test('seeded random mailboxes (duplicate Message-IDs, loops, shared and missing parents) thread and sort as in Dovecot', async () => {
  const commands: string[] = [];
  for (const seed of RANDOM_SEEDS) {
    commands.push(
      `SELECT Random${seed}`,
      'THREAD REFERENCES UTF-8 ALL',
      'THREAD ORDEREDSUBJECT UTF-8 ALL',
      'THREAD REFERENCES UTF-8 1:60',
      'UID THREAD REFERENCES UTF-8 NOT FROM a1',
      'SORT (SUBJECT DATE) UTF-8 ALL',
      'SORT (REVERSE DATE FROM) UTF-8 ALL',
      'SORT RETURN (MIN MAX COUNT ALL) (ARRIVAL REVERSE SUBJECT) UTF-8 ALL',
    );
  }
  commands.push('SELECT INBOX');
  const diffs = await compare(commands);
  assert.equal(diffs.length, 0, `${diffs.length} of ${commands.length} differ:\n${diffs.join('\n')}`);
});
