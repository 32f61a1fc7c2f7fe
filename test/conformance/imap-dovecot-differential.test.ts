// The same IMAP conversations against Postino and a scratch Dovecot 2.3:
// for the corner cases of SEARCH dates, empty strings, BODY/TEXT and HEADER, \Recent (also after EXPUNGE), atoms,
// BINARY after a literal8 APPEND, CONDSTORE, LIST-EXTENDED and LSUB, MOVE
// into the selected mailbox, COPY order, new keywords and RENAME under itself, both must answer
// alike (status, response codes, and the untagged lines each step picks).
// Dovecot must be installed (dovecot-imapd): its absence is a failure.
import { test } from 'node:test';
import { differentialPeers, type Step } from '../support/imap-differential.js';

const { compare } = differentialPeers();

function msg(headers: string, body = 'Hello.\r\n'): string {
  return `${headers.trim().split('\n').map((l) => l.trim()).join('\r\n')}\r\n\r\n${body}`;
}

const append = (box: string, text: string, extra = ''): Step => ({ cmd: `APPEND ${box}${extra ? ' ' + extra : ''}`, literal: text, quiet: true });

test('SEARCH SENT* compares the Date header as written; BEFORE/ON/SINCE the internal date', async () => {
  await compare({
    name: 'dates',
    steps: [
      { cmd: 'CREATE Dates', quiet: true },
      append('Dates', msg('Date: Mon, 7 Nov 2025 23:30:00 -0500\nSubject: late evening in New York'), '"07-Nov-2025 23:30:00 -0500"'),
      append('Dates', msg('Date: Tue, 8 Nov 2025 00:30:00 +0100\nSubject: just after midnight in Rome'), '"08-Nov-2025 00:30:00 +0100"'),
      append('Dates', msg('Date: 7 Nov 2025 12:00 +1400\nSubject: Kiribati noon'), '"06-Nov-2025 22:00:00 +0000"'),
      append('Dates', msg('Date: Tue, 08 Nov 2025 10:00:00 GMT\nSubject: obsolete zone name')),
      append('Dates', msg('Subject: no date at all')),
      { cmd: 'SELECT Dates', quiet: true },
      ...['SENTON 7-Nov-2025', 'SENTON 8-Nov-2025', 'SENTBEFORE 8-Nov-2025', 'SENTSINCE 8-Nov-2025', 'NOT SENTSINCE 1-Jan-1990', 'SENTBEFORE 1-Jan-2000', 'SENTON 1-Jan-1970'].map((k) => ({ cmd: `SEARCH ${k}` })),
      ...['ON 8-Nov-2025', 'ON 7-Nov-2025', 'ON 6-Nov-2025', 'BEFORE 8-Nov-2025', 'SINCE 8-Nov-2025'].map((k) => ({ cmd: `SEARCH ${k}`, pick: [/^\* SEARCH/] })),
      { cmd: 'DELETE Dates', quiet: true },
    ],
  });
});

test('SEARCH HEADER field "" (and TO, CC, BCC, FROM, SUBJECT "") match exactly the messages that have the field', async () => {
  await compare({
    name: 'empty strings',
    steps: [
      { cmd: 'CREATE Empty', quiet: true },
      append('Empty', msg('From: a@example.test\nTo: b@example.test\nSubject: one\nX-Tag: red')),
      append('Empty', msg('From: a@example.test\nCc: c@example.test\nSubject:\nX-Tag:')),
      append('Empty', msg('To: b@example.test\nBcc: d@example.test')),
      append('Empty', msg('From: e@example.test\nSubject: four')),
      { cmd: 'SELECT Empty', quiet: true },
      ...['HEADER X-Tag ""', 'NOT HEADER X-Tag ""', 'HEADER X-Absent ""', 'SUBJECT ""', 'FROM ""', 'TO ""', 'CC ""', 'BCC ""', 'HEADER Subject ""', 'OR CC "" BCC ""'].map(
        (k) => ({ cmd: `SEARCH ${k}` }),
      ),
      { cmd: 'DELETE Empty', quiet: true },
    ],
  });
});

