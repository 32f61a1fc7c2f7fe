// SORT (RFC 5256, RFC 5957 DISPLAYFROM/DISPLAYTO), ESORT (RFC 5267) and
// THREAD (RFC 5256) over real TCP: exact commands in, exact answers checked.
// The same behaviours are compared with Dovecot in
// test/conformance/imap-sort-thread-dovecot.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startImapHarness, USER, PASSWORD, type ImapHarness } from './imap-harness.js';
import { RawImap, tagged } from './imap-raw-client.js';
import { have, runClient } from '../support/client-process.js';

let h: ImapHarness;
let c: RawImap;

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');

/** The "Sorts" mailbox, one message per line of expectations below. */
const SORTS: Array<{ date: string; text: string }> = [
  {
    date: '01-Mar-2024 10:00:00 +0000',
    text: crlf(`From: "Zed Last" <alpha@z.example>
To: "Mike" <mike@x.example>
Cc: "Aaron" <zulu@c.example>, amy@c.example
Subject: Re: banana
Date: Mon, 4 Mar 2024 23:30:00 -0500

one
`),
  },
  {
    date: '01-Mar-2024 09:00:00 +0000',
    text: crlf(`From: =?UTF-8?Q?=C3=89lise?= <elise@x.example>
To: bob@x.example
Subject: [list] Apple
Date: Tue, 5 Mar 2024 04:00:00 +0000

two
`),
  },
  {
    // No Subject and no Date: DATE falls back to INTERNALDATE.
    date: '05-Mar-2024 04:15:00 +0000',
    text: crlf(`From: bob@y.example
To: =?UTF-8?Q?=C3=89mile?= <a@x.example>
Cc: Mike <alpha@c.example>

three
`),
  },
  {
    // Same instant as message 1 (another zone) and the same INTERNALDATE: ties go to the sequence number.
    date: '01-Mar-2024 10:00:00 +0000',
    text: crlf(`From: "Carol" <carol@x.example>
To: undisclosed-recipients:;
Cc: <BRAVO@c.example>
Subject: cherry (fwd)
Date: Tue, 5 Mar 2024 06:30:00 +0200

four
`),
  },
  {
    // Bare LFs: RFC822.SIZE (what SIZE sorts by) counts them as CRLF.
    date: '02-Mar-2024 12:00:00 +0000',
    text: `From: _under@x.example\nTo: =?UTF-8?Q?Zo=C3=AB?= <zoe@x.example>\nCc: _cc@c.example\nSubject: Re:\nDate: not a date\n\n${'x\n'.repeat(60)}`,
  },
];

/** RFC822.SIZE as Dovecot and Postino report it. */
const vsize = (text: string) => Buffer.byteLength(text.replace(/\r?\n/g, '\r\n'));

async function append(mailbox: string, text: string, date?: string): Promise<void> {
  const tag = c.nextTag();
  const bytes = Buffer.from(text, 'utf8');
  c.write(Buffer.concat([Buffer.from(`${tag} APPEND ${mailbox} (\\Seen)${date ? ` "${date}"` : ''} {${bytes.length}+}\r\n`), bytes, Buffer.from('\r\n')]));
  const r = await c.waitFor(new RegExp(`${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`));
  assert.match(tagged(r), /OK/, r);
}

/** The one untagged line a command answers with, e.g. "* SORT 1 2 3". */
async function answer(command: string, prefix: RegExp = /^\* (SORT|THREAD|ESEARCH|SEARCH)\b.*$/m): Promise<string> {
  const r = await c.cmd(command);
  assert.match(tagged(r), / OK /, `${command}: ${r}`);
  const lines = r.split('\r\n').filter((l) => prefix.test(l));
  assert.ok(lines.length <= 1, `${command}: ${r}`);
  return lines[0] ?? '';
}

before(async () => {
  h = await startImapHarness();
  c = await h.login();
  for (const name of ['Sorts', 'Threads', 'Threads2']) assert.match(tagged(await c.cmd(`CREATE ${name}`)), /OK/);
  // Make message 4 sit in size between message 5's bytes on disk and its RFC822.SIZE.
  const five = SORTS[4]!.text;
  const target = Buffer.byteLength(five) + 30;
  const four = SORTS[3]!;
  four.text = four.text.replace('four\r\n', `${'f'.repeat(target - vsize(four.text) + 'four'.length)}\r\n`);
  assert.equal(vsize(four.text), target);
  for (const m of SORTS) await append('Sorts', m.text, m.date);
});

after(async () => {
  c?.close();
  await h?.close();
});

