// Text -> parse tree, with line:col on every node. Syntax errors come back as
// one positioned SieveCompileError saying what was expected.
import * as ohm from 'ohm-js';
import { sieveGrammarSource } from '../grammar/sieve-grammar.js';
import type { ArgNode, CommandNode, Position, ScriptNode, TestNode } from './ast.js';
import { SieveCompileError } from './errors.js';
import { fastParse } from './fast-parse.js';
import { LineTable, NUMBER_LIMIT, multilineValue, numberValue, unescapeQuoted } from './source-text.js';

/**
 * The grammar, built on first use: only scripts the hand-written parser
 * declines (syntax errors) need it, and building it costs tens of
 * milliseconds of CPU (and its JIT more), which every start of serve and
 * every `postino deliver` process paid before.
 */
let builtGrammar: ohm.Grammar | undefined;
function sieveGrammar(): ohm.Grammar {
  builtGrammar ??= ohm.grammar(sieveGrammarSource);
  return builtGrammar;
}

function makeSemantics(table: LineTable) {
  const semantics = sieveGrammar().createSemantics();
  const pos = (node: ohm.Node): Position => table.pos(node.source.startIdx);
  semantics.addOperation('ast', {
    Script(commands, _end) {
      return { commands: commands.children.map((c) => c['ast']() as CommandNode) } satisfies ScriptNode;
    },
    Command(ident, args, term) {
      const a = args['ast']() as { args: ArgNode[]; tests: TestNode[]; testList: boolean };
      const t = term['ast']() as { block: CommandNode[] | undefined; pos: Position | undefined };
      const node: CommandNode = {
        name: ident.sourceString.toLowerCase(),
        pos: pos(ident),
        args: a.args,
        tests: a.tests,
        testList: a.testList,
        block: t.block,
        blockPos: t.pos,
      };
      return node;
    },
    Terminator_semi(_s) {
      return { block: undefined, pos: undefined };
    },
    Terminator_block(block) {
      return { block: block['ast']() as CommandNode[], pos: pos(block) };
    },
    Block(_open, commands, _close) {
      return commands.children.map((c) => c['ast']() as CommandNode);
    },
    Arguments(args, testPart) {
      const tp = testPart.children[0];
      let tests: TestNode[] = [];
      let testList = false;
      if (tp) {
        const r = tp['ast']() as TestNode | TestNode[];
        if (Array.isArray(r)) {
          tests = r;
          testList = true;
        } else tests = [r];
      }
      return { args: args.children.map((a) => a['ast']() as ArgNode), tests, testList };
    },
    TestPart(t) {
      return t['ast']();
    },
    Argument(a) {
      return a['ast']();
    },
    TestList(_open, list, _close) {
      return list.asIteration().children.map((t) => t['ast']() as TestNode);
    },
    Test(ident, args) {
      const a = args['ast']() as { args: ArgNode[]; tests: TestNode[]; testList: boolean };
      return { name: ident.sourceString.toLowerCase(), pos: pos(ident), ...a } satisfies TestNode;
    },
    StringList_list(_open, list, _close) {
      const items = list.asIteration().children.map((s) => s['ast']() as { value: string; pos: Position });
      return { kind: 'stringlist', values: items.map((s) => s.value), pos: pos(this), itemPos: items.map((s) => s.pos) } satisfies ArgNode;
    },
    StringList_single(s) {
      return s['ast']();
    },
    string(s) {
      return s['ast']();
    },
    quoted(_o, chars, _c) {
      return { kind: 'string', value: unescapeQuoted(chars.sourceString), pos: pos(this), multiline: false } satisfies ArgNode;
    },
    multiline(_text, _sp, _first, lines, _dot, _nl) {
      return {
        kind: 'string',
        value: multilineValue(lines.children.map((l) => l.sourceString)),
        pos: pos(this),
        multiline: true,
      } satisfies ArgNode;
    },
    number(digits, quant) {
      const value = numberValue(digits.sourceString, quant.sourceString);
      if (value > NUMBER_LIMIT) throw new SieveCompileError(pos(this), `number '${this.sourceString}' is too large`);
      return { kind: 'number', value, pos: pos(this) } satisfies ArgNode;
    },
    tag(_colon, ident) {
      return { kind: 'tag', name: ident.sourceString.toLowerCase(), pos: pos(this) } satisfies ArgNode;
    },
  });
  return semantics;
}

/** Parses a script; throws SieveCompileError on a syntax error. */
export function parseScript(text: string): ScriptNode {
  const table = new LineTable(text);
  // The hand-written parser takes every well-formed script at a fraction of
  // ohm's cost; what it declines (a syntax error, an oversized number, odd
  // nesting) goes through the grammar, which gives the positioned message.
  const fast = fastParse(text, table);
  if (fast) return fast;
  return parseWithGrammar(text, table);
}

/** The ohm grammar: the reference, and the source of syntax error messages. */
export function parseWithGrammar(text: string, table: LineTable = new LineTable(text)): ScriptNode {
  const match = sieveGrammar().match(text);
  if (match.failed()) {
    const idx = match.getRightmostFailurePosition();
    let expected = '';
    try {
      expected = match.getExpectedText();
    } catch {
      expected = '';
    }
    const found = describeFound(text, idx);
    if (text.startsWith('/*', idx)) throw new SieveCompileError(table.pos(idx), 'syntax error: unterminated comment (missing "*/")');
    if (idx >= text.length && expected === '"\\""') {
      const start = text.lastIndexOf('"');
      throw new SieveCompileError(table.pos(start < 0 ? idx : start), 'syntax error: unterminated string (missing closing \'"\')');
    }
    if (idx >= text.length && expected === '"."') {
      const start = text.lastIndexOf('text:');
      throw new SieveCompileError(table.pos(start < 0 ? idx : start), 'syntax error: unterminated multi-line string (missing a line with a single ".")');
    }
    throw new SieveCompileError(table.pos(idx), `syntax error: unexpected ${found}${expected ? `, expected ${expected}` : ''}`);
  }
  return makeSemantics(table)(match)['ast']() as ScriptNode;
}

function describeFound(text: string, idx: number): string {
  if (idx >= text.length) return 'end of script';
  const ch = text[idx] ?? '';
  if (/[A-Za-z_]/.test(ch)) return `'${/^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(idx))?.[0] ?? ch}'`;
  if (ch === '\n' || ch === '\r') return 'end of line';
  return `'${ch}'`;
}