test('SEARCH BODY and TEXT: HTML as it is, MIME part headers and embedded headers for TEXT only; HEADER looks at each field on its own, blanks as written', async () => {
  const html = Buffer.from('<html><body><p>Special <b>offer</b></p></body></html>').toString('base64');
  await compare({
    name: 'body and text',
    steps: [
      { cmd: 'CREATE Bt', quiet: true },
      append('Bt', msg('From: a@example.test\nSubject: html\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=x', `--x\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${html}\r\n--x\r\nContent-Type: application/pdf; name="report.pdf"\r\n\r\nbinary\r\n--x--\r\n`)),
      append('Bt', msg('From: b@example.test\nSubject: forward\nMIME-Version: 1.0\nContent-Type: message/rfc822', 'From: inner@example.org\r\nSubject: inner subject\r\n\r\nembedded text\r\n')),
      append('Bt', msg('From: c@example.test\nTo: team@example.test\nTo: second@example.test\nSubject: two To fields')),
      append('Bt', msg('From: d@example.test\nTo: Bob <bob@example.test>, carol@example.test\nSubject: one To field')),
      // The blanks of a value as written, but for the one after the colon (msg() trims lines, so the field comes whole here).
      { cmd: 'APPEND Bt', literal: 'From: e@example.test\r\nX-Custom:    spaced value   \r\nSubject: folded\r\n  twice\r\n\r\nHello.\r\n', quiet: true },
      { cmd: 'SELECT Bt', quiet: true },
      ...['BODY "<b>"', 'BODY "offer"', 'TEXT "report.pdf"', 'BODY "report.pdf"', 'BODY "inner"', 'TEXT "inner subject"', 'BODY "embedded"', 'TEXT "Content-Type"', 'BODY "Content-Type"', 'HEADER To ", "', 'HEADER To "second"', 'HEADER Subject "To field"', 'HEADER X-Custom "   spaced"', 'HEADER X-Custom "    spaced"', 'HEADER X-Custom "value   "', 'HEADER Subject "folded  twice"', 'HEADER Subject "folded twice"'].map((k) => ({ cmd: `SEARCH ${k}` })),
      { cmd: 'CLOSE', quiet: true },
      { cmd: 'DELETE Bt', quiet: true },
    ],
  });
});

test('\\Recent: SELECT and EXAMINE announce it, STATUS counts it, SEARCH NEW/OLD/RECENT agree, one session sees each message as recent', async () => {
  const m = msg('Subject: recent');
  await compare({
    name: 'recent',
    sessions: 3,
    steps: [
      { cmd: 'CREATE Rec', quiet: true },
      { ...append('Rec', m), s: 1 },
      { ...append('Rec', m), s: 1 },
      { cmd: 'STATUS Rec (MESSAGES RECENT UNSEEN)' },
      { s: 2, cmd: 'EXAMINE Rec', pick: [/EXISTS|RECENT/] },
      { s: 2, cmd: 'SEARCH RECENT' },
      { s: 2, cmd: 'SEARCH NEW' },
      { s: 2, cmd: 'SEARCH OLD' },
      { cmd: 'STATUS Rec (RECENT)' },
      { s: 1, cmd: 'SELECT Rec', pick: [/EXISTS|RECENT/] },
      { s: 1, cmd: 'SEARCH RECENT' },
      { s: 1, cmd: 'FETCH 1:* FLAGS' },
      { cmd: 'STATUS Rec (RECENT)' },
      { cmd: 'SELECT Rec', pick: [/EXISTS|RECENT/] },
      { cmd: 'SEARCH RECENT' },
      { cmd: 'SEARCH OLD' },
      { ...append('Rec', m), s: 2 },
      { cmd: 'NOOP' },
      { s: 1, cmd: 'NOOP' },
      { cmd: 'SEARCH RECENT' },
      { cmd: 'SEARCH NEW' },
      { s: 1, cmd: 'SEARCH RECENT' },
      { s: 1, cmd: 'STATUS Rec (RECENT MESSAGES)' },
      { cmd: 'STORE 3 +FLAGS (\\Seen)', pick: [] },
      { cmd: 'SEARCH NEW' },
      { cmd: 'SEARCH UNSEEN RECENT' },
      { s: 2, cmd: 'NOOP', pick: [/EXISTS|RECENT/] },
      { s: 2, cmd: 'SEARCH RECENT' },
      { cmd: 'CLOSE', quiet: true },
      { s: 1, cmd: 'CLOSE', quiet: true },
      { s: 2, cmd: 'CLOSE', quiet: true },
      { cmd: 'SELECT Rec', pick: [/RECENT/] },
      { cmd: 'CLOSE', quiet: true },
      { cmd: 'DELETE Rec', quiet: true },
    ],
  });
});

