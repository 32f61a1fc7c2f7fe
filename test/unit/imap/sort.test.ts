// SORT's parts that need no server: the sort program, the ESORT return
// options, and the value each key sorts a message by.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSortProgram, parseSortReturn, sortValue } from '../../../src/protocol/imap/commands/sort.js';
import { ImapParseError, type Arg } from '../../../src/protocol/imap/parser.js';
import { indexMessage } from '../../../mime/index.js';
import { decodeHeader } from '../../../mime/decode.js';
import type { MessageRecord } from '../../../src/protocol/imap/backend.js';

const atoms = (...v: string[]): Arg[] => v.map((value) => ({ type: 'atom', value }));

test('sort program: REVERSE flips the next key, twice cancels; a repeated key counts once', () => {
  assert.deepEqual(parseSortProgram(atoms('subject')), [{ key: 'SUBJECT', reverse: false }]);
  assert.deepEqual(parseSortProgram(atoms('REVERSE', 'DATE', 'FROM')), [
    { key: 'DATE', reverse: true },
    { key: 'FROM', reverse: false },
  ]);
  assert.deepEqual(parseSortProgram(atoms('REVERSE', 'REVERSE', 'SIZE')), [{ key: 'SIZE', reverse: false }]);
  // Dovecot's way: the REVERSE before a repeated key passes on to the next one.
  assert.deepEqual(parseSortProgram(atoms('DATE', 'REVERSE', 'DATE', 'SUBJECT')), [
    { key: 'DATE', reverse: false },
    { key: 'SUBJECT', reverse: true },
  ]);
  assert.deepEqual(parseSortProgram([{ type: 'string', value: Buffer.from('DisplayFrom'), literal: false }]), [{ key: 'DISPLAYFROM', reverse: false }]);
  for (const bad of [[], atoms('REVERSE'), atoms('DATE', 'REVERSE'), atoms('BOGUS'), [{ type: 'list', items: [] } as Arg]]) {
    assert.throws(() => parseSortProgram(bad), ImapParseError);
  }
});

test('RETURN options: ALL by default, PARTIAL ranges, and the combinations Dovecot refuses', () => {
  assert.deepEqual(parseSortReturn([]), { min: false, max: false, all: true, count: false, save: false, partial: undefined });
  assert.deepEqual(parseSortReturn(atoms('min', 'MAX', 'count')), { min: true, max: true, all: false, count: true, save: false, partial: undefined });
  assert.equal(parseSortReturn(atoms('SAVE')).all, false);
  assert.deepEqual(parseSortReturn(atoms('PARTIAL', '5:1')).partial, [1, 5]);
  for (const bad of [atoms('ALL', 'PARTIAL', '1:2'), atoms('PARTIAL', '0:2'), atoms('PARTIAL'), atoms('PARTIAL', '1:2', 'PARTIAL', '3:4'), atoms('UPDATE'), atoms('FOO')]) {
    assert.throws(() => parseSortReturn(bad), ImapParseError);
  }
});

const record = (internalDate: number): MessageRecord => ({ mailboxId: 1, uid: 1, modseq: 1, flags: [], internalDate, size: 0, mime: null });

function valueOf(key: string, headers: string, internalDate = Date.UTC(2024, 2, 1, 12, 0, 0, 500)): string | number {
  const raw = Buffer.from(`${headers}\r\n\r\nbody\r\n`.replace(/\r?\n/g, '\r\n'), 'latin1');
  return sortValue(key, record(internalDate), indexMessage(raw), decodeHeader);
}

test('FROM, TO and CC sort on the first mailbox (local part), a group on its name', () => {
  assert.equal(valueOf('FROM', 'From: "Doe, John" <john@example.com>, amy@example.com'), 'JOHN');
  assert.equal(valueOf('TO', 'To: undisclosed-recipients:;'), 'UNDISCLOSED-RECIPIENTS');
  assert.equal(valueOf('CC', 'Cc: =?UTF-8?Q?=C3=80_la_carte?= <carte@example.fr>'), 'CARTE');
  assert.equal(valueOf('CC', 'From: a@b'), '');
});

test('DISPLAYFROM and DISPLAYTO: the decoded display name, else the address (RFC 5957 4)', () => {
  assert.equal(valueOf('DISPLAYFROM', 'From: =?UTF-8?B?w4lsaXNl?= <elise@example.fr>'), 'E\u0301LISE');
  assert.equal(valueOf('DISPLAYFROM', 'From: "" <empty-name@example.com>'), 'EMPTY-NAME@EXAMPLE.COM');
  assert.equal(valueOf('DISPLAYFROM', 'From: bob@example.com'), 'BOB@EXAMPLE.COM');
  assert.equal(valueOf('DISPLAYTO', 'To: undisclosed:;'), 'UNDISCLOSED');
  assert.equal(valueOf('DISPLAYTO', 'From: a@b'), '');
});

test('SUBJECT is the base subject; DATE the sent date in seconds, else INTERNALDATE; ARRIVAL and SIZE', () => {
  assert.equal(valueOf('SUBJECT', 'Subject: =?UTF-8?Q?Re=3A_=5Bx=5D?= =?UTF-8?Q?_Zebra?='), 'ZEBRA');
  assert.equal(valueOf('SUBJECT', 'From: a@b'), '');
  assert.equal(valueOf('DATE', 'Date: Mon, 4 Mar 2024 23:30:00 -0500'), Date.UTC(2024, 2, 5, 4, 30) / 1000);
  assert.equal(valueOf('DATE', 'Date: not a date at all'), Date.UTC(2024, 2, 1, 12) / 1000);
  assert.equal(valueOf('DATE', 'From: a@b'), Date.UTC(2024, 2, 1, 12) / 1000);
  assert.equal(valueOf('ARRIVAL', 'From: a@b'), Date.UTC(2024, 2, 1, 12) / 1000);
  // RFC822.SIZE: bare LFs count as CRLF.
  const lf = indexMessage(Buffer.from('From: a@b\n\nbody\n'));
  assert.equal(sortValue('SIZE', record(0), lf, decodeHeader), 'From: a@b\r\n\r\nbody\r\n'.length);
});
