// Each extension's RFC examples, as tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { actions, errorText, matches, run, summary } from './helpers.js';

test('fileinto (RFC 5228 4.1) and copy (RFC 3894)', () => {
  assert.deepEqual(actions('require ["copy", "fileinto"]; fileinto :copy "incoming";'), ['fileinto incoming :copy', 'implicit-keep']);
  assert.deepEqual(actions('require ["copy"]; redirect :copy "sysadmin@example.com";'), ['redirect sysadmin@example.com :copy', 'implicit-keep']);
  // RFC 3894 section 4: fileinto :copy + redirect
  const s = 'require ["copy", "fileinto"]; if header :contains "subject" "present" { redirect :copy "root@example.com"; fileinto "Presents"; }';
  assert.deepEqual(actions(s), ['redirect root@example.com :copy', 'fileinto Presents']);
  // A folder name no mailbox can have is an action like any other, as in Pigeonhole (its store fails when
  // delivery carries it out: that copy goes to INBOX), and the script goes on.
  for (const [name, stored] of [['', ''], ['a${hex:01}b', 'a\x01b'], ['a\tb', 'a\tb']]) {
    const r = run(`require ["fileinto", "encoded-character"]; fileinto "${name}"; fileinto "next";`);
    assert.equal(r.errors, undefined, JSON.stringify(name));
    assert.deepEqual(summary(r.actions), [`fileinto ${stored}`, 'fileinto next']);
  }
});

test('reject and ereject (RFC 5429)', () => {
  const msg = 'From: someone.i.hate@example.com\nSubject: I am a spammer\n\nx';
  assert.deepEqual(actions('require ["reject"]; if header :contains "subject" "I am a spammer" { reject "I don\'t want your spam"; }', msg), [
    "reject I don't want your spam",
  ]);
  assert.deepEqual(actions('require ["ereject"]; if address "from" "someone.i.hate@example.com" { ereject "I no longer accept mail from you"; }', msg), [
    'ereject I no longer accept mail from you',
  ]);
  // reject cancels the implicit keep but cannot follow a delivering action
  const r = run('require ["reject", "fileinto"]; fileinto "x"; reject "no";', msg);
  assert.ok(r.errors);
  assert.deepEqual(summary(r.actions), ['implicit-keep']);
  assert.deepEqual(actions('require "reject"; discard; reject "no";', msg), ['discard', 'reject no']);
});

test('relational (RFC 5231) examples', () => {
  const msg = [
    'Received: ...',
    'Received: ...',
    'Subject: example',
    'To: foo@example.com, baz@example.com',
    'CC: qux@example.com',
    'X-Priority: 1',
    '',
    'x',
  ].join('\n');
  const req = ['relational', 'comparator-i;ascii-numeric'];
  assert.equal(matches('address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"]', msg, req), true);
  assert.equal(matches('anyof ( address :count "ge" :comparator "i;ascii-numeric" ["to"] ["3"], address :count "ge" :comparator "i;ascii-numeric" ["cc"] ["3"] )', msg, req), false);
  assert.equal(matches('header :count "ge" :comparator "i;ascii-numeric" ["received"] ["3"]', msg, req), false);
  assert.equal(matches('header :count "ge" :comparator "i;ascii-numeric" ["received", "subject"] ["3"]', msg, req), true);
  assert.equal(matches('header :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"]', msg, req), false);
  assert.equal(matches('header :value "lt" :comparator "i;ascii-numeric" ["x-priority"] ["3"]', msg, req), true);
  assert.equal(matches('header :value "gt" :comparator "i;ascii-numeric" ["x-missing"] ["3"]', msg, req), false);
  assert.equal(matches('address :value "gt" :all :comparator "i;ascii-casemap" ["from"] ["M"]', 'From: zed@example.com\n\nx', req), true);
});

