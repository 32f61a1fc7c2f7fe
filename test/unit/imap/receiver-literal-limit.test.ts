// A lower literal limit for some commands (SETMETADATA, RFC 5464 4.3): a
// synchronising literal past it is refused before the client sends it, with
// the command's own response code; a non-synchronising one is skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapReceiver, type ReceivedItem } from '../../../src/protocol/imap/receiver.js';

function drain(r: ImapReceiver): ReceivedItem[] {
  const out: ReceivedItem[] = [];
  for (let i = r.next(); i !== undefined; i = r.next()) out.push(i);
  return out;
}

const limited = () =>
  new ImapReceiver({
    maxLineLength: 1000,
    maxLiteral: 100_000,
    literalLimitFor: (start) => (/^\S+ SETMETADATA /i.test(start) ? { max: 10, responseCode: 'METADATA MAXSIZE 10', text: 'too long' } : undefined),
  });

test('SETMETADATA with a synchronising literal past its limit: refused at once with its code, no continuation', () => {
  const r = limited();
  r.push(Buffer.from('a1 SETMETADATA INBOX (/private/comment {11}\r\n'));
  assert.deepEqual(drain(r), [{ kind: 'error', tag: 'a1', code: 'TOOBIG', text: 'too long', responseCode: 'METADATA MAXSIZE 10' }]);
  // The next command is read normally.
  r.push(Buffer.from('a2 NOOP\r\n'));
  assert.deepEqual(drain(r), [{ kind: 'command', command: { segments: ['a2 NOOP'], literals: [] } }]);
});

test('a non-synchronising literal past the limit is skipped, then refused with the code', () => {
  const r = limited();
  r.push(Buffer.from('a1 setmetadata INBOX (/private/comment {20+}\r\n01234567890123456789)\r\na2 NOOP\r\n'));
  assert.deepEqual(drain(r), [
    { kind: 'error', tag: 'a1', code: 'TOOBIG', text: 'too long', responseCode: 'METADATA MAXSIZE 10' },
    { kind: 'command', command: { segments: ['a2 NOOP'], literals: [] } },
  ]);
});

test('within the limit, and for other commands, literals pass as before', () => {
  const r = limited();
  r.push(Buffer.from('a1 SETMETADATA INBOX (/private/comment {10+}\r\n0123456789)\r\na2 APPEND INBOX {20+}\r\n01234567890123456789\r\n'));
  const items = drain(r);
  assert.equal(items.length, 2);
  assert.deepEqual(
    items.map((i) => (i.kind === 'command' ? i.command.literals.map((l) => l.length) : i.kind)),
    [[10], [20]],
  );
});
