// METADATA (RFC 5464): the same GETMETADATA/SETMETADATA conversations
// against Postino and a scratch Dovecot 2.3 with imap_metadata = yes and a
// file dict; statuses, response codes and METADATA responses must agree.
// Dovecot lists the entries of one response in its dict's order: the pairs
// of a METADATA response are compared sorted by name. Differences kept out
// on purpose (see src/protocol/imap/commands/metadata.ts): DEPTH on the
// server's entries (Dovecot finds none), an entry asked for twice (Dovecot
// repeats it), arguments after SETMETADATA's list, and Postino's limits.
// Dovecot must be installed (dovecot-imapd): its absence is a failure.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startImapHarness, USER, PASSWORD, type ImapHarness } from '../integration/imap-harness.js';
import { startDovecotLmtp, type RunningDovecot } from '../support/dovecot-lmtp.js';
import { runScenario, type Scenario, type Step } from '../support/imap-differential.js';

let postino: ImapHarness;
let dovecot: RunningDovecot;

before(async () => {
  postino = await startImapHarness();
  dovecot = await startDovecotLmtp({
    users: [USER],
    password: PASSWORD,
    extraConf: 'namespace inbox {\n  inbox = yes\n  separator = /\n}\nimap_metadata = yes\nmail_attribute_dict = file:%h/dovecot-attributes\n',
  });
});

after(async () => {
  await postino?.close();
  await dovecot?.stop();
});

/** The pairs of a METADATA response sorted by entry name; other lines as they are. */
function sortMetadataPairs(line: string): string {
  const head = /^\* METADATA (?:"(?:[^"\\]|\\.)*"|[^ ]+) \(/.exec(line);
  if (!head || !line.endsWith(')')) return line;
  const body = line.slice(head[0].length, -1);
  const pairs: string[] = [];
  let i = 0;
  while (i < body.length) {
    const start = i;
    if (body[i] === '"') {
      i++;
      while (i < body.length && body[i] !== '"') i += body[i] === '\\' ? 2 : 1;
      i++;
    } else {
      while (i < body.length && body[i] !== ' ') i++;
    }
    i++; // the space before the value
    const lit = /^\{(\d+)\}\r\n/.exec(body.slice(i, i + 24));
    if (lit) i += lit[0].length + Number(lit[1]);
    else if (body.startsWith('NIL', i)) i += 3;
    else return line; // not a shape this test knows: compared as is
    pairs.push(body.slice(start, i));
    i++; // the space before the next entry
  }
  return head[0] + pairs.sort().join(' ') + ')';
}

/** One compared step ("cmd => untagged | untagged || tagged") with its METADATA pairs sorted. */
function canonical(step: string): string {
  const arrow = step.indexOf(' => ');
  const bar = step.lastIndexOf(' || ');
  const untagged = step.slice(arrow + 4, bar);
  const lines = untagged === '' ? [] : untagged.split(' | ');
  return step.slice(0, arrow + 4) + lines.map(sortMetadataPairs).join(' | ') + step.slice(bar);
}

async function compare(sc: Scenario): Promise<void> {
  const ours = (await runScenario({ port: postino.tlsPort, secure: true, user: USER, password: PASSWORD }, sc)).map(canonical);
  const theirs = (await runScenario({ port: dovecot.imapPort, secure: false, user: USER, password: PASSWORD }, sc)).map(canonical);
  assert.deepEqual(ours, theirs, `${sc.name}: Postino (actual) and Dovecot (expected) differ`);
}

/** A LITERAL+ literal inside a command line (both servers announce LITERAL+); ASCII only (the harness writes text). */
const lit = (s: string, eight = false) => `${eight ? '~' : ''}{${Buffer.byteLength(s, 'latin1')}+}\r\n${s}`;
/** Resets the run of BAD replies (Postino ends a session after ten in a row). */
const noop: Step = { cmd: 'NOOP', quiet: true };