test('\\Recent: an EXPUNGE that takes recent messages is followed by the new RECENT count, here and in the other session; no RECENT when the count stays', async () => {
  const m = (subject: string) => msg(`Subject: ${subject}`);
  await compare({
    name: 'recent after expunge',
    sessions: 2,
    steps: [
      { cmd: 'CREATE RecGone', quiet: true },
      append('RecGone', m('a')),
      append('RecGone', m('b')),
      { cmd: 'SELECT RecGone', pick: [/EXISTS|RECENT/] },
      // Appended by the session that has it selected: recent to it.
      append('RecGone', m('c')),
      append('RecGone', m('d')),
      { s: 1, cmd: 'SELECT RecGone', pick: [/EXISTS|RECENT/] },
      { cmd: 'NOOP' },
      { cmd: 'STORE 1 +FLAGS.SILENT (\\Deleted)' },
      { cmd: 'EXPUNGE' },
      { cmd: 'STORE 2 +FLAGS.SILENT (\\Deleted)' },
      { cmd: 'EXPUNGE' },
      { cmd: 'UID STORE 4 +FLAGS.SILENT (\\Deleted)' },
      { cmd: 'UID EXPUNGE 4' },
      // None of them was recent to session 1: EXPUNGEs only.
      { s: 1, cmd: 'NOOP' },
      { ...append('RecGone', m('e')), s: 1 },
      { s: 1, cmd: 'NOOP' },
      // Recent to session 1, not to this one: EXISTS without RECENT here.
      { cmd: 'NOOP' },
      { s: 1, cmd: 'STORE 1:* +FLAGS.SILENT (\\Deleted)' },
      { s: 1, cmd: 'EXPUNGE' },
      { cmd: 'NOOP' },
      { cmd: 'CLOSE', quiet: true },
      { s: 1, cmd: 'CLOSE', quiet: true },
      { cmd: 'DELETE RecGone', quiet: true },
    ],
  });
});

test('atoms: "[" is an ATOM-CHAR, so a mailbox named with every atom character is a missing mailbox, not a bad command', async () => {
  await compare({
    name: 'atoms',
    steps: [
      { cmd: "SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}" },
      { cmd: "EXAMINE !#$&'+,-.0123456789:;<=>?@^_`|[}~" },
      { cmd: 'STATUS [x] (MESSAGES)' },
      { cmd: 'SELECT a]b' },
    ],
  });
});

test('BINARY: after an APPEND of a literal8, BINARY.SIZE and BINARY.PEEK of a part give the decoded bytes', async () => {
  const bin = Buffer.from([0x00, 0x01, 0x02, 0xff, 0x0d, 0x0a, 0x41, 0x00]).toString('base64');
  const text = msg(
    'Subject: binary\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b1"',
    `--b1\r\nContent-Type: text/plain\r\n\r\nplain part\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${bin}\r\n--b1--\r\n`,
  );
  const raw8 = msg('Subject: eight\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: binary', 'a\x00b\x00c\r\n');
  await compare({
    name: 'binary',
    steps: [
      { cmd: 'CREATE Bin', quiet: true },
      { cmd: 'APPEND Bin', literal: text, literal8: true, pick: [] },
      { cmd: 'APPEND Bin', literal: raw8, literal8: true, pick: [] },
      { cmd: 'SELECT Bin', quiet: true },
      { cmd: 'FETCH 1 (BINARY.SIZE[1] BINARY.SIZE[2])' },
      { cmd: 'FETCH 1 (BINARY.PEEK[1] BINARY.PEEK[2])' },
      // (Dovecot stores a binary part base64-encoded, so RFC822.SIZE is not compared.)
      { cmd: 'FETCH 2 (BINARY.SIZE[1] BINARY.PEEK[1])' },
      { cmd: 'APPEND Bin', literal: raw8, literal8: true, plus: true, pick: [] },
      { cmd: 'FETCH 3 (BINARY.SIZE[1] BINARY.PEEK[1] BINARY.SIZE[] BINARY.PEEK[])' },
      { cmd: 'FETCH 1 (BINARY.PEEK[2]<2.3>)' },
      { cmd: 'DELETE Bin', quiet: true },
    ],
  });
});

