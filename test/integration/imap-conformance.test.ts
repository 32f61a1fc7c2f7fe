// RFC corner cases whose answers hold numbers only Postino chose, so the
// Dovecot differential (test/conformance/imap-dovecot-differential.test.ts)
// cannot compare them: the MODSEQ that SEARCH RETURN (MIN/MAX) reports, and
// the UIDVALIDITY of a mailbox deleted and created again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startImapHarness, type ImapHarness } from './imap-harness.js';
import { tagged, type RawImap } from './imap-raw-client.js';

let h: ImapHarness;
before(async () => {
  h = await startImapHarness();
});
after(async () => {
  await h.close();
});

async function append(c: RawImap, box: string, subject: string): Promise<void> {
  const m = `Subject: ${subject}\r\n\r\nbody\r\n`;
  assert.match(tagged(await c.cmd(`APPEND ${box} {${m.length}+}\r\n${m}`)), /OK/);
}

test('SEARCH RETURN (MIN) / (MAX) with a MODSEQ criterion gives the MODSEQ of the message returned (RFC 7162 3.1.5)', async () => {
  const c = await h.login();
  await c.cmd('CREATE ModVals');
  for (const s of ['a', 'b', 'c']) await append(c, 'ModVals', s);
  await c.cmd('SELECT ModVals');
  // Give message 1 the highest MODSEQ, so MIN's differs from the mailbox's highest.
  await c.cmd('STORE 3 +FLAGS (\\Seen)');
  await c.cmd('STORE 1 +FLAGS (\\Flagged)');
  const fetched = await c.cmd('FETCH 1:3 (MODSEQ)');
  const modseq = (seq: number) => Number(new RegExp(`\\* ${seq} FETCH \\(MODSEQ \\((\\d+)\\)\\)`).exec(fetched)![1]);
  assert.ok(modseq(1) > modseq(3) && modseq(3) > modseq(2));
  const min = await c.cmd('SEARCH RETURN (MIN) MODSEQ 1');
  assert.match(min, new RegExp(`\\* ESEARCH \\(TAG "[^"]+"\\) MIN 1 MODSEQ ${modseq(1)}\\r\\n`));
  const max = await c.cmd('SEARCH RETURN (MAX) MODSEQ 1');
  assert.match(max, new RegExp(`\\* ESEARCH \\(TAG "[^"]+"\\) MAX 3 MODSEQ ${modseq(3)}\\r\\n`));
  const unflagged = await c.cmd('SEARCH RETURN (MIN MAX) UNFLAGGED MODSEQ 1');
  assert.match(unflagged, new RegExp(`MIN 2 MAX 3 MODSEQ ${modseq(3)}\\r\\n`));
  const all = await c.cmd('SEARCH RETURN (COUNT) MODSEQ 1');
  assert.match(all, new RegExp(`COUNT 3 MODSEQ ${modseq(1)}\\r\\n`));
  c.close();
});

test('a mailbox deleted and created again gets a strictly larger UIDVALIDITY and UIDNEXT 1, even within the same second (RFC 3501 2.3.1.1)', async () => {
  const c = await h.login();
  const validity = (r: string) => Number(/UIDVALIDITY (\d+)/.exec(r)![1]);
  const seen: number[] = [];
  for (let round = 0; round < 5; round++) {
    assert.match(tagged(await c.cmd('CREATE Again')), /OK/);
    await append(c, 'Again', `round ${round}`);
    const r = await c.cmd('SELECT Again');
    assert.match(r, /\* OK \[UIDNEXT 2\]/);
    assert.match(await c.cmd('FETCH 1 UID'), /\* 1 FETCH \(UID 1\)/, 'UIDs start again at 1');
    seen.push(validity(r));
    await c.cmd('UNSELECT');
    assert.match(tagged(await c.cmd('DELETE Again')), /OK/);
  }
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `UIDVALIDITY ${seen[i]} after ${seen[i - 1]}`);
  // Also after the highest UIDVALIDITY of the account was the deleted one's, and across a restart of the store.
  const status = await c.cmd('STATUS Again (UIDVALIDITY)');
  assert.match(tagged(status), /NO/);
  assert.match(tagged(await c.cmd('CREATE Again')), /OK/);
  const last = Number(/UIDVALIDITY (\d+)/.exec(await c.cmd('STATUS Again (UIDVALIDITY)'))![1]);
  assert.ok(last > seen[seen.length - 1]!);
  c.close();
});

test('CATENATE refuses with BADURL what names no message of this user, and TOOBIG past APPENDLIMIT', async () => {
  const c = await h.login();
  await c.cmd('CREATE CatOwn');
  await append(c, 'CatOwn', 'source');
  const validity = Number(/UIDVALIDITY (\d+)/.exec(await c.cmd('STATUS CatOwn (UIDVALIDITY)'))![1]);
  assert.match(tagged(await c.cmd(`APPEND CatOwn CATENATE (URL "/CatOwn;UIDVALIDITY=${validity}/;UID=1")`)), /OK \[APPENDUID/);
  for (const url of [`/CatOwn;UIDVALIDITY=${validity + 1}/;UID=1`, 'imap://mallory@localhost/CatOwn/;UID=1', 'nonsense', '/CatOwn/;UID=1/;SECTION=BOGUS']) {
    assert.equal(tagged(await c.cmd(`APPEND CatOwn CATENATE (URL "${url}")`)).split(' [')[1]?.split(']')[0], `BADURL ${url}`);
  }
  // An absolute URL naming this user works.
  assert.match(tagged(await c.cmd(`APPEND CatOwn CATENATE (URL "imap://${encodeURIComponent('alice@example.test')}@localhost/CatOwn/;UID=1")`)), /OK/);
  // Ten copies of a 1 MB message in one CATENATE pass the harness's 10 MB limit: TOOBIG, nothing stored.
  const big = `Subject: big\r\n\r\n${'x'.repeat(1024 * 1024)}\r\n`;
  assert.match(tagged(await c.cmd(`APPEND CatOwn {${big.length}+}\r\n${big}`)), /OK/);
  const count = async () => /MESSAGES (\d+)/.exec(await c.cmd('STATUS CatOwn (MESSAGES)'))![1];
  const before = await count();
  const urls = Array.from({ length: 11 }, () => 'URL "/CatOwn/;UID=4"').join(' ');
  assert.match(tagged(await c.cmd(`APPEND CatOwn CATENATE (${urls})`, 20_000)), /NO \[TOOBIG\]/);
  assert.equal(await count(), before);
  c.close();
});