test('subaddress (RFC 5233) examples', () => {
  const s = `require ["envelope", "subaddress", "fileinto"];
if envelope :user "to" "postmaster" { fileinto "inbox.postmaster"; stop; }
if envelope :detail :is "to" "mta-filters" { fileinto "inbox.ietf-mta-filters"; stop; }
if envelope :detail :is "to" "" { fileinto "inbox.empty"; stop; }
if not envelope :detail :matches "to" "*" { fileinto "inbox.nodetail"; }`;
  assert.deepEqual(actions(s, undefined, { to: 'postmaster+x@example.com' }), ['fileinto inbox.postmaster']);
  assert.deepEqual(actions(s, undefined, { to: 'ken+mta-filters@example.org' }), ['fileinto inbox.ietf-mta-filters']);
  assert.deepEqual(actions(s, undefined, { to: 'ken+@example.org' }), ['fileinto inbox.empty']);
  assert.deepEqual(actions(s, undefined, { to: 'ken@example.org' }), ['fileinto inbox.nodetail']);
});

test('vacation (RFC 5230) examples', () => {
  const s = `require "vacation";
if header :contains "subject" "cyrus" { vacation "I'm out -- send mail to cyrus-bugs"; }
else { vacation "I'm out -- call me at 555-1212"; }`;
  assert.deepEqual(actions(s, 'Subject: cyrus\n\nx'), ["vacation 604800 I'm out -- send mail to cyrus-bugs", 'implicit-keep']);
  const s2 = `require "vacation";
vacation :days 23 :addresses ["tjs@example.edu", "ts4z@landru.example.edu"] "I'm away until October 19.
If it's an emergency, call 911, I guess." ;`;
  const r = run(s2);
  const v = r.actions[0];
  assert.equal(v?.type, 'vacation');
  if (v?.type === 'vacation') {
    assert.equal(v.seconds, 23 * 86400);
    assert.deepEqual(v.addresses, ['tjs@example.edu', 'ts4z@landru.example.edu']);
  }
  const s3 = `require "vacation";
if header :matches "subject" "*" { vacation :subject "Automatic response to: \${1}" "I'm away"; }`;
  assert.equal(run(s3).actions[0]?.type, 'vacation');
  assert.deepEqual(actions('require "vacation"; vacation :days 1000 :from "me@example.com" :mime :handle "h" "x";'), [
    'vacation 86400000 from=me@example.com x',
    'implicit-keep',
  ]);
  const dup = run('require "vacation"; vacation "a"; vacation "b";');
  assert.ok(dup.errors, 'two vacation actions are an error');
});

test('vacation-seconds (RFC 6131)', () => {
  const s = `require ["vacation", "vacation-seconds"];
vacation :seconds 1800 :subject "Going out" text:
I am out for a while.
.
;`;
  assert.deepEqual(actions(s), ['vacation 86400 subject=Going out I am out for a while.\r\n', 'implicit-keep']);
  assert.deepEqual(actions(s, undefined, { host: { vacation: { minSeconds: 0 } } })[0], 'vacation 1800 subject=Going out I am out for a while.\r\n');
  const r = run('require ["vacation"]; vacation "x";');
  assert.equal(r.actions[0]?.type, 'vacation');
});

test('vacation-seconds alone makes vacation available (RFC 6131 3, as Pigeonhole)', () => {
  assert.deepEqual(actions('require "vacation-seconds";\nvacation :seconds 90000 "x";'), ['vacation 90000 x', 'implicit-keep']);
  assert.deepEqual(actions('require "vacation-seconds";\nvacation :days 2 "x";'), ['vacation 172800 x', 'implicit-keep']);
  assert.deepEqual(actions('require ["ihave"];\nif ihave "vacation-seconds" { vacation :seconds 90000 "x"; }'), ['vacation 90000 x', 'implicit-keep']);
  // The other way round it does not hold: vacation alone has no :seconds.
  assert.equal(errorText('require "vacation";\nvacation :seconds 60 "x";'), '2:10: :seconds used without require "vacation-seconds"');
});