test('CONDSTORE: the first MODSEQ FETCH announces HIGHESTMODSEQ; SEARCH RETURN (MIN/MAX) with MODSEQ gives the returned message\'s MODSEQ', async () => {
  await compare({
    name: 'condstore',
    steps: [
      { cmd: 'CREATE Mod', quiet: true },
      append('Mod', msg('Subject: a')),
      append('Mod', msg('Subject: b')),
      append('Mod', msg('Subject: c')),
      { cmd: 'SELECT Mod', quiet: true },
      { cmd: 'STORE 2 +FLAGS.SILENT (\\Flagged)', quiet: true },
      { cmd: 'FETCH 1 (FLAGS MODSEQ)' },
      { cmd: 'FETCH 1 (MODSEQ)' },
      { cmd: 'SEARCH RETURN (MIN) MODSEQ 1' },
      { cmd: 'SEARCH RETURN (MAX) MODSEQ 1' },
      { cmd: 'SEARCH RETURN (MIN MAX COUNT) MODSEQ 1' },
      { cmd: 'SEARCH MODSEQ 1' },
      { cmd: 'DELETE Mod', quiet: true },
    ],
  });
});

test('RENAME: a mailbox cannot be renamed under itself (a plain NO, nothing changes); a name that only starts alike is not under it', async () => {
  await compare({
    name: 'rename-self',
    steps: [
      { cmd: 'CREATE Rs', quiet: true },
      { cmd: 'CREATE Rs/kid', quiet: true },
      { cmd: 'RENAME Rs Rs/inner' },
      { cmd: 'RENAME Rs Rs/kid/deeper' },
      { cmd: 'LIST "" "Rs*"' },
      { cmd: 'RENAME Rs Rsx' },
      { cmd: 'LIST "" "Rs*"' },
      { cmd: 'DELETE Rsx/kid', quiet: true },
      { cmd: 'DELETE Rsx', quiet: true },
    ],
  });
});

