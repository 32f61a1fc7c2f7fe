// IMAP4rev2 (RFC 9051) offered beside IMAP4rev1, over real TCP: the
// capabilities rev2 requires, what ENABLE IMAP4rev2 changes (UTF-8 names,
// ESEARCH, no \Recent, LIST in SELECT, [CLOSED]), STATUS DELETED, LIST's
// rev2 forms, and that a rev1 session in the same account keeps its ways.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startImapHarness, type ImapHarness } from './imap-harness.js';
import { RawImap, tagged } from './imap-raw-client.js';

let h: ImapHarness;

before(async () => {
  h = await startImapHarness();
});

after(async () => {
  await h.close();
});

const loggedIn = (): Promise<RawImap> => h.login();

async function rev2(): Promise<RawImap> {
  const c = await loggedIn();
  assert.match(await c.cmd('ENABLE IMAP4rev2'), /\* ENABLED IMAP4rev2\r\n/);
  return c;
}

function msg(subject: string, body = 'hello'): string {
  return `From: bob@remote.test\r\nTo: alice@example.test\r\nSubject: ${subject}\r\n\r\n${body}\r\n`;
}

async function append(c: RawImap, mailbox: string, message: string, flags = ''): Promise<string> {
  const tag = c.nextTag();
  c.write(`${tag} APPEND ${mailbox} ${flags ? `(${flags}) ` : ''}{${Buffer.byteLength(message)}+}\r\n${message}\r\n`);
  return c.waitFor(new RegExp(`${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`));
}

const REQUIRED = ['IMAP4rev2', 'IMAP4rev1', 'NAMESPACE', 'UNSELECT', 'UIDPLUS', 'ESEARCH', 'SEARCHRES', 'ENABLE', 'IDLE', 'SASL-IR',
  'LIST-EXTENDED', 'LIST-STATUS', 'MOVE', 'LITERAL+', 'BINARY', 'SPECIAL-USE', 'STATUS=SIZE', 'MULTIAPPEND'];

test('CAPABILITY offers IMAP4rev2 with every capability it requires (LITERAL+ covers LITERAL-)', async () => {
  const pre = await RawImap.connect(h.tlsPort, true);
  // RFC 9051 6.2: PLAIN over TLS before login.
  assert.match(await pre.cmd('CAPABILITY'), /\* CAPABILITY IMAP4rev1 IMAP4rev2 [^\r\n]*AUTH=PLAIN/);
  pre.close();
  const c = await loggedIn();
  const caps = (await c.cmd('CAPABILITY')).split('\r\n')[0]!.split(' ').slice(2);
  for (const cap of REQUIRED) assert.ok(caps.includes(cap), `missing ${cap} in ${caps.join(' ')}`);
  // The commands behind them answer.
  assert.match(await c.cmd('NAMESPACE'), /\* NAMESPACE \(\(""\s"\/"\)\) NIL NIL/);
  assert.match(await c.cmd('ENABLE IMAP4rev2 CONDSTORE X-UNKNOWN'), /\* ENABLED IMAP4rev2 CONDSTORE\r\n/);
  assert.match(await c.cmd('ENABLE IMAP4rev2'), /\* ENABLED\r\n/, 'enabled only once');
  c.close();
});