test('imap4flags (RFC 5232 5): :flags gives exactly the listed flags to that copy, never the internal variable as well', () => {
  const req = 'require ["imap4flags", "fileinto", "copy", "variables"];\n';
  assert.deepEqual(actions(`${req}setflag "\\\\Seen";\nfileinto :flags "$Work" "A";\nkeep :flags "Junk";\nfileinto "B";`), [
    'fileinto A [$Work]',
    'keep [Junk]',
    'fileinto B [\\Seen]',
  ]);
  assert.deepEqual(actions(`${req}addflag ["\\\\Seen", "Two"];\nfileinto :flags ["$Work", "\\\\Flagged"] "A";\nfileinto :flags "" "C";\nkeep;`), [
    'fileinto A [$Work \\Flagged]',
    'fileinto C',
    'keep [\\Seen Two]',
  ]);
  // The same mailbox twice is one store, with the flags of the last one (as Pigeonhole), not a union.
  assert.deepEqual(actions(`${req}setflag "\\\\Seen";\nfileinto :flags "$Work" "A";\nfileinto "A";`), ['fileinto A [\\Seen]']);
  assert.deepEqual(actions(`${req}setflag "\\\\Seen";\nfileinto "A";\nfileinto :flags "$Work" "A";`), ['fileinto A [$Work]']);
  assert.deepEqual(actions(`${req}setflag "\\\\Seen";\nkeep;\nkeep :flags "Junk";`), ['keep [Junk]']);
  assert.deepEqual(actions(`${req}fileinto :flags "X" "A";\nfileinto "A";`), ['fileinto A']);
  assert.deepEqual(actions(`${req}setflag "X";\nfileinto "A";\nsetflag "Y";\nfileinto "A";`), ['fileinto A [Y]']);
  assert.deepEqual(actions(`${req}fileinto :copy :flags "K" "A";\nfileinto :flags "L" "A";`), ['fileinto A [L] :copy', 'implicit-keep']);
  // The implicit keep carries the internal variable at the end; an explicit :flags copy does not change it.
  assert.deepEqual(actions(`${req}setflag "Y";\nfileinto :copy :flags "K" "INBOX";`), ['fileinto INBOX [K] :copy', 'implicit-keep [Y]']);
  assert.deepEqual(actions(`${req}set "f" "V W";\nfileinto :flags "\${f}" "A";\naddflag "Z";\nkeep :flags ["\\\\Seen", "\${f}"];`), [
    'fileinto A [V W]',
    'keep [\\Seen V W]',
  ]);
});

test('imap4flags (RFC 5232) examples', () => {
  const s1 = `require ["imap4flags", "fileinto", "variables"];
if header :contains "from" "boss@frobnitzm.example.edu" {
  setflag "flagvar" "\\\\Flagged";
  fileinto :flags "\${flagvar}" "INBOX.From Boss";
}`;
  assert.deepEqual(actions(s1, 'From: boss@frobnitzm.example.edu\n\nx'), ['fileinto INBOX.From Boss [\\Flagged]']);
  const s2 = `require ["imap4flags"];
if size :over 1 { addflag "\\\\Deleted"; }
if header :contains "subject" "present" { addflag ["\\\\Seen", "Junk"]; removeflag "\\\\Deleted"; }`;
  assert.deepEqual(actions(s2), ['implicit-keep [\\Seen Junk]']);
  const s3 = `require ["imap4flags", "relational", "comparator-i;ascii-numeric", "fileinto"];
addflag "A B c";
if hasflag :count "ge" :comparator "i;ascii-numeric" "3" { fileinto "three"; }
if hasflag :is "b" { keep; }
if hasflag :contains "xyz" { discard; }`;
  assert.deepEqual(actions(s3), ['fileinto three [A B c]', 'keep [A B c]']);
  assert.deepEqual(actions('require "imap4flags"; keep :flags "\\\\Seen";'), ['keep [\\Seen]']);
  assert.deepEqual(actions('require "imap4flags"; addflag "x"; setflag "y z"; keep;'), ['keep [y z]']);
});

test('body (RFC 5173) examples', () => {
  const mp = [
    'From: a@b.c',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="XX"',
    '',
    '--XX',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'The missile coordinates are =E2=9C=93 secret.',
    '--XX',
    'Content-Type: audio/mp3',
    'Content-Transfer-Encoding: base64',
    '',
    'AAAA',
    '--XX',
    'Content-Type: text/html',
    '',
    '<p>project <b>schedule</b></p>',
    '--XX--',
    '',
  ].join('\n');
  assert.deepEqual(actions('require "body"; if body :raw :contains "MAKE MONEY FAST" { discard; }', 'Subject: x\n\nMAKE MONEY FAST\n'), ['discard']);
  assert.equal(matches('body :content "text" :contains ["missile", "coordinates"]', mp, ['body']), true);
  assert.equal(matches('body :content "audio/mp3" :contains ""', mp, ['body']), true);
  assert.equal(matches('body :content "video" :contains ""', mp, ['body']), false);
  assert.equal(matches('body :text :contains "project schedule"', mp, ['body']), true);
  assert.equal(matches('body :contains "✓"', mp, ['body']), true);
  assert.equal(matches('body :raw :contains "=E2=9C=93"', mp, ['body']), true);
  assert.equal(matches('body :raw :contains "✓"', mp, ['body']), false);
});

