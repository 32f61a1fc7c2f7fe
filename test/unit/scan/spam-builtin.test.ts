// The builtin spam rules: each rule of the table on a message made for it,
// the table itself (documented, unique names), and every detector on long
// hostile input, where a backtracking pattern or a quadratic scan would show.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../../mime/index.js';
import { BuiltinSpamScanner, GTUBE, RULES } from '../../../src/scan/builtin/index.js';
import type { ScanVerdict } from '../../../src/scan/scanner.js';

const NOW = Date.parse('2026-12-06T12:00:00Z');
const HEAD = 'From: Anna <anna@remote.test>\r\nTo: bob@example.test\r\nDate: Sun, 06 Dec 2026 11:00:00 +0000\r\nMessage-ID: <1@remote.test>\r\nSubject: hi\r\n';
const engine = new BuiltinSpamScanner({ hostname: 'mx.example.test', required: 5, now: () => NOW });

async function score(raw: string, extra: { from?: string; authResults?: string[] } = {}): Promise<Extract<ScanVerdict, { kind: 'score' }>> {
  const r = await engine.scan({ raw: Buffer.from(raw, 'latin1'), message: parseMessage(Buffer.from(raw, 'latin1')), ...extra });
  assert.equal(r.verdict.kind, 'score', JSON.stringify(r.verdict));
  return r.verdict as Extract<ScanVerdict, { kind: 'score' }>;
}
const names = async (raw: string, extra?: { from?: string; authResults?: string[] }) => (await score(raw, extra)).tests.map((t) => t.name);

test('the rule table: unique names, each with a weight and a description', () => {
  assert.equal(new Set(RULES.map((r) => r.name)).size, RULES.length);
  for (const r of RULES) {
    assert.match(r.name, /^[A-Z0-9_]+$/);
    assert.ok(Number.isFinite(r.score) && (r.score as number) !== 0, r.name);
    assert.ok(r.description.length > 10, r.name);
  }
});

test('a clean message scores 0 and matches nothing', async () => {
  const v = await score(`${HEAD}\r\nHello Bob.\r\n`, { from: 'anna@remote.test' });
  assert.deepEqual([v.score, v.required, v.tests], [0, 5, []]);
});

test('GTUBE in the body scores 1000', async () => {
  const v = await score(`${HEAD}\r\n${GTUBE}\r\n`);
  assert.deepEqual(v.tests.map((t) => t.name), ['GTUBE']);
  assert.equal(v.score, 1000);
});

test('SPF/DKIM/DMARC outcomes from our Authentication-Results', async () => {
  assert.deepEqual(await names(`${HEAD}\r\nx\r\n`, { authResults: [' mx.example.test; spf=fail smtp.mailfrom=remote.test; dkim=fail (bad signature) header.d=remote.test; dmarc=fail header.from=remote.test'] }), ['SPF_FAIL', 'DKIM_FAIL', 'DMARC_FAIL']);
  assert.deepEqual(await names(`${HEAD}\r\nx\r\n`, { authResults: [' mx.example.test; spf=softfail; dkim=none; dmarc=none'] }), ['SPF_SOFTFAIL']);
  const good = await score(`${HEAD}\r\nx\r\n`, { authResults: [' mx.example.test; spf=pass smtp.mailfrom=remote.test; dkim=pass header.d=remote.test; dmarc=pass'] });
  assert.deepEqual(good.tests.map((t) => t.name), ['SPF_PASS', 'DKIM_VALID', 'DMARC_PASS']);
  assert.equal(good.score, -2);
});

test('header sanity: missing Date / Message-ID / From, Date in the future or past, From vs envelope, a forged Received', async () => {
  assert.deepEqual(await names('From: a@remote.test\r\nSubject: x\r\n\r\nx\r\n'), ['MISSING_DATE', 'MISSING_MID']);
  assert.deepEqual(await names(HEAD.replace(/From: [^\r]*/, 'From: undisclosed') + '\r\nx\r\n'), ['MISSING_FROM']);
  assert.deepEqual(await names(HEAD.replace('06 Dec 2026', '08 Dec 2026') + '\r\nx\r\n'), ['DATE_IN_FUTURE']);
  assert.deepEqual(await names(HEAD.replace('06 Dec 2026', '06 Oct 2026') + '\r\nx\r\n'), ['DATE_IN_PAST']);
  assert.deepEqual(await names(`${HEAD}\r\nx\r\n`, { from: 'bounce@mailer.other.test' }), ['FROM_NOT_ENVELOPE']);
  assert.deepEqual(await names(`${HEAD}\r\nx\r\n`, { from: 'bounce@mail.remote.test' }), [], 'a subdomain of the From domain is the same sender');
  assert.deepEqual(await names(`Received: from evil (evil [203.0.113.9])\r\n\tby   MX.example.test with ESMTP\r\n${HEAD}\r\nx\r\n`), ['FORGED_RECEIVED']);
  assert.deepEqual(await names(`Received: from a by relay.remote.test with ESMTP\r\n${HEAD}\r\nx\r\n`), []);
});