test('rev2 session: UTF-8 mailbox names, no \\Recent, LIST in SELECT, ESEARCH for SEARCH, [CLOSED]', async () => {
  const c = await rev2();
  assert.match(tagged(await c.cmd('CREATE "Café/Über"')), /OK/);
  const list = await c.cmd('LIST "" "Caf*"');
  assert.match(Buffer.from(list, 'latin1').toString('utf8'), /\* LIST \(\\HasChildren\) "\/" "Café"\r\n\* LIST \(\\HasNoChildren\) "\/" "Café\/Über"\r\n/);
  await append(c, '"Café"', msg('first', 'apple'), '\\Flagged');
  await append(c, '"Café"', msg('second', 'banana'));

  const sel = Buffer.from(await c.cmd('SELECT "Café"'), 'latin1').toString('utf8');
  assert.match(sel, /\* 2 EXISTS\r\n/);
  assert.match(sel, /\* LIST \(\) "\/" "Café"\r\n/);
  assert.doesNotMatch(sel, /RECENT|\[UNSEEN /);
  assert.match(sel, /OK \[UIDVALIDITY \d+\]/);
  assert.match(sel, /OK \[UIDNEXT 3\]/);
  assert.match(sel, /OK \[PERMANENTFLAGS /);
  assert.match(await c.cmd('FETCH 1:* FLAGS'), /\* 1 FETCH \(FLAGS \(\\Flagged\)\)\r\n\* 2 FETCH \(FLAGS \(\)\)\r\n/);

  assert.match(await c.cmd('SEARCH FLAGGED'), /\* ESEARCH \(TAG "t\d+"\) ALL 1\r\n/);
  assert.match(await c.cmd('UID SEARCH ALL'), /\* ESEARCH \(TAG "t\d+"\) UID ALL 1:2\r\n/);
  assert.match(await c.cmd('UID SEARCH DELETED'), /\* ESEARCH \(TAG "t\d+"\) UID\r\n/);
  assert.match(await c.cmd('SEARCH RETURN (COUNT) BODY banana'), /\* ESEARCH \(TAG "t\d+"\) COUNT 1\r\n/);
  assert.doesNotMatch(await c.cmd('SEARCH ALL'), /\* SEARCH/);

  assert.match(await c.cmd('STATUS INBOX (MESSAGES DELETED SIZE)'), /\* STATUS "INBOX" \(MESSAGES \d+ DELETED 0 SIZE \d+\)/);
  await c.cmd('STORE 2 +FLAGS (\\Deleted)');
  assert.match(Buffer.from(await c.cmd('STATUS "Café" (DELETED)'), 'latin1').toString('utf8'), /\* STATUS "Café" \(DELETED 1\)/);
  const again = await c.cmd('SELECT INBOX');
  assert.match(again, /^\* OK \[CLOSED\]/);
  assert.match(tagged(await c.cmd('UNSELECT')), /OK/);
  assert.match(tagged(await c.cmd('DELETE "Café/Über"')), /OK/);
  c.close();
});

test('LIST: \\NonExistent for a parent that only has children (\\Noselect in the rev1 form), RECURSIVEMATCH with CHILDINFO', async () => {
  const c = await loggedIn();
  assert.match(tagged(await c.cmd('CREATE Top/Mid/Leaf')), /OK/);
  assert.match(tagged(await c.cmd('DELETE Top/Mid')), /OK/);
  await c.cmd('UNSUBSCRIBE Top');
  // rev1 form: \Noselect
  assert.match(await c.cmd('LIST "" Top/%'), /\* LIST \(\\Noselect \\HasChildren\) "\/" "Top\/Mid"\r\n/);
  // extended form: \NonExistent (which implies \NoSelect)
  assert.match(await c.cmd('LIST () "" Top/%'), /\* LIST \(\\NonExistent\) "\/" "Top\/Mid"\r\n/);
  assert.match(await c.cmd('LIST "" (Top/%) RETURN (CHILDREN)'), /\* LIST \(\\NonExistent \\HasChildren\) "\/" "Top\/Mid"\r\n/);
  // SUBSCRIBED selection: \Subscribed is returned; RECURSIVEMATCH reports the unsubscribed parent's subscribed child.
  const subs = await c.cmd('LIST (SUBSCRIBED) "" "Top*"');
  assert.match(subs, /\* LIST \(\\Subscribed\) "\/" "Top\/Mid\/Leaf"\r\n/);
  assert.doesNotMatch(subs, /"Top"\r\n/);
  const rec = await c.cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" %');
  assert.match(rec, /\* LIST \(\) "\/" "Top" \(CHILDINFO \("SUBSCRIBED"\)\)\r\n/);
  assert.match(rec, /\* LIST \(\\Subscribed\) "\/" "INBOX"\r\n/);
  assert.match(tagged(await c.cmd('LIST (RECURSIVEMATCH) "" %')), /BAD/);
  // A rev2 session gets \NonExistent in the plain form too; LSUB still answers a rev1 session.
  const r = await rev2();
  assert.match(await r.cmd('LIST "" Top/%'), /\* LIST \(\\NonExistent \\HasChildren\) "\/" "Top\/Mid"\r\n/);
  assert.match(await c.cmd('LSUB "" Top/*'), /\* LSUB \(\) "\/" "Top\/Mid\/Leaf"\r\n/);
  c.close();
  r.close();
});

test('a rev1 session beside a rev2 one keeps SEARCH, RECENT and modified UTF-7 names', async () => {
  const r = await rev2();
  const c = await loggedIn();
  assert.match(tagged(await r.cmd('CREATE "Grüße"')), /OK/);
  assert.match(await c.cmd('LIST "" "Gr*"'), /\* LIST \(\\HasNoChildren\) "\/" "Gr&APwA3w-e"\r\n/);
  await append(c, '"Gr&APwA3w-e"', msg('x'));
  const sel = await c.cmd('SELECT "Gr&APwA3w-e"');
  assert.match(sel, /\* 1 RECENT\r\n/);
  assert.match(sel, /\* OK \[UNSEEN 1\]/);
  assert.doesNotMatch(sel, /\* LIST/);
  assert.match(await c.cmd('SEARCH RECENT'), /\* SEARCH 1\r\n/);
  assert.match(await c.cmd('FETCH 1 FLAGS'), /FLAGS \(\\Recent\)/);
  // The rev2 session selecting it afterwards sees neither the count nor the flag.
  const sel2 = Buffer.from(await r.cmd('EXAMINE "Grüße"'), 'latin1').toString('utf8');
  assert.doesNotMatch(sel2, /RECENT/);
  assert.match(await r.cmd('FETCH 1 FLAGS'), /FLAGS \(\)/);
  c.close();
  r.close();
});