test('variables (RFC 5229) examples', () => {
  const s = `require ["variables", "fileinto"];
set "honorific" "Mr";
set "first_name" "Joe";
set "last_name" "Doe";
set "vacation" text:
Dear \${HONORIFIC} \${last_name},
I'm out, please leave a message after the meep.
.
;
if string :matches "\${vacation}" "Dear Mr Doe,?\nI'm out, please leave a message after the meep.?\n" { fileinto "ok"; }`;
  assert.deepEqual(actions(s), ['fileinto ok']);
  const mods: Array<[string, string]> = [
    [':length', '15'],
    [':lower', 'jumbled letters'],
    [':upper', 'JUMBLED LETTERS'],
    [':lowerfirst', 'juMBlEd lETteRS'],
    [':upperfirst', 'JuMBlEd lETteRS'],
    [':upperfirst :lower', 'Jumbled letters'],
  ];
  for (const [m, want] of mods) {
    const r = actions(`require ["variables", "fileinto"]; set "a" "juMBlEd lETteRS"; set ${m} "b" "\${a}"; fileinto "\${b}";`);
    assert.deepEqual(r, [`fileinto ${want}`], m);
  }
  assert.deepEqual(actions('require ["variables", "fileinto"]; set :quotewildcard "b" "Rock*"; fileinto "${b}";'), ['fileinto Rock\\*']);
  // match variables
  const lists = `require ["variables", "fileinto"];
if header :matches "List-ID" "*<*@*" { fileinto "INBOX.lists.\${2}"; stop; }
if header :matches "Subject" "[*] *" { fileinto "INBOX.lists.\${1}"; stop; }
if address :matches ["To", "Cc"] ["coyote@**.com", "wile@**.com"] { fileinto "INBOX.business.\${2}"; stop; }`;
  assert.deepEqual(actions(lists, 'List-ID: Sieve list <sieve@ietf.org>\n\nx'), ['fileinto INBOX.lists.sieve']);
  assert.deepEqual(actions(lists, 'Subject: [acme-users] [fwd] version 1.0 is out\n\nx'), ['fileinto INBOX.lists.acme-users']);
  assert.deepEqual(actions(lists, 'To: coyote@ACME.Example.COM\n\nx'), ['fileinto INBOX.business.ACME.Example']);
  // ${0} and unknown names; ${1} beyond the wildcards is empty
  assert.deepEqual(actions('require ["variables", "fileinto"]; if header :matches "subject" "I * a *" { fileinto "[${0}|${2}|${3}|${nope}]"; }'), [
    'fileinto [I have a present for you|present for you||]',
  ]);
  // string test, :count ignores empty strings
  assert.equal(matches('string :is "${x}" ""', 'S: x\n\nx', ['variables']), true);
  assert.equal(matches('string :count "eq" :comparator "i;ascii-numeric" ["a", "", "b"] "2"', 'S: x\n\nx', ['variables', 'relational', 'comparator-i;ascii-numeric']), true);
});

test('date and currentdate (RFC 5260)', () => {
  const msg = 'Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)\nSubject: x\n\nx';
  const req = ['date', 'relational'];
  assert.equal(matches('date :value "ge" :originalzone "date" "hour" "09"', msg, req), true);
  assert.equal(matches('date :zone "+0000" :is "date" "hour" "17"', msg, ['date']), true);
  assert.equal(matches('date :originalzone :is "date" "zone" "-0800"', msg, ['date']), true);
  assert.equal(matches('date :zone "+0000" :is "date" "iso8601" "1997-04-01T17:06:31+00:00"', msg, ['date']), true);
  assert.equal(matches('date :originalzone :is "date" "std11" "Tue, 1 Apr 1997 09:06:31 -0800"', msg, ['date']), true);
  assert.equal(matches('date :originalzone :is "date" "weekday" "2"', msg, ['date']), true);
  assert.equal(matches('date :originalzone :is "date" "julian" "50539"', msg, ['date']), true);
  assert.equal(matches('date :is "x-none" "year" "1997"', msg, ['date']), false);
  const now = { now: () => new Date(Date.UTC(2007, 6, 1, 12, 0, 0)) };
  const s = `require ["date", "relational", "vacation"];
if allof (currentdate :value "ge" "date" "2007-06-30", currentdate :value "le" "date" "2007-07-07") { vacation :days 7 "I'm away during the first week in July."; }`;
  assert.equal(actions(s, msg, { host: now })[0], "vacation 604800 I'm away during the first week in July.");
  assert.equal(matches('currentdate :zone "+0200" :is "hour" "14"', msg, ['date'], { host: now }), true);
});

