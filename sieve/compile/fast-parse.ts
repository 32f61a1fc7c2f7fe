// A hand-written parser for the grammar in ../grammar/sieve.ohm, linear in
// the text: one pass, no memo table, no backtracking. It follows the PEG's
// choices exactly and builds the same tree as the grammar's semantics, but it
// only handles scripts the grammar accepts: at anything doubtful (a syntax
// error, a non-ASCII character where an identifier could go, a number too
// large, very deep nesting) it gives up and returns undefined, and parse.ts
// runs the ohm grammar, which gives the positioned error message. The unit
// test fast-parse.test.ts checks both parsers agree on the test scripts.
import type { ArgNode, CommandNode, ScriptNode, TestNode } from './ast.js';
import { NUMBER_LIMIT, multilineValue, numberValue, unescapeQuoted, type LineTable } from './source-text.js';

/** Deeper than this (blocks plus tests), the grammar decides (it may overflow the stack, and that has its own message). */
const MAX_DEPTH = 100;

const GIVE_UP = Symbol('give up');

type Args = { args: ArgNode[]; tests: TestNode[]; testList: boolean };

function identStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}

function identChar(c: number): boolean {
  return identStart(c) || (c >= 48 && c <= 57);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function fastParse(text: string, table: LineTable): ScriptNode | undefined {
  const n = text.length;
  let i = 0;
  let depth = 0;
  const at = (k: number): number => text.charCodeAt(k); // NaN past the end
  const giveUp = (): never => {
    throw GIVE_UP;
  };

  /** The grammar's `space`: characters up to " ", # comments, bracket comments. */
  function skip(): void {
    for (;;) {
      const c = at(i);
      if (c <= 32) i++;
      else if (c === 35) {
        const nl = text.indexOf('\n', i);
        i = nl < 0 ? n : nl + 1;
      } else if (c === 47 && at(i + 1) === 42) {
        const end = text.indexOf('*/', i + 2);
        if (end < 0) return; // not a comment: whatever comes next fails
        i = end + 2;
      } else return;
    }
  }

  function identifier(): string {
    const start = i;
    if (!identStart(at(i))) giveUp();
    i++;
    while (identChar(at(i))) i++;
    if (at(i) >= 128) giveUp(); // could be a Unicode letter, part of the identifier
    return text.slice(start, i);
  }

  function quoted(): ArgNode {
    const start = i;
    i++;
    for (;;) {
      const c = at(i);
      if (c === 92) {
        if (i + 1 >= n) giveUp();
        i += 2;
      } else if (c === 34) break;
      else if (i >= n) giveUp();
      else i++;
    }
    const value = unescapeQuoted(text.slice(start + 1, i));
    i++;
    return { kind: 'string', value, pos: table.pos(start), multiline: false };
  }

  /** At "text:": a multi-line string, or give up (the grammar may read `text` as an identifier then). */
  function multiline(): ArgNode {
    const start = i;
    i += 5;
    while (at(i) === 32 || at(i) === 9) i++;
    if (at(i) === 35) {
      const nl = text.indexOf('\n', i);
      if (nl < 0) giveUp();
      i = nl + 1;
    } else if (at(i) === 13 && at(i + 1) === 10) i += 2;
    else if (at(i) === 10) i++;
    else giveUp();
    const lines: string[] = [];
    for (;;) {
      if (at(i) === 46) {
        if (at(i + 1) === 10) {
          i += 2;
          break;
        }
        if (at(i + 1) === 13 && at(i + 2) === 10) {
          i += 3;
          break;
        }
      }
      const nl = text.indexOf('\n', i);
      if (nl < 0) giveUp();
      lines.push(text.slice(i, nl + 1));
      i = nl + 1;
    }
    return { kind: 'string', value: multilineValue(lines), pos: table.pos(start), multiline: true };
  }

  function isMultilineStart(): boolean {
    return at(i) === 116 && text.startsWith('text:', i);
  }

  function string(): ArgNode {
    if (at(i) === 34) return quoted();
    if (isMultilineStart()) return multiline();
    return giveUp();
  }

  function stringList(): ArgNode {
    const start = i;
    i++;
    const values: string[] = [];
    const itemPos: Array<{ line: number; col: number }> = [];
    skip();
    if (at(i) === 93) i++;
    else
      for (;;) {
        const s = string() as Extract<ArgNode, { kind: 'string' }>;
        values.push(s.value);
        itemPos.push(s.pos);
        skip();
        if (at(i) === 44) {
          i++;
          skip();
        } else if (at(i) === 93) {
          i++;
          break;
        } else giveUp();
      }
    return { kind: 'stringlist', values, pos: table.pos(start), itemPos };
  }

  function number(): ArgNode {
    const start = i;
    while (isDigit(at(i))) i++;
    const digitsEnd = i;
    const q = at(i);
    // K M G k m g
    if (q === 75 || q === 77 || q === 71 || q === 107 || q === 109 || q === 103) i++;
    const value = numberValue(text.slice(start, digitsEnd), text.slice(digitsEnd, i));
    if (!(value <= NUMBER_LIMIT)) giveUp(); // the grammar's semantics word that error
    return { kind: 'number', value, pos: table.pos(start) };
  }

  function tag(): ArgNode {
    const start = i;
    i++;
    const name = identifier().toLowerCase();
    return { kind: 'tag', name, pos: table.pos(start) };
  }

  function enter(): void {
    if (++depth > MAX_DEPTH) giveUp();
  }

  /** Arguments = Argument* TestPart? */
  function args(): Args {
    const list: ArgNode[] = [];
    for (;;) {
      skip();
      const c = at(i);
      if (c === 91) list.push(stringList());
      else if (c === 34) list.push(quoted());
      else if (isDigit(c)) list.push(number());
      else if (c === 58) list.push(tag());
      else if (isMultilineStart()) list.push(multiline());
      else break;
    }
    const c = at(i);
    if (c === 40) {
      i++;
      enter();
      const tests: TestNode[] = [];
      skip();
      if (at(i) === 41) i++;
      else
        for (;;) {
          tests.push(test());
          skip();
          if (at(i) === 44) i++;
          else if (at(i) === 41) {
            i++;
            break;
          } else giveUp();
        }
      depth--;
      return { args: list, tests, testList: true };
    }
    if (identStart(c)) {
      enter();
      const t = test();
      depth--;
      return { args: list, tests: [t], testList: false };
    }
    if (c >= 128) giveUp();
    return { args: list, tests: [], testList: false };
  }

  function test(): TestNode {
    skip();
    const start = i;
    const name = identifier().toLowerCase();
    const a = args();
    return { name, pos: table.pos(start), ...a };
  }

  function command(): CommandNode {
    skip();
    const start = i;
    const name = identifier().toLowerCase();
    const a = args();
    skip();
    const c = at(i);
    if (c === 59) {
      i++;
      return { name, pos: table.pos(start), args: a.args, tests: a.tests, testList: a.testList, block: undefined, blockPos: undefined };
    }
    if (c !== 123) giveUp();
    const blockStart = i;
    i++;
    enter();
    const block: CommandNode[] = [];
    for (;;) {
      skip();
      if (at(i) === 125) {
        i++;
        break;
      }
      block.push(command());
    }
    depth--;
    return { name, pos: table.pos(start), args: a.args, tests: a.tests, testList: a.testList, block, blockPos: table.pos(blockStart) };
  }

  try {
    const commands: CommandNode[] = [];
    for (;;) {
      skip();
      if (i >= n) break;
      commands.push(command());
    }
    return { commands };
  } catch (e) {
    if (e === GIVE_UP || e instanceof RangeError) return undefined;
    throw e;
  }
}
