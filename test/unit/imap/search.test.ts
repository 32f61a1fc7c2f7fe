import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSearch, matchSearch, CharsetError, type SearchCandidate } from '../../../src/protocol/imap/search.js';
import { searchableText } from '../../../mime/index.js';
import { parseCommand } from '../../../src/protocol/imap/parser.js';
import { ImapParseError } from '../../../src/protocol/imap/parser.js';
import { indexMessage } from '../../../mime/index.js';
import { decodeHeader } from '../../../mime/decode.js';
import { fast, MB } from '../../support/hostile.js';

const RAW = Buffer.from(
  [
    'From: "Zoë Example" <zoe@remote.test>',
    'To: alice@example.test, bob@example.test',
    'Cc: carol@example.test',
    'Subject: =?utf-8?q?Caf=C3=A9_meeting?=',
    'Date: Tue, 10 Nov 2026 23:30:00 -0500',
    'X-Priority: 1',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Gr=FC=DFe aus K=F6ln',
    '--b',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('<p>Hello <b>bold</b> world</p>').toString('base64'),
    '--b--',
    '',
  ].join('\r\n'),
);

const index = indexMessage(RAW);
const candidate = (over: Partial<SearchCandidate['record']> = {}, seq = 2): SearchCandidate => ({
  seq,
  record: { mailboxId: 1, uid: 7, modseq: 40, flags: ['\\Seen', '$Work'], internalDate: Date.UTC(2026, 10, 11, 12), size: RAW.length, mime: null, ...over },
  index: () => index,
  raw: () => RAW,
});
const scope = { maxSeq: 5, maxUid: 9, now: Date.UTC(2026, 10, 11, 13), decodeHeader };

function matches(criteria: string, c = candidate()): boolean {
  const parsed = parseCommand({ segments: [`t SEARCH ${criteria}`], literals: [] });
  return matchSearch(parseSearch(parsed.args).key, c, scope);
}

test('flag, keyword, size, sequence and UID keys', () => {
  assert.ok(matches('SEEN'));
  assert.ok(!matches('UNSEEN'));
  assert.ok(matches('KEYWORD $Work UNKEYWORD $Other'));
  assert.ok(matches('UNFLAGGED UNDELETED UNANSWERED UNDRAFT OLD'));
  assert.ok(!matches('NEW') && !matches('RECENT'));
  assert.ok(matches(`LARGER ${RAW.length - 1} SMALLER ${RAW.length + 1}`));
  assert.ok(matches('2') && matches('1:*') && !matches('3:4') && matches('5:*', candidate({}, 5)));
  assert.ok(matches('UID 7') && matches('UID 8:*', candidate({ uid: 9 })) && !matches('UID 1:6'));
  assert.ok(matches('ALL'));
});

test('boolean structure: implicit AND, OR, NOT, parentheses', () => {
  assert.ok(matches('SEEN KEYWORD $Work'));
  assert.ok(!matches('SEEN FLAGGED'));
  assert.ok(matches('OR FLAGGED SEEN'));
  assert.ok(matches('NOT FLAGGED'));
  assert.ok(matches('(OR FLAGGED (SEEN NOT DELETED)) UID 7'));
  assert.ok(!matches('NOT (SEEN)'));
});

test('dates: internal date and Date: header, compared by day', () => {
  assert.ok(matches('ON 11-Nov-2026') && matches('SINCE 11-Nov-2026') && matches('BEFORE 12-Nov-2026'));
  assert.ok(!matches('BEFORE 11-Nov-2026'));
  // 23:30 -0500 is 04:30 on the 11th in UTC.
  assert.ok(matches('SENTON 11-Nov-2026') && matches('SENTSINCE 1-Nov-2026') && !matches('SENTBEFORE 11-Nov-2026'));
  assert.ok(matches('YOUNGER 7200') && !matches('OLDER 7200'));
});

test('header keys decode encoded words and match case-insensitively', () => {
  assert.ok(matches('SUBJECT café'));
  assert.ok(matches('SUBJECT "CAFÉ MEETING"'));
  assert.ok(matches('FROM zoë') && matches('FROM zoe@remote.test'));
  assert.ok(matches('TO bob@example') && matches('CC carol') && !matches('BCC carol'));
  assert.ok(matches('HEADER X-Priority 1') && matches('HEADER x-priority ""') && !matches('HEADER X-Missing ""'));
});

test('BODY and TEXT search decoded text of every text part', () => {
  assert.ok(matches('BODY "grüße aus köln"'));
  assert.ok(matches('BODY "hello bold world"') === false, 'tags leave spaces');
  assert.ok(matches('BODY bold'));
  assert.ok(!matches('BODY Subject'));
  assert.ok(matches('TEXT "X-Priority"'));
  assert.match(searchableText(RAW, index.body), /Grüße aus Köln/);
});

test('HEADER keeps a value\'s blanks as written but the first; linear on a megabyte of folds and bare CRs', () => {
  const raw = Buffer.from('X-Custom:    spaced value   \r\nX-Long: a\r\n' + ' b\r\n'.repeat(200_000) + 'X-Cr: ' + '\r'.repeat(MB) + 'z\r\n\r\nbody\r\n');
  const idx = indexMessage(raw);
  const c: SearchCandidate = { ...candidate(), index: () => idx, raw: () => raw };
  assert.ok(matches('HEADER X-Custom "   spaced"', c) && !matches('HEADER X-Custom "    spaced"', c) && matches('HEADER X-Custom "value   "', c));
  assert.ok(fast('200,000 folded lines', () => matches('HEADER X-Long "b b b"', c)));
  assert.ok(fast('a megabyte of bare CRs', () => !matches('HEADER X-Cr "q"', c)));
});

test('MODSEQ and CHARSET', () => {
  const p = parseSearch(parseCommand({ segments: ['t SEARCH CHARSET UTF-8 MODSEQ 40'], literals: [] }).args);
  assert.equal(p.usesModseq, true);
  assert.equal(p.charset, 'UTF-8');
  assert.ok(matchSearch(p.key, candidate(), scope));
  assert.ok(!matches('MODSEQ 41'));
  assert.throws(() => parseSearch(parseCommand({ segments: ['t SEARCH CHARSET KOI8-R ALL'], literals: [] }).args), CharsetError);
});

test('malformed criteria are parse errors', () => {
  for (const bad of ['', 'FOO', 'SINCE yesterday', 'LARGER x', 'OR SEEN', 'NOT', 'UID abc', 'HEADER Subject']) {
    assert.throws(() => parseSearch(parseCommand({ segments: [`t SEARCH ${bad}`.trim()], literals: [] }).args), ImapParseError, bad);
  }
});