test('index (RFC 5260 section 6)', () => {
  const msg = 'Received: from a by b; Mon, 3 Mar 2025 12:00:00 +0000\nReceived: from c by d; Mon, 3 Mar 2025 11:00:00 +0000\nTo: x@y.z\nTo: second@y.z\n\nx';
  assert.equal(matches('header :index 2 :matches "received" "from c*"', msg, ['index']), true);
  assert.equal(matches('header :index 1 :last :matches "received" "from c*"', msg, ['index']), true);
  assert.equal(matches('header :index 3 :contains "received" ""', msg, ['index']), false);
  assert.equal(matches('address :index 2 :is "to" "second@y.z"', msg, ['index']), true);
});

test('mailbox (RFC 5490)', () => {
  assert.deepEqual(actions('require ["fileinto", "mailbox"]; fileinto :create "INBOX.folder";'), ['fileinto INBOX.folder :create']);
  const host = { mailboxExists: (n: string) => n === 'Partners' };
  assert.equal(matches('mailboxexists "Partners"', 'S: x\n\nx', ['mailbox'], { host }), true);
  assert.equal(matches('mailboxexists ["Partners", "Other"]', 'S: x\n\nx', ['mailbox'], { host }), false);
});

test('editheader (RFC 5293)', () => {
  const msg = 'Delivered-To: bob@example.com\nDelivered-To: alice@example.com\nSubject: x\nReceived: r\n\nx';
  const s = `require ["editheader", "fileinto"];
addheader "X-Source" "Sieve";
deleteheader :index 1 :is "Delivered-To" "bob@example.com";
if header :is "x-source" "Sieve" { fileinto "seen-added"; }
if not header :is "delivered-to" "bob@example.com" { fileinto "bob-gone"; }
deleteheader "received";
if exists "received" { fileinto "received-protected"; }
addheader :last "X-End" "1";`;
  assert.deepEqual(actions(s, msg), [
    'addheader X-Source: Sieve',
    'deleteheader Delivered-To #1',
    'fileinto seen-added',
    'fileinto bob-gone',
    'fileinto received-protected',
    'addheader X-End: 1 :last',
  ]);
  assert.match(errorText('require "editheader"; addheader "Bad Name" "x";'), /field name 'Bad Name' is invalid/);
  // A match type without value patterns has nothing to match: ignored, as in Pigeonhole, and every such field goes.
  assert.deepEqual(actions('require "editheader"; deleteheader :contains :comparator "i;octet" "delivered-to";', msg), [
    'deleteheader delivered-to #2',
    'deleteheader delivered-to #1',
    'implicit-keep',
  ]);
});

test('include (RFC 6609): personal/global, :once, :optional, return, global variables, loops', () => {
  const scripts: Record<string, string> = {
    'personal:always_allow': 'require ["fileinto"]; if address :is "from" "boss@example.com" { keep; }',
    'global:spam_tests': 'require ["fileinto", "include"]; if header :contains "subject" "spam" { fileinto "Spam"; } return; fileinto "never";',
    'personal:loop': 'require "include"; include "loop";',
    'personal:setvar': 'require ["include", "variables"]; global "test"; set "test" "${test}-inc";',
  };
  const host = { includeScript: (n: string, l: string) => scripts[`${l}:${n}`] };
  const s = 'require ["include"]; include :personal "always_allow"; include :global "spam_tests";';
  assert.deepEqual(actions(s, 'From: boss@example.com\nSubject: spam\n\nx', { host }), ['keep', 'fileinto Spam']);
  assert.deepEqual(actions(s, 'From: a@example.com\nSubject: hi\n\nx', { host }), ['implicit-keep']);
  const loop = run('require "include"; include "loop";', undefined, { host });
  assert.match(loop.errors?.[0]?.message ?? '', /loop/);
  assert.match(run('require "include"; include "missing";', undefined, { host }).errors?.[0]?.message ?? '', /does not exist/);
  assert.deepEqual(actions('require "include"; include :optional "missing";', undefined, { host }), ['implicit-keep']);
  const g = 'require ["include", "variables", "fileinto"]; global "test"; set "test" "main"; include "setvar"; include :once "setvar"; include :once "setvar"; fileinto "${test}";';
  assert.deepEqual(actions(g, undefined, { host }), ['fileinto main-inc']);
});

