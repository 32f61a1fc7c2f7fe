// The ManageSieve receiver alone: framing of atoms, quoted strings and both
// kinds of literal, fed in any chunking; and hostile input (huge literal
// announcements, unterminated quoted strings, NULs, endless lines) answered
// with an error while memory stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManageSieveReceiver, type ReceivedItem } from '../../../src/protocol/managesieve/receiver.js';

const options = () => ({ maxLineLength: 2048, maxLiteral: 4096, maxSkippedLiteral: 64 * 1024, maxTokens: 8 });

function all(r: ManageSieveReceiver): ReceivedItem[] {
  const out: ReceivedItem[] = [];
  for (let item = r.next(); item; item = r.next()) out.push(item);
  return out;
}

function feed(input: string | Buffer, chunk = Infinity): ReceivedItem[] {
  const r = new ManageSieveReceiver(options());
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const out: ReceivedItem[] = [];
  for (let i = 0; i < bytes.length; i += Math.min(chunk, bytes.length)) {
    r.push(bytes.subarray(i, i + chunk));
    out.push(...all(r));
  }
  return out;
}

/** Items in a compact form: lines as token lists, errors as "!text". */
function show(items: ReceivedItem[]): Array<string[] | string> {
  return items.map((i) =>
    i.kind === 'line'
      ? i.tokens.map((t) => (t.kind === 'atom' ? t.text : `${t.literal ? 'L' : 'Q'}:${t.value.toString('latin1')}`))
      : `${i.kind === 'fatal' ? '!!' : '!'}${i.text}`,
  );
}

test('atoms, quoted strings with escapes, and literals of both kinds, in any chunking', () => {
  const input = 'PUTSCRIPT "my \\"x\\" \\\\" {5+}\r\nkeep;\r\nRENAMESCRIPT {1}\r\na "b"\r\nHAVESPACE "s" 123\r\n\r\nlogout\n';
  const expected = [['PUTSCRIPT', 'Q:my "x" \\', 'L:keep;'], ['RENAMESCRIPT', 'L:a', 'Q:b'], ['HAVESPACE', 'Q:s', '123'], ['logout']];
  for (const chunk of [1, 2, 3, 7, Infinity]) assert.deepEqual(show(feed(input, chunk)), expected, `chunks of ${chunk}`);
});

test('a literal may hold CRLF, NUL and anything else', () => {
  const body = Buffer.from('a\r\nb\0c\xff\r\n', 'latin1');
  const items = feed(Buffer.concat([Buffer.from(`CHECKSCRIPT {${body.length}+}\r\n`), body, Buffer.from('\r\nNOOP\r\n')]));
  assert.equal(items.length, 2);
  const first = items[0]!;
  const token = first.kind === 'line' ? first.tokens[1] : undefined;
  assert.ok(token?.kind === 'string');
  assert.deepEqual(token.value, body);
});

test('hostile lines get an error and the next command is read as usual', () => {
  const cases: Array<[string, string]> = [
    ['GETSCRIPT "unterminated\r\n', '!Unterminated quoted string'],
    ['GETSCRIPT "nul\0inside"\r\n', '!Invalid character in quoted string'],
    ['GETSCRIPT "bad \\q escape"\r\n', '!Invalid escape in quoted string'],
    ['NO\0OP\r\n', '!Invalid character'],
    ['GETSCRIPT {5+} trailing\r\n', '!Invalid literal'],
    ['GETSCRIPT {+}\r\n', '!Invalid literal'],
    ['GETSCRIPT {99999999999999999999+}\r\n', '!Invalid literal'],
    [`GETSCRIPT "${'q'.repeat(1025)}"\r\n`, '!Quoted string too long'],
    [`NOOP ${'a '.repeat(20)}\r\n`, '!Too many arguments'],
    [`${'A'.repeat(100)}\r\n`, '!Atom too long'],
  ];
  for (const [line, error] of cases) {
    assert.deepEqual(show(feed(`${line}NOOP\r\n`)), [error, ['NOOP']], JSON.stringify(line));
  }
});

test('an endless line is dropped as it comes, answered once it ends', () => {
  const r = new ManageSieveReceiver(options());
  for (let i = 0; i < 1000; i++) {
    r.push(Buffer.alloc(1000, 0x61));
    assert.equal(r.next(), undefined);
    assert.ok(r.buffered <= 3000, `buffered ${r.buffered}`);
  }
  r.push(Buffer.from('\r\nNOOP\r\n'));
  assert.deepEqual(show(all(r)), ['!Line too long', ['NOOP']]);
});

test('a literal over the limit is skipped without being kept, then refused', () => {
  const r = new ManageSieveReceiver(options());
  r.push(Buffer.from('PUTSCRIPT "x" {50000+}\r\n'));
  for (let i = 0; i < 50; i++) {
    r.push(Buffer.alloc(1000, 0x62));
    assert.equal(r.next(), undefined);
    assert.equal(r.buffered, 0, 'skipped bytes are not kept');
  }
  r.push(Buffer.from('\r\nNOOP\r\n'));
  const items = all(r);
  assert.deepEqual(show(items), ['!Literal too big', ['NOOP']]);
  const refusal = items[0]!;
  assert.equal(refusal.kind === 'error' && refusal.tooBig, true);
});

test('the {n} form is bounded like {n+}', () => {
  assert.deepEqual(show(feed(`PUTSCRIPT "x" {5000}\r\n${'c'.repeat(5000)}\r\nNOOP\r\n`)), ['!Literal too big', ['NOOP']]);
  assert.deepEqual(show(feed('PUTSCRIPT "x" {4096}\r\n' + 'c'.repeat(4096) + '\r\n')).length, 1);
});

test('all the literals of one command together are bounded', () => {
  const items = feed(`RENAMESCRIPT {3000+}\r\n${'a'.repeat(3000)} {3000+}\r\n${'b'.repeat(3000)}\r\nNOOP\r\n`);
  assert.deepEqual(show(items), ['!Literal too big', ['NOOP']]);
});

test('a huge literal announcement ends the connection at once, keeping nothing', () => {
  for (const marker of ['{1000000000+}', '{999999999999999}', '{70000}']) {
    const r = new ManageSieveReceiver(options());
    r.push(Buffer.from(`PUTSCRIPT "x" ${marker}\r\n`));
    const items = all(r);
    assert.equal(items.length, 1, marker);
    assert.equal(items[0]!.kind, 'fatal', marker);
  }
});

test('reset() forgets everything, a literal half read included', () => {
  const r = new ManageSieveReceiver(options());
  r.push(Buffer.from('PUTSCRIPT "x" {100+}\r\nabc'));
  assert.equal(r.next(), undefined);
  r.reset();
  assert.equal(r.buffered, 0);
  r.push(Buffer.from('NOOP\r\n'));
  assert.deepEqual(show(all(r)), [['NOOP']]);
});

test('random bytes never throw and never hold more than a line and a literal', () => {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const r = new ManageSieveReceiver(options());
  const alphabet = Buffer.from('{}+"\\ \r\n\0aZ09(');
  for (let i = 0; i < 20_000; i++) {
    const n = Math.floor(rand() * 64);
    const b = Buffer.alloc(n);
    for (let k = 0; k < n; k++) b[k] = rand() < 0.7 ? alphabet[Math.floor(rand() * alphabet.length)]! : Math.floor(rand() * 256);
    r.push(b);
    for (let item = r.next(); item; item = r.next()) if (item.kind === 'fatal') r.reset();
    assert.ok(r.buffered <= 2048 + 4096 + 64, `buffered ${r.buffered}`);
  }
});
