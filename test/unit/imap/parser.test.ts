import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommand, TaggedParseError, ImapParseError, flagList, type Arg } from '../../../src/protocol/imap/parser.js';

const cmd = (line: string, literals: string[] = []) => {
  const segments = line.split('\u0001');
  return parseCommand({ segments, literals: literals.map((l) => Buffer.from(l)) });
};

const atom = (value: string): Arg => ({ type: 'atom', value });
const str = (value: string, literal = false): Arg => ({ type: 'string', value: Buffer.from(value), literal });

test('tag, name and atoms, quoted strings, lists', () => {
  const p = cmd('a1 login "alice@example.test" "p\\"w\\\\d"');
  assert.equal(p.tag, 'a1');
  assert.equal(p.name, 'LOGIN');
  assert.deepEqual(p.args, [str('alice@example.test'), str('p"w\\d')]);
  const f = cmd('x FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100> UID)');
  assert.deepEqual(f.args, [atom('1:*'), { type: 'list', items: [atom('FLAGS'), atom('BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>'), atom('UID')] }]);
});

test('UID commands are named "UID X"; nested and empty lists', () => {
  const p = cmd('t UID SEARCH OR (SEEN FLAGGED) () NOT DELETED');
  assert.equal(p.name, 'UID SEARCH');
  assert.deepEqual(p.args[1], { type: 'list', items: [atom('SEEN'), atom('FLAGGED')] });
  assert.deepEqual(p.args[2], { type: 'list', items: [] });
});

test('literals are taken from the receiver in order', () => {
  const p = cmd('a APPEND {5}\u0001 (\\Seen) {3+}\u0001', ['INBOX', 'abc']);
  assert.deepEqual(p.args, [str('INBOX', true), { type: 'list', items: [atom('\\Seen')] }, str('abc', true)]);
});

test('malformed input: BAD with the tag when one was read', () => {
  for (const bad of ['a1 SELECT "open', 'a1 FETCH (1', 'a1 FETCH 1)', 'a1 SELECT  INBOX', 'a1 STORE 1 FLAGS (\\Seen))']) {
    assert.throws(() => cmd(bad), (e: unknown) => e instanceof TaggedParseError && e.tag === 'a1', bad);
  }
  assert.throws(() => cmd(''), (e: unknown) => e instanceof ImapParseError && !(e instanceof TaggedParseError));
  assert.throws(() => cmd('+ NOOP'), ImapParseError);
  assert.throws(() => cmd('a1'), TaggedParseError);
  assert.throws(() => cmd('a1 123'), TaggedParseError);
});

test('flag lists: system flags checked, keywords kept, \\Recent refused', () => {
  assert.deepEqual(flagList([{ type: 'list', items: [atom('\\seen'), atom('$Work')] }]), ['\\seen', '$Work']);
  assert.throws(() => flagList([atom('\\Recent')]));
  assert.throws(() => flagList([atom('\\Bogus')]));
  assert.throws(() => flagList([str('x')]));
});