test('duplicate (RFC 7352)', () => {
  const seen = new Set<string>();
  const host = {
    duplicate: (id: string, o: { handle: string }) => {
      const k = `${o.handle}\0${id}`;
      const was = seen.has(k);
      seen.add(k);
      return was;
    },
  };
  const msg = 'Message-ID: <1@x>\nX-Event-ID: 42\n\nx';
  assert.deepEqual(actions('require "duplicate"; if duplicate { discard; }', msg, { host }), ['implicit-keep']);
  assert.deepEqual(actions('require "duplicate"; if duplicate { discard; }', msg, { host }), ['discard']);
  assert.deepEqual(actions('require "duplicate"; if duplicate :header "X-Event-ID" :handle "notifier" { discard; }', msg, { host }), ['implicit-keep']);
  assert.deepEqual(actions('require ["duplicate", "variables"]; if header :matches "subject" "ALERT: *" { if duplicate :seconds 60 :uniqueid "${1}" { discard; } }', 'Subject: ALERT: disk\n\nx', { host }), ['implicit-keep']);
  assert.deepEqual(actions('require "duplicate"; if duplicate { discard; }', 'Subject: no id\n\nx', { host }), ['implicit-keep']);
});

test('spamtest, spamtestplus, virustest (RFC 5235)', () => {
  const s = `require ["spamtest", "fileinto", "relational", "comparator-i;ascii-numeric"];
if spamtest :value "eq" :comparator "i;ascii-numeric" "0" { fileinto "INBOX.unclassified"; }
elsif spamtest :value "ge" :comparator "i;ascii-numeric" "3" { fileinto "INBOX.spam-trap"; }`;
  assert.deepEqual(actions(s, 'Subject: x\n\nx'), ['fileinto INBOX.unclassified']);
  assert.deepEqual(actions(s, 'X-Spam-Score: 5.0\n\nx'), ['fileinto INBOX.spam-trap']);
  assert.deepEqual(actions(s, 'X-Spam-Score: 0.5\n\nx'), ['implicit-keep']);
  const p = 'require ["spamtestplus", "fileinto", "relational", "comparator-i;ascii-numeric"]; if spamtest :value "gt" :percent :comparator "i;ascii-numeric" "50" { fileinto "spam"; }';
  assert.deepEqual(actions(p, 'X-Spam-Score: 6\n\nx'), ['fileinto spam']);
  assert.deepEqual(actions(p, 'X-Spam-Score: 4\n\nx'), ['implicit-keep']);
  assert.deepEqual(actions(p, 'X-Score: 40\n\nx', { host: { spamtest: { header: 'X-Score', max: 50 } } }), ['fileinto spam']);
  const v = `require ["virustest", "fileinto", "relational", "comparator-i;ascii-numeric"];
if virustest :value "eq" :comparator "i;ascii-numeric" "0" { fileinto "INBOX.unscanned"; }
if virustest :value "ge" :comparator "i;ascii-numeric" "4" { discard; }`;
  assert.deepEqual(actions(v, 'Subject: x\n\nx'), ['fileinto INBOX.unscanned']);
  assert.deepEqual(actions(v, 'X-Virus-Score: 5\n\nx'), ['discard']);
  assert.deepEqual(actions(v, 'X-Virus-Score: 0\n\nx'), ['implicit-keep']);
  // No scanner of the host's ran (null): what the sender wrote is not a score, both tests answer "0".
  const none = { host: { spamtest: null, virustest: null } };
  assert.deepEqual(actions(s, 'X-Spam-Score: 50\n\nx', none), ['fileinto INBOX.unclassified']);
  assert.deepEqual(actions(v, 'X-Virus-Score: 5\n\nx', none), ['fileinto INBOX.unscanned']);
});