test('CAPABILITY announces SORT, SORT=DISPLAY, ESORT and both THREAD algorithms, as Dovecot does', async () => {
  const caps = await answer('CAPABILITY', /^\* CAPABILITY /);
  for (const cap of ['SORT', 'SORT=DISPLAY', 'ESORT', 'THREAD=REFERENCES', 'THREAD=ORDEREDSUBJECT']) assert.ok(caps.split(' ').includes(cap), `${cap} in ${caps}`);
  // No search-result updates for SORT (RFC 5267 CONTEXT=SORT), like Dovecot 2.3.
  assert.ok(!caps.split(' ').includes('CONTEXT=SORT'));
});

test('SORT by every key, REVERSE and several keys', async () => {
  assert.match(tagged(await c.cmd('SELECT Sorts')), /OK/);
  // Base subjects: 1 BANANA, 2 APPLE, 3 "" (none), 4 CHERRY, 5 "" ("Re:" leaves nothing).
  assert.equal(await answer('SORT (SUBJECT) UTF-8 ALL'), '* SORT 3 5 2 1 4');
  assert.equal(await answer('SORT (REVERSE SUBJECT) UTF-8 ALL'), '* SORT 4 1 2 3 5');
  // CC: the mailbox of the first Cc address, case-folded upwards ("_" sorts after letters).
  assert.equal(await answer('SORT (CC) UTF-8 ALL'), '* SORT 2 3 4 1 5');
  assert.equal(await answer('SORT (FROM) UTF-8 ALL'), '* SORT 1 3 4 2 5');
  // TO: a group's name stands for its (missing) first address.
  assert.equal(await answer('SORT (TO) UTF-8 ALL'), '* SORT 3 2 1 4 5');
  // DISPLAYFROM: "Zed Last", "Élise" (decoded; sorts as E + accent), bob@y, Carol, _under@x.
  assert.equal(await answer('SORT (DISPLAYFROM) UTF-8 ALL'), '* SORT 3 4 2 1 5');
  assert.equal(await answer('SORT (DISPLAYTO) UTF-8 ALL'), '* SORT 2 3 1 4 5');
  // DATE in UTC; 3 without Date and 5 with a broken one use INTERNALDATE.
  assert.equal(await answer('SORT (DATE) UTF-8 ALL'), '* SORT 5 2 3 1 4');
  assert.equal(await answer('SORT (REVERSE DATE) UTF-8 ALL'), '* SORT 1 4 3 2 5', 'ties keep ascending sequence order');
  assert.equal(await answer('SORT (DATE REVERSE SUBJECT) UTF-8 ALL'), '* SORT 5 2 3 4 1');
  assert.equal(await answer('SORT (ARRIVAL) UTF-8 ALL'), '* SORT 2 1 4 5 3');
  assert.equal(await answer('SORT (REVERSE ARRIVAL) UTF-8 ALL'), '* SORT 3 5 1 4 2');
  const sizes = SORTS.map((m, i) => ({ seq: i + 1, size: vsize(m.text) })).sort((a, b) => a.size - b.size || a.seq - b.seq);
  assert.equal(await answer('SORT (SIZE) UTF-8 ALL'), `* SORT ${sizes.map((s) => s.seq).join(' ')}`);
  assert.equal(await answer('UID SORT (REVERSE SIZE) UTF-8 ALL'), `* SORT ${sizes.map((s) => s.seq).reverse().join(' ')}`);
  assert.equal(await answer('SORT (SUBJECT) UTF-8 SUBJECT nothing-matches'), '* SORT');
  assert.match(await answer('SORT (ARRIVAL) UTF-8 MODSEQ 1'), /^\* SORT 2 1 4 5 3 \(MODSEQ \d+\)$/);
});

