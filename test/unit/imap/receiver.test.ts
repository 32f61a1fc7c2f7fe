import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapReceiver, type ReceivedItem } from '../../../src/protocol/imap/receiver.js';

function drain(r: ImapReceiver): ReceivedItem[] {
  const out: ReceivedItem[] = [];
  for (let i = r.next(); i !== undefined; i = r.next()) out.push(i);
  return out;
}

const opts = { maxLineLength: 100, maxLiteral: 1000 };

test('whole lines become commands; CRLF and bare LF both end a line', () => {
  const r = new ImapReceiver(opts);
  r.push(Buffer.from('a1 NOOP\r\na2 CAPA'));
  r.push(Buffer.from('BILITY\n'));
  const items = drain(r);
  assert.deepEqual(items, [
    { kind: 'command', command: { segments: ['a1 NOOP'], literals: [] } },
    { kind: 'command', command: { segments: ['a2 CAPABILITY'], literals: [] } },
  ]);
});

test('a synchronising literal asks for continuation once, then waits for its bytes', () => {
  const r = new ImapReceiver(opts);
  r.push(Buffer.from('a1 LOGIN {5}\r\n'));
  assert.deepEqual(r.next(), { kind: 'continue' });
  assert.equal(r.next(), undefined);
  r.push(Buffer.from('al'));
  assert.equal(r.next(), undefined);
  r.push(Buffer.from('ice "pw"\r\n'));
  const item = r.next();
  assert.ok(item && item.kind === 'command');
  assert.deepEqual(item.command.segments, ['a1 LOGIN {5}', ' "pw"']);
  assert.deepEqual(item.command.literals.map((l) => l.toString()), ['alice']);
});

test('LITERAL+ needs no continuation; literals may hold CRLF and any byte', () => {
  const r = new ImapReceiver(opts);
  r.push(Buffer.from('a1 APPEND INBOX {6+}\r\nx\r\n\0yz\r\n'));
  const item = r.next();
  assert.ok(item && item.kind === 'command');
  assert.deepEqual(item.command.literals[0], Buffer.from('x\r\n\0yz'));
  assert.deepEqual(item.command.segments, ['a1 APPEND INBOX {6+}', '']);
});

test('a synchronising literal over the limit is refused with the tag; the next command works', () => {
  const r = new ImapReceiver(opts);
  r.push(Buffer.from('a1 APPEND INBOX {5000}\r\na2 NOOP\r\n'));
  assert.deepEqual(r.next(), { kind: 'error', tag: 'a1', code: 'TOOBIG', text: 'Literal too big' });
  assert.deepEqual(r.next(), { kind: 'command', command: { segments: ['a2 NOOP'], literals: [] } });
});

test('a non-synchronising literal over the limit is skipped, then refused', () => {
  const r = new ImapReceiver(opts);
  r.push(Buffer.from('a1 APPEND INBOX {1500+}\r\n'));
  r.push(Buffer.alloc(1500, 0x41));
  r.push(Buffer.from(' more\r\na2 NOOP\r\n'));
  assert.deepEqual(r.next(), { kind: 'error', tag: 'a1', code: 'TOOBIG', text: 'Literal too big' });
  assert.deepEqual(r.next(), { kind: 'command', command: { segments: ['a2 NOOP'], literals: [] } });
});

test('an over-long line is dropped as a whole and reported once', () => {
  const r = new ImapReceiver(opts);
  r.push(Buffer.from('a1 ' + 'x'.repeat(150)));
  assert.equal(r.next(), undefined);
  r.push(Buffer.from('y'.repeat(50) + '\r\na2 NOOP\r\n'));
  const items = drain(r);
  assert.equal(items[0]!.kind, 'error');
  assert.equal((items[0] as { tag?: string }).tag, 'a1');
  assert.deepEqual(items[1], { kind: 'command', command: { segments: ['a2 NOOP'], literals: [] } });
});

test('raw line mode returns the next line as bytes (AUTHENTICATE, IDLE)', () => {
  const r = new ImapReceiver(opts);
  r.push(Buffer.from('DONE\r\na1 NOOP\r\n'));
  assert.deepEqual(r.next(true), { kind: 'line', line: Buffer.from('DONE') });
  assert.equal(r.next()!.kind, 'command');
});

test('reset drops buffered bytes (STARTTLS injection defence)', () => {
  const r = new ImapReceiver(opts);
  r.push(Buffer.from('a1 STARTTLS\r\na2 LOGIN x y\r\n'));
  assert.equal(r.next()!.kind, 'command');
  r.reset();
  assert.equal(r.next(), undefined);
  assert.equal(r.buffered, 0);
});