const mime = (parts: string) => `${HEAD}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n${parts}--b--\r\n`;
const part = (headers: string, body: string) => `--b\r\n${headers}\r\n\r\n${body}\r\n`;

test('HTML only, and hidden text in HTML', async () => {
  assert.deepEqual(await names(`${HEAD}Content-Type: text/html\r\n\r\n<p>hi</p>\r\n`), ['HTML_ONLY']);
  assert.deepEqual(await names(`${HEAD}Content-Type: text/html\r\n\r\n<p>hi</p><span style="font-size: 0px">x</span>\r\n`), ['HTML_ONLY', 'HTML_HIDDEN_TEXT']);
  assert.deepEqual(await names(`${HEAD}Content-Type: text/html\r\n\r\n<p style="font-size:0.9em">hi</p>\r\n`), ['HTML_ONLY']);
  const alternative = `${HEAD}MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n${part('Content-Type: text/plain', 'hi')}${part('Content-Type: text/html', '<p>hi</p><div style="VISIBILITY : hidden">x</div>')}--b--\r\n`;
  assert.deepEqual(await names(alternative), ['HTML_HIDDEN_TEXT']);
});

test('executable and double-extension attachments, nested messages included', async () => {
  const exe = part('Content-Type: application/octet-stream; name="setup.exe"\r\nContent-Disposition: attachment; filename="setup.exe"', 'TVqQ');
  assert.deepEqual(await names(mime(part('Content-Type: text/plain', 'see attached') + exe)), ['EXECUTABLE_ATTACHMENT']);
  const double = part('Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="Invoice.PDF.scr"', 'TVqQ');
  assert.deepEqual(await names(mime(part('Content-Type: text/plain', 'invoice') + double)), ['EXECUTABLE_ATTACHMENT', 'DOUBLE_EXTENSION']);
  const nested = part('Content-Type: message/rfc822', `From: x@remote.test\r\nSubject: inner\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: text/plain\r\n\r\nx\r\n--c\r\nContent-Type: application/x-msdownload; name="run.js"\r\n\r\nx\r\n--c--`);
  assert.ok((await names(mime(part('Content-Type: text/plain', 'fwd') + nested))).includes('EXECUTABLE_ATTACHMENT'));
  const pdf = part('Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="report.pdf"', 'JVBERi0=');
  assert.deepEqual(await names(mime(part('Content-Type: text/plain', 'report') + pdf)), []);
});

/** Generous: a linear detector takes well under a second for these; a quadratic one would take minutes. */
const LINEAR_BOUND_MS = 10_000;

async function timed(raw: string, extra?: { from?: string; authResults?: string[] }): Promise<number> {
  const started = Date.now();
  await score(raw, extra);
  return Date.now() - started;
}

test('long hostile input: every detector stays linear', async () => {
  const n = 2_000_000;
  const cases: Array<[string, string, { from?: string; authResults?: string[] }?]> = [
    ['GTUBE almost, repeated', `${HEAD}\r\n${GTUBE.slice(0, -1).repeat(n / GTUBE.length)}\r\n`],
    ['HTML of unfinished styles', `${HEAD}Content-Type: text/html\r\n\r\n${'<div style="display:'.repeat(n / 20)}${' '.repeat(n)}font-size:0.\r\n`],
    ['HTML of tags and blanks', `${HEAD}Content-Type: text/html\r\n\r\n${'< \t'.repeat(n / 3)}\r\n`],
    ['a long Received', `Received: ${'by by  by\t'.repeat(n / 100)}x\r\n${HEAD}\r\nx\r\n`],
    ['a long From and Date', `From: ${'<a@'.repeat(n / 30)}\r\nDate: ${'0 '.repeat(n / 20)}\r\n\r\nx\r\n`],
    ['Authentication-Results of separators', `${HEAD}\r\nx\r\n`, { authResults: [';=='.repeat(n / 3), 'spf=' + ' '.repeat(n)] }],
    ['a file name of dots', mime(part(`Content-Disposition: attachment; filename="${'.'.repeat(n / 10)}exe"`, 'x'))],
    ['ten thousand attachments', mime(part('Content-Type: application/octet-stream; name="a.pdf.exe"', 'x').repeat(10_000))],
  ];
  for (const [what, raw, extra] of cases) {
    const ms = await timed(raw, extra);
    assert.ok(ms < LINEAR_BOUND_MS, `${what}: ${ms} ms`);
  }
});