test('SORT with a search charset other than UTF-8, and the errors', async () => {
  const tag = c.nextTag();
  c.write(Buffer.concat([Buffer.from(`${tag} SORT (ARRIVAL) ISO-8859-1 FROM {5+}\r\n`), Buffer.from('\xc9lise', 'latin1'), Buffer.from('\r\n')]));
  const r = await c.waitFor(new RegExp(`${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`));
  assert.match(r, /\* SORT 2\r\n/);
  assert.match(tagged(await c.cmd('SORT (SUBJECT) X-UNKNOWN ALL')), /NO \[BADCHARSET/);
  for (const bad of ['SORT () UTF-8 ALL', 'SORT (REVERSE) UTF-8 ALL', 'SORT (BOGUS) UTF-8 ALL', 'SORT SUBJECT UTF-8 ALL', 'SORT (SUBJECT) UTF-8']) {
    assert.match(tagged(await c.cmd(bad)), /BAD/, bad);
  }
});

test('ESORT: RETURN (MIN MAX COUNT ALL) in sort order, PARTIAL, SAVE for "$"', async () => {
  const tagOf = (r: string) => /^\* ESEARCH \(TAG "([^"]+)"\)/.exec(r)?.[1];
  let r = await answer('SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 ALL');
  assert.match(r, /^\* ESEARCH \(TAG "t\d+"\) MIN 3 MAX 4 ALL 3,5,2,1,4 COUNT 5$/);
  assert.ok(tagOf(r));
  r = await answer('UID SORT RETURN (ALL) (ARRIVAL) UTF-8 ALL');
  assert.match(r, /^\* ESEARCH \(TAG "t\d+"\) UID ALL 2,1,4:5,3$/);
  assert.match(await answer('SORT RETURN () (REVERSE ARRIVAL) UTF-8 ALL'), / ALL 3,5,1,4,2$/);
  assert.match(await answer('SORT RETURN (COUNT MIN) (SUBJECT) UTF-8 SUBJECT nothing'), /^\* ESEARCH \(TAG "t\d+"\) COUNT 0$/);
  assert.match(await answer('SORT RETURN (MIN MAX) (SUBJECT) UTF-8 SUBJECT nothing'), /^\* ESEARCH \(TAG "t\d+"\)$/);
  assert.match(await answer('SORT RETURN (PARTIAL 2:3 COUNT) (SUBJECT) UTF-8 ALL'), / PARTIAL \(2:3 5,2\) COUNT 5$/);
  assert.match(await answer('SORT RETURN (PARTIAL 9:10) (SUBJECT) UTF-8 ALL'), / PARTIAL \(9:10 NIL\)$/);
  assert.match(await answer('SORT RETURN (MIN COUNT) (ARRIVAL) UTF-8 MODSEQ 1'), / MIN 2 COUNT 5 MODSEQ \d+$/);
  // SAVE with MIN alone saves the first message in sort order only (RFC 5182 2.1).
  assert.match(await answer('SORT RETURN (SAVE MIN) (REVERSE SUBJECT) UTF-8 ALL'), / MIN 4$/);
  assert.equal(await answer('SEARCH $'), '* SEARCH 4');
  // SAVE alone answers nothing but OK; "$" then holds every match.
  assert.equal(await answer('SORT RETURN (SAVE) (DATE) UTF-8 OR FROM bob FROM carol'), '');
  assert.equal(await answer('SEARCH $'), '* SEARCH 3 4');
  assert.equal(await answer('SORT (REVERSE SIZE) UTF-8 $'), '* SORT 4 3');
  assert.match(await answer('SORT RETURN (SAVE COUNT MIN) (SUBJECT) UTF-8 ALL'), / MIN 3 COUNT 5$/);
  assert.equal(await answer('SEARCH $'), '* SEARCH 1 2 3 4 5');
  // A failed SORT ... RETURN (SAVE) leaves "$" empty.
  assert.match(tagged(await c.cmd('SORT RETURN (SAVE) (DATE) X-UNKNOWN ALL')), /NO \[BADCHARSET/);
  assert.equal(await answer('SEARCH $'), '* SEARCH');
  for (const bad of ['SORT RETURN (ALL PARTIAL 1:2) (SUBJECT) UTF-8 ALL', 'SORT RETURN (PARTIAL 0:2) (SUBJECT) UTF-8 ALL', 'SORT RETURN (FOO) (SUBJECT) UTF-8 ALL', 'SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL']) {
    assert.match(tagged(await c.cmd(bad)), /BAD/, bad);
  }
});

test('THREAD=REFERENCES: empty base subjects are not gathered, so (3 2)(1), not (1 3 2)', async () => {
  await append('Threads', crlf('Subject: Re:\nMessage-ID: <one@t.example>\nDate: Tue, 5 Mar 2024 10:00:00 +0000\n\n1\n'));
  await append('Threads', crlf('Subject: Re: Re: Re:\nMessage-ID: <two@t.example>\nIn-Reply-To: <three@t.example>\nDate: Wed, 6 Mar 2024 10:00:00 +0000\n\n2\n'));
  await append('Threads', crlf('Subject: Re: Re:\nMessage-ID: <three@t.example>\nDate: Mon, 4 Mar 2024 10:00:00 +0000\n\n3\n'));
  assert.match(tagged(await c.cmd('SELECT Threads')), /OK/);
  assert.equal(await answer('THREAD REFERENCES UTF-8 ALL'), '* THREAD (3 2)(1)');
  assert.equal(await answer('UID THREAD REFERENCES US-ASCII ALL'), '* THREAD (3 2)(1)');
  assert.equal(await answer('THREAD ORDEREDSUBJECT UTF-8 ALL'), '* THREAD (3 (1)(2))');
  assert.equal(await answer('THREAD REFERENCES UTF-8 SUBJECT nothing'), '* THREAD');
  assert.match(tagged(await c.cmd('THREAD BOGUS UTF-8 ALL')), /BAD/);
  assert.match(tagged(await c.cmd('THREAD REFERENCES X-UNKNOWN ALL')), /NO \[BADCHARSET/);
});

test('THREAD=REFERENCES: References before In-Reply-To, a dummy root takes the original by subject, normalised Message-IDs', async () => {
  await append('Threads2', crlf('Subject: Lunch\nMessage-ID: <l0@t.example>\nDate: Wed, 6 Mar 2024 10:00:00 +0000\n\n1\n'));
  await append('Threads2', crlf('Subject: Re: Lunch\nMessage-ID: <l2@t.example>\nReferences: <lost@t.example>\nIn-Reply-To: <l0@t.example>\nDate: Wed, 6 Mar 2024 11:00:00 +0000\n\n2\n'));
  await append('Threads2', crlf('Subject: Re: Lunch\nMessage-ID: <l3@t.example>\nReferences: <lost@t.example>\nDate: Wed, 6 Mar 2024 12:30:00 +0200\n\n3\n'));
  await append('Threads2', crlf('Subject: Other\nMessage-ID: <"q"@t.example>\nDate: Thu, 7 Mar 2024 10:00:00 +0000\n\n4\n'));
  await append('Threads2', crlf('Subject: Re: Other\nMessage-ID: <o5@t.example>\nReferences: <no-at-sign> <q@t.example>\nDate: Thu, 7 Mar 2024 09:00:00 -0500\n\n5\n'));
  assert.match(tagged(await c.cmd('SELECT Threads2')), /OK/);
  // 2 and 3 answer the lost message; "Lunch" joins their dummy; siblings by UTC date: 1 (10:00), 3 (10:30), 2 (11:00).
  assert.equal(await answer('THREAD REFERENCES UTF-8 ALL'), '* THREAD ((1)(3)(2))(4 5)');
  // Only the matching messages are threaded.
  assert.equal(await answer('THREAD REFERENCES UTF-8 2:5'), '* THREAD ((3)(2))(4 5)');
  assert.equal(await answer('THREAD ORDEREDSUBJECT UTF-8 ALL'), '* THREAD (1 (3)(2))(4 5)');
});



const PYTHON_SESSION = `
import imaplib, json, ssl, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
out = {}
m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
m.login(user, password)
out['caps'] = m.capability()[1][0].decode().split()
m.select('Sorts', readonly=True)
out['sort'] = m.sort('(REVERSE DATE)', 'UTF-8', 'ALL')[1][0].decode()
out['uid_sort'] = m.uid('SORT', '(DISPLAYFROM)', 'UTF-8', 'ALL')[1][0].decode()
typ, data = m._simple_command('SORT', 'RETURN', '(MIN MAX COUNT)', '(SUBJECT)', 'UTF-8', 'ALL')
out['esort'] = m._untagged_response(typ, data, 'ESEARCH')[1][0].decode()
m.select('Threads2', readonly=True)
out['thread'] = m.thread('REFERENCES', 'UTF-8', 'ALL')[1][0].decode()
out['uid_thread'] = m.uid('THREAD', 'ORDEREDSUBJECT', 'UTF-8', 'ALL')[1][0].decode()
m.logout()
print(json.dumps(out))
`;

test('Python imaplib: sort(), thread() and an ESORT command in a real client session', { skip: !have('python3') }, async () => {
  const script = path.join(h.dir, 'sort-session.py');
  writeFileSync(script, PYTHON_SESSION);
  const r = await runClient('python3', [script, String(h.tlsPort), USER, PASSWORD]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.ok((out.caps as string[]).includes('ESORT'));
  assert.equal(out.sort, '1 4 3 2 5');
  assert.equal(out.uid_sort, '3 4 2 1 5');
  assert.match(String(out.esort), /^\(TAG "[^"]+"\) MIN 3 MAX 4 COUNT 5$/);
  assert.equal(out.thread, '((1)(3)(2))(4 5)');
  assert.equal(out.uid_thread, '(1 (3)(2))(4 5)');
});