test('server and mailbox entries, /private and /shared apart, set, replace and remove (RFC 5464 4.2, 4.3)', async () => {
  await compare({
    name: 'entries',
    steps: [
      { cmd: 'GETMETADATA "" /private/comment' },
      { cmd: 'GETMETADATA INBOX /private/comment' },
      { cmd: 'SETMETADATA "" (/private/comment "server private")' },
      { cmd: 'GETMETADATA "" (/private/comment /shared/comment /shared/admin)' },
      { cmd: 'GETMETADATA INBOX (/private/comment /shared/comment)' },
      { cmd: 'SETMETADATA "" (/shared/comment "Shared comment")' },
      { cmd: 'SETMETADATA "" (/private/comment "changed" /shared/comment "x")' },
      { cmd: 'SETMETADATA "" (/shared/comment NIL)' },
      { cmd: 'GETMETADATA "" /private/comment' },
      { cmd: 'SETMETADATA INBOX (/private/comment "My own comment" /shared/comment "Its sunny outside!")' },
      { cmd: 'GETMETADATA INBOX (/private/comment /shared/comment)' },
      { cmd: 'GETMETADATA "INBOX" /shared/comment' },
      { cmd: 'GETMETADATA inbox /private/comment' },
      { cmd: `SETMETADATA INBOX (/private/comment ${lit('My new comment across\r\ntwo lines.')})` },
      { cmd: 'GETMETADATA INBOX /private/comment' },
      { cmd: 'SETMETADATA INBOX (/private/comment NIL)' },
      { cmd: 'GETMETADATA INBOX (/private/comment /shared/comment)' },
      { cmd: 'CREATE "Meta Box"', quiet: true },
      { cmd: 'GETMETADATA "Meta Box" /private/comment' },
      { cmd: 'SETMETADATA "Meta Box" (/private/comment "in a box" /shared/vendor/vendor.example/x "y")' },
      { cmd: 'GETMETADATA "Meta Box" (/private/comment /shared/vendor/vendor.example/x)' },
      { cmd: 'GETMETADATA "meta box" /private/comment' },
      { cmd: 'GETMETADATA Nowhere /private/comment' },
      { cmd: 'SETMETADATA Nowhere (/private/comment "x")' },
      { cmd: 'SETMETADATA "" (/private/comment NIL)' },
      { cmd: 'SETMETADATA INBOX (/shared/comment NIL)' },
      { cmd: 'DELETE "Meta Box"', quiet: true },
    ],
  });
});

test('DEPTH 0, 1 and infinity; MAXSIZE with LONGENTRIES (RFC 5464 4.2.1, 4.2.2)', async () => {
  await compare({
    name: 'depth',
    steps: [
      { cmd: 'CREATE Deep', quiet: true },
      { cmd: 'SETMETADATA Deep (/private/a "1" /private/a/b "2" /private/a/b/c "3" /private/ab "4" /private/comment "a longer comment" /shared/comment "shared one")' },
      { cmd: 'GETMETADATA Deep /private/a' },
      { cmd: 'GETMETADATA (DEPTH 0) Deep /private/a' },
      { cmd: 'GETMETADATA (DEPTH 1) Deep /private/a' },
      { cmd: 'GETMETADATA (DEPTH infinity) Deep /private/a' },
      { cmd: 'GETMETADATA (DEPTH 1) Deep /private' },
      { cmd: 'GETMETADATA (DEPTH infinity) Deep /private' },
      { cmd: 'GETMETADATA (DEPTH infinity) Deep (/private /shared)' },
      { cmd: 'GETMETADATA (DEPTH 1) Deep /shared' },
      { cmd: 'GETMETADATA (DEPTH 0) Deep /shared' },
      { cmd: 'GETMETADATA (DEPTH 1) Deep /private/nothing' },
      { cmd: 'GETMETADATA (DEPTH 1) Deep (/private/nothing /private/comment)' },
      { cmd: 'GETMETADATA (DEPTH 0) Deep (/private/nothing /private/comment)' },
      { cmd: 'GETMETADATA (MAXSIZE 1) Deep (/private/a /private/comment /private/ab)' },
      { cmd: 'GETMETADATA (MAXSIZE 10) Deep (/private/nothing /private/comment /shared/comment)' },
      { cmd: 'GETMETADATA (DEPTH 1 MAXSIZE 0) Deep /private' },
      { cmd: 'GETMETADATA (MAXSIZE 1 DEPTH infinity) Deep /private' },
      { cmd: 'GETMETADATA (maxsize 100 depth 1) Deep /private/a' },
      { cmd: 'GETMETADATA (MAXSIZE 16) Deep /private/comment' },
      { cmd: 'GETMETADATA () Deep /private/a' },
      { cmd: 'GETMETADATA Deep ()' },
      { cmd: 'DELETE Deep', quiet: true },
    ],
  });
});