test('LIST-EXTENDED RETURN (SUBSCRIBED) and (SUBSCRIBED RECURSIVEMATCH); LSUB with % and after UNSUBSCRIBE', async () => {
  await compare({
    name: 'list',
    steps: [
      ...['Lx', 'Lx/a', 'Lx/b', 'Lx/b/c', 'Ly'].map((n) => ({ cmd: `CREATE ${n}`, quiet: true })),
      ...['Lx', 'Lx/a', 'Lx/b', 'Lx/b/c', 'Ly'].map((n) => ({ cmd: `UNSUBSCRIBE ${n}`, quiet: true })),
      { cmd: 'SUBSCRIBE Lx/b/c', quiet: true },
      { cmd: 'SUBSCRIBE Ly', quiet: true },
      { cmd: 'LIST "" "L*" RETURN (SUBSCRIBED)' },
      { cmd: 'LIST (SUBSCRIBED) "" "L*"' },
      { cmd: 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "L%"' },
      { cmd: 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Lx/%"' },
      { cmd: 'LSUB "" "L%"' },
      { cmd: 'LSUB "" "Lx/%"' },
      { cmd: 'LSUB "" "L*"' },
      { cmd: 'UNSUBSCRIBE Ly' },
      { cmd: 'LSUB "" "L*"' },
      { cmd: 'LIST (SUBSCRIBED) "" "L*"' },
      ...['Lx/b/c', 'Lx/b', 'Lx/a', 'Lx', 'Ly'].map((n) => ({ cmd: `DELETE ${n}`, quiet: true })),
      { cmd: 'UNSUBSCRIBE Lx/b/c', quiet: true },
    ],
  });
});

test('MOVE into the selected mailbox expunges the originals and announces the copies; COPY keeps the source order', async () => {
  await compare({
    name: 'move self and copy order',
    steps: [
      { cmd: 'CREATE Mv', quiet: true },
      { cmd: 'CREATE MvDest', quiet: true },
      ...['a', 'b', 'c', 'd'].map((s) => append('Mv', msg(`Subject: ${s}`))),
      { cmd: 'SELECT Mv', quiet: true },
      { cmd: 'STORE 2 +FLAGS.SILENT (\\Flagged)', quiet: true },
      { cmd: 'STORE 4 +FLAGS.SILENT (\\Answered)', quiet: true },
      { cmd: 'UID COPY 4,2,3 MvDest' },
      { cmd: 'MOVE 1:2 Mv' },
      { cmd: 'FETCH 1:* (UID FLAGS)' },
      { cmd: 'EXAMINE MvDest', quiet: true },
      { cmd: 'FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])' },
      { cmd: 'DELETE Mv', quiet: true },
      { cmd: 'DELETE MvDest', quiet: true },
    ],
  });
});

test('a new keyword: every session with the mailbox selected hears FLAGS and PERMANENTFLAGS before a FETCH that names it', async () => {
  await compare({
    name: 'keywords',
    sessions: 2,
    steps: [
      { cmd: 'CREATE Kw', quiet: true },
      append('Kw', msg('Subject: k1')),
      append('Kw', msg('Subject: k2')),
      { cmd: 'SELECT Kw', pick: [/FLAGS/] },
      { s: 1, cmd: 'SELECT Kw', quiet: true },
      { cmd: 'STORE 1 +FLAGS ($Important)' },
      { s: 1, cmd: 'NOOP' },
      { s: 1, cmd: 'STORE 2 +FLAGS (Project-X)' },
      { cmd: 'NOOP' },
      { s: 1, cmd: 'APPEND Kw (NewOnAppend)', literal: msg('Subject: k3'), pick: [/FLAGS/] },
      { cmd: 'NOOP' },
      { cmd: 'CLOSE', quiet: true },
      { s: 1, cmd: 'CLOSE', quiet: true },
      { cmd: 'DELETE Kw', quiet: true },
    ],
  });
});

test('CATENATE: a message made of literal text and parts of stored messages named by IMAP URLs; BADURL for what names nothing', async () => {
  const mixed = msg(
    'From: a@example.test\nSubject: parts\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="zz"',
    '--zz\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n--zz\r\nContent-Type: text/html\r\n\r\n<p>second</p>\r\n--zz--\r\n',
  );
  const lit = (t: string) => `{${Buffer.byteLength(t)}+}\r\n${t}`;
  await compare({
    name: 'catenate',
    steps: [
      { cmd: 'CREATE Cat', quiet: true },
      append('Cat', mixed),
      { cmd: 'SELECT Cat', quiet: true },
      { cmd: `APPEND Cat CATENATE (URL "/Cat/;UID=1/;SECTION=HEADER" TEXT ${lit('Body written after the copied header.\r\n')})`, pick: [] },
      { cmd: `APPEND Cat (\\Seen) CATENATE (TEXT ${lit('Subject: wrapped\r\nContent-Type: text/plain\r\n\r\n')} URL "/Cat/;UID=1/;section=1" URL "/Cat/;UID=1/;SECTION=2.MIME")`, pick: [] },
      { cmd: `APPEND Cat CATENATE (URL "/Cat/;UID=1/;PARTIAL=0.40" TEXT ${lit('\r\n')})`, pick: [] },
      { cmd: `APPEND Cat CATENATE (URL "/Cat/;UID=1") CATENATE (URL "/Cat/;UID=1/;SECTION=TEXT")`, pick: [] },
      { cmd: 'APPEND Cat CATENATE (URL "/Cat/;UID=99")' },
      { cmd: 'APPEND Cat CATENATE (URL "/Missing/;UID=1")' },
      { cmd: `APPEND Cat CATENATE (URL "/Cat/;UID=1/;SECTION=7" TEXT ${lit('Subject: no part 7\r\n\r\nx\r\n')})`, pick: [] },
      { cmd: 'APPEND Nowhere CATENATE (URL "/Cat/;UID=1")' },
      { cmd: 'NOOP', pick: [/EXISTS/] },
      { cmd: 'FETCH 2:* (FLAGS BODY.PEEK[])' },
      { cmd: 'DELETE Cat', quiet: true },
    ],
  });
});