test('environment (RFC 5183)', () => {
  const host = { environment: { 'remote-host': 'mx.example.org', domain: 'example.test' } };
  assert.equal(matches('environment :contains "remote-host" "example.org"', 'S: x\n\nx', ['environment'], { host }), true);
  assert.equal(matches('environment :is "phase" "during"', 'S: x\n\nx', ['environment'], { host }), true);
  assert.equal(matches('environment :is "name" "Postino"', 'S: x\n\nx', ['environment'], { host }), true);
  assert.equal(matches('environment :contains "vnd.unknown" ""', 'S: x\n\nx', ['environment'], { host }), false);
});

test('ihave (RFC 5463)', () => {
  assert.deepEqual(actions('require ["ihave"]; if ihave "fileinto" { fileinto "x"; }'), ['fileinto x']);
  assert.deepEqual(actions('require ["ihave", "fileinto"]; if ihave "x-foo" { x-foo-command; } else { fileinto "nofoo"; }'.replace('x-foo-command', 'xfoo')), ['fileinto nofoo']);
  const e = run('require ["ihave"]; if not ihave "vacation-x" { error "no vacation-x here"; }');
  assert.match(e.errors?.[0]?.message ?? '', /no vacation-x here/);
  assert.deepEqual(summary(e.actions), ['implicit-keep']);
});

test('enotify with mailto (RFC 5435, RFC 5436)', () => {
  const s = `require ["enotify", "fileinto", "variables"];
if header :contains "from" "boss@example.org" {
  notify :importance "1" :message "This is probably very important" "mailto:alm@example.com";
  stop;
}
if header :matches "Subject" "*" { set "subject" "\${1}"; }
notify :message "\${subject}" "mailto:alm@example.com?subject=New%20mail";`;
  assert.deepEqual(actions(s, 'From: boss@example.org\n\nx'), ['notify mailto:alm@example.com importance=1 message=This is probably very important', 'implicit-keep']);
  assert.deepEqual(actions(s, 'From: x@example.org\nSubject: hi\n\nx'), ['notify mailto:alm@example.com?subject=New%20mail message=hi', 'implicit-keep']);
  assert.equal(matches('valid_notify_method "mailto:a@example.com"', 'S: x\n\nx', ['enotify']), true);
  assert.equal(matches('valid_notify_method "xmpp:a@example.com"', 'S: x\n\nx', ['enotify']), false);
  assert.equal(matches('notify_method_capability "mailto:a@example.com" "online" ["yes", "maybe"]', 'S: x\n\nx', ['enotify']), true);
  assert.deepEqual(actions('require ["enotify", "variables", "fileinto"]; set :encodeurl "e" "a b&c"; fileinto "${e}";'), ['fileinto a%20b%26c']);
});

test('regex (draft-ietf-sieve-regex)', () => {
  const msg = 'Subject: [ietf-mta-filters] Sieve regex draft 07\nFrom: Joe <joe@Example.COM>\n\nx';
  assert.equal(matches('header :regex "subject" "^\\\\[[a-z-]+\\\\]"', msg, ['regex']), true);
  assert.equal(matches('header :regex "subject" "draft [0-9]{2}$"', msg, ['regex']), true);
  assert.equal(matches('header :regex :comparator "i;octet" "subject" "SIEVE"', msg, ['regex']), false);
  assert.equal(matches('address :regex :domain "from" "example\\\\.com$"', msg, ['regex']), true);
  assert.deepEqual(actions('require ["regex", "variables", "fileinto"]; if header :regex "subject" "^\\\\[(.*)\\\\] (.*)$" { fileinto "${1}/${2}"; }', msg), [
    'fileinto ietf-mta-filters/Sieve regex draft 07',
  ]);
  assert.deepEqual(actions('require ["regex", "variables", "fileinto"]; set :quoteregex "q" "a.b*"; fileinto "${q}";', msg), ['fileinto a\\.b\\*']);
});

test('ihave inside allof guards its block too; unknown extensions make the block dead code', () => {
  assert.deepEqual(actions('require ["ihave"]; if allof (true, ihave ["fileinto", "imap4flags"]) { addflag "x"; fileinto "y"; }'), ['fileinto y [x]']);
  assert.deepEqual(actions('require ["ihave"]; if allof (true, ihave "x-nope") { x_nope "z"; } keep;'), ['keep']);
});