test('entry names and values: RFC 5464 3.2 rules, case, quoting; nstring, atom, literal and literal8 values', async () => {
  await compare({
    name: 'syntax',
    steps: [
      { cmd: 'CREATE Syn', quiet: true },
      ...['/private/comment/', '/private//comment', '/private/*', '/private/%', '/foo/comment', 'comment', '/privatex', '/', '""', 'NIL'].flatMap((bad): Step[] => [
        { cmd: `GETMETADATA Syn ${bad}` },
        { cmd: `SETMETADATA Syn (${bad} "v")` },
        noop,
      ]),
      { cmd: 'GETMETADATA (DEPTH 2) Syn /private' },
      { cmd: 'GETMETADATA (DEPTH INFINITY) Syn /private' },
      { cmd: 'GETMETADATA (DEPTH "1") Syn /private' },
      { cmd: 'GETMETADATA (DEPTH) Syn /private' },
      noop,
      { cmd: 'GETMETADATA (MAXSIZE x) Syn /private' },
      { cmd: 'GETMETADATA (MAXSIZE 4294967296) Syn /private' },
      { cmd: 'GETMETADATA (FOO 1) Syn /private' },
      { cmd: 'GETMETADATA Syn' },
      noop,
      { cmd: 'GETMETADATA Syn /private/a /private/b' },
      { cmd: 'SETMETADATA Syn (/private/x)' },
      { cmd: 'SETMETADATA Syn (/private/x "1" /private/y)' },
      { cmd: 'SETMETADATA Syn (/private/x ("v"))' },
      noop,
      { cmd: 'SETMETADATA Syn /private/x "1"' },
      { cmd: 'SETMETADATA Syn ()' },
      { cmd: 'SETMETADATA Syn (/Private/Comment "upper")' },
      { cmd: 'GETMETADATA Syn /PRIVATE/COMMENT' },
      { cmd: 'SETMETADATA Syn ("/private/A b" "sp")' },
      { cmd: 'GETMETADATA Syn "/private/a B"' },
      { cmd: `GETMETADATA Syn ${lit('/private/a b')}` },
      { cmd: 'SETMETADATA Syn (/private/n 123 /private/m atom)' },
      { cmd: 'GETMETADATA Syn (/private/n /private/m)' },
      { cmd: 'SETMETADATA Syn (/private/x "a" /private/x "b")' },
      { cmd: 'GETMETADATA Syn /private/x' },
      { cmd: 'SETMETADATA Syn (/private/x "")' },
      { cmd: 'GETMETADATA Syn /private/x' },
      { cmd: `SETMETADATA Syn (${lit('/private/lit')} ${lit('from a literal')})` },
      { cmd: 'GETMETADATA Syn /private/lit' },
      { cmd: `SETMETADATA Syn (/private/bin ${lit('binary ok', true)})` },
      { cmd: 'GETMETADATA Syn /private/bin' },
      { cmd: `SETMETADATA Syn (/private/bin ${lit('nul\x00here', true)})` },
      { cmd: 'GETMETADATA Syn /private/bin' },
      { cmd: 'SETMETADATA Syn (/private/quote "say \\"hi\\" \\\\ bye")' },
      { cmd: 'GETMETADATA Syn /private/quote' },
      { cmd: 'DELETE Syn', quiet: true },
    ],
  });
});

test('RENAME keeps a mailbox\'s entries (children too); DELETE takes them away', async () => {
  await compare({
    name: 'rename',
    steps: [
      // Both make the parent a mailbox of its own (Dovecot's Maildir++ would leave it implied by Par/Kid).
      { cmd: 'CREATE Par', quiet: true },
      { cmd: 'CREATE Par/Kid', quiet: true },
      { cmd: 'SETMETADATA Par (/private/comment "parent")' },
      { cmd: 'SETMETADATA Par/Kid (/private/comment "kid" /shared/comment "shared kid")' },
      { cmd: 'RENAME Par Top', quiet: true },
      { cmd: 'GETMETADATA Top /private/comment' },
      { cmd: 'GETMETADATA Top/Kid (/private/comment /shared/comment)' },
      { cmd: 'GETMETADATA Par/Kid /private/comment' },
      { cmd: 'DELETE Top/Kid', quiet: true },
      { cmd: 'CREATE Top/Kid', quiet: true },
      { cmd: 'GETMETADATA Top/Kid (/private/comment /shared/comment)' },
      { cmd: 'GETMETADATA (DEPTH infinity) Top/Kid /private' },
      { cmd: 'SELECT Top', quiet: true },
      { cmd: 'SETMETADATA Top (/private/selected "yes")' },
      { cmd: 'GETMETADATA Top /private/selected' },
      { cmd: 'CLOSE', quiet: true },
      { cmd: 'DELETE Top/Kid', quiet: true },
      { cmd: 'DELETE Top', quiet: true },
    ],
  });
});

test('sortMetadataPairs: pairs with literals and NIL sorted by name; other lines untouched', () => {
  assert.equal(
    sortMetadataPairs('* METADATA INBOX (/private/b {1}\r\nx /private/a NIL "/private/a b" {2}\r\nab)'),
    '* METADATA INBOX ("/private/a b" {2}\r\nab /private/a NIL /private/b {1}\r\nx)',
  );
  assert.equal(sortMetadataPairs('* OK [X] y'), '* OK [X] y');
});
