// Validation and lowering in one pass: each node is checked against its
// declaration (require, tags, argument kinds and counts) and turned into a
// closure. The result is immutable and shared by every evaluation.
import type { ArgNode, CommandNode, ScriptNode, TestNode } from './ast.js';
import { SieveCompileError } from './errors.js';
import { Parsed, type ArgKind, type CompileContext, type Spec } from './spec.js';
import { encodedCharacterErrorText, invalidEncodedCharacter } from './strings.js';
import { commandSpecs, testSpecs, knownCapabilities, extensionOf } from '../commands/registry.js';
import { FLOW_NEXT, type Exec, type Flow, type Runtime, type TestFn } from '../runtime/runtime.js';
import type { SieveLimits } from '../limits.js';

export interface CompiledScript {
  run: Exec;
  requires: string[];
}

function kindName(a: ArgNode): string {
  return a.kind === 'stringlist' ? 'string list' : a.kind === 'tag' ? `tag ':${a.name}'` : a.kind;
}

function accepts(kind: ArgKind, a: ArgNode): boolean {
  if (kind === 'number') return a.kind === 'number';
  // Pigeonhole refuses a one-element list where a string is required, and so do we.
  if (kind === 'string') return a.kind === 'string';
  return a.kind === 'string' || a.kind === 'stringlist';
}

function argKindText(k: ArgKind): string {
  return k === 'stringlist' ? 'a string list' : k === 'string' ? 'a string' : 'a number';
}

function parseArgs(spec: Spec, node: TestNode, ctx: CompileContext, what: string): Parsed {
  const tags = new Map<string, { pos: { line: number; col: number }; value: ArgNode | undefined }>();
  const groups = new Map<string, string>();
  const positional: ArgNode[] = [];
  const args = node.args;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.kind !== 'tag') {
      positional.push(a);
      continue;
    }
    const def = spec.tags.find((t) => t.name === a.name);
    if (!def) throw new SieveCompileError(a.pos, `unknown tagged argument ':${a.name}' for the ${spec.name} ${what}`);
    if (def.ext && !ctx.caps.has(def.ext)) throw new SieveCompileError(a.pos, `:${a.name} used without require "${def.ext}"`);
    if (positional.length > 0)
      throw new SieveCompileError(a.pos, `tagged argument ':${a.name}' must come before the positional arguments of ${spec.name}`);
    if (tags.has(a.name)) throw new SieveCompileError(a.pos, `tagged argument ':${a.name}' given more than once`);
    if (def.group) {
      const other = groups.get(def.group);
      if (other) throw new SieveCompileError(a.pos, `:${a.name} cannot be used together with :${other}`);
      groups.set(def.group, a.name);
    }
    let value: ArgNode | undefined;
    if (def.arg) {
      const next = args[i + 1];
      if (!next || !accepts(def.arg, next))
        throw new SieveCompileError(next?.pos ?? a.pos, `:${a.name} requires ${argKindText(def.arg)} argument${next ? `, found ${kindName(next)}` : ''}`);
      value = next;
      i++;
    }
    tags.set(a.name, { pos: a.pos, value });
  }
  const min = spec.minArgs ?? spec.args.length;
  if (positional.length < min)
    throw new SieveCompileError(positional.at(-1)?.pos ?? node.pos, `the ${spec.name} ${what} requires ${min} positional argument${min === 1 ? '' : 's'}, found ${positional.length}`);
  if (positional.length > spec.args.length) {
    const extra = positional[spec.args.length]!;
    throw new SieveCompileError(extra.pos, `the ${spec.name} ${what} takes ${spec.args.length === 0 ? 'no' : `at most ${spec.args.length}`} positional argument${spec.args.length === 1 ? '' : 's'}, found an extra ${kindName(extra)}`);
  }
  positional.forEach((a, i) => {
    const k = spec.args[i]!;
    if (!accepts(k, a)) throw new SieveCompileError(a.pos, `the ${spec.name} ${what} expects ${argKindText(k)} as argument ${i + 1}, found ${kindName(a)}`);
  });
  if (ctx.encodedCharacter) checkEncodedCharacters(args);
  return new Parsed(node, tags, groups, positional, ctx);
}

/** RFC 5228 2.4.2.4: a ${unicode:...} naming no Unicode character is an error, in any string argument. */
function checkEncodedCharacters(args: ArgNode[]): void {
  for (const a of args) {
    if (a.kind !== 'string' && a.kind !== 'stringlist') continue;
    const values = a.kind === 'string' ? [a.value] : a.values;
    values.forEach((v, i) => {
      const cp = invalidEncodedCharacter(v);
      if (cp === undefined) return;
      const pos = a.kind === 'stringlist' ? (a.itemPos?.[i] ?? a.pos) : a.pos;
      throw new SieveCompileError(pos, encodedCharacterErrorText(cp));
    });
  }
}

function noArgs(node: TestNode, what: string): void {
  const a = node.args[0];
  if (a) throw new SieveCompileError(a.pos, `the ${node.name} ${what} takes no arguments`);
}

function checkKnown(name: string, pos: { line: number; col: number }, ctx: CompileContext, kind: 'command' | 'test'): Spec {
  const spec = kind === 'command' ? commandSpecs.get(name) : testSpecs.get(name);
  if (!spec) {
    // A test used as a command or the other way round gets a precise message.
    const other = kind === 'command' ? testSpecs.get(name) : commandSpecs.get(name);
    if (other) throw new SieveCompileError(pos, `'${name}' is a ${kind === 'command' ? 'test' : 'command'}, not a ${kind}`);
    throw new SieveCompileError(pos, `unknown ${kind} '${name}'`);
  }
  if (spec.ext && !ctx.caps.has(spec.ext)) throw new SieveCompileError(pos, `${name} used without require "${spec.ext}"`);
  return spec;
}

function makeContext(caps: Set<string>, limits: SieveLimits, matchVariablesUsed: boolean): CompileContext {
  const ctx: CompileContext = {
    caps,
    limits,
    matchVariablesUsed,
    known: knownCapabilities,
    depth: 0,
    variables: caps.has('variables'),
    encodedCharacter: caps.has('encoded-character'),
    compileTest: (node, depth) => compileTest(node, ctx, depth),
    compileBlock: (nodes, depth) => compileBlock(nodes, ctx, depth),
  };
  return ctx;
}

function compileTest(node: TestNode, ctx: CompileContext, depth: number): TestFn {
  if (depth > ctx.limits.maxNesting) throw new SieveCompileError(node.pos, `tests nested too deeply (limit ${ctx.limits.maxNesting})`);
  switch (node.name) {
    case 'true':
    case 'false': {
      noArgs(node, 'test');
      if (node.tests.length) throw new SieveCompileError(node.tests[0]!.pos, `the ${node.name} test takes no tests`);
      const v = node.name === 'true';
      return () => v;
    }
    case 'not': {
      noArgs(node, 'test');
      const t = node.tests[0];
      if (!t || node.tests.length !== 1 || node.testList) throw new SieveCompileError(node.pos, 'the not test requires exactly one test');
      const inner = compileTest(t, ctx, depth + 1);
      return (rt) => !inner(rt);
    }
    case 'allof':
    case 'anyof': {
      noArgs(node, 'test');
      if (!node.testList || node.tests.length === 0) throw new SieveCompileError(node.pos, `the ${node.name} test requires a list of tests`);
      const inner = node.tests.map((t) => compileTest(t, ctx, depth + 1));
      if (node.name === 'allof')
        return (rt) => {
          for (const t of inner) if (!t(rt)) return false;
          return true;
        };
      return (rt) => {
        for (const t of inner) if (t(rt)) return true;
        return false;
      };
    }
  }
  const spec = checkKnown(node.name, node.pos, ctx, 'test');
  if (node.tests.length > 0) throw new SieveCompileError(node.tests[0]!.pos, `the ${node.name} test takes no tests`);
  const parsed = parseArgs(spec, node, ctx, 'test');
  return (spec as Extract<Spec, { kind: 'test' }>).compile(parsed);
}

/** The capabilities an `ihave` test guarantees inside its if-block (all constant and known). */
function ihaveCaps(test: TestNode, ctx: CompileContext): string[] | 'unavailable' | undefined {
  if (!ctx.caps.has('ihave')) return undefined;
  if (test.name === 'allof') {
    // allof (ihave "x", ...) guarantees x in the block just as well.
    const found: string[] = [];
    for (const t of test.tests) {
      const r = ihaveCaps(t, ctx);
      if (r === 'unavailable') return r;
      if (r) found.push(...r);
    }
    return found.length ? found : undefined;
  }
  if (test.name !== 'ihave') return undefined;
  const a = test.args[0];
  if (!a || test.args.length !== 1 || a.kind === 'tag' || a.kind === 'number') return undefined;
  const names = (a.kind === 'string' ? [a.value] : a.values).map((s) => s.toLowerCase());
  if (!names.every((n) => knownCapabilities.has(n))) return 'unavailable';
  return names.flatMap((n) => [n, ...(extensionOf.implies.get(n) ?? [])]);
}

function compileBlock(nodes: CommandNode[], ctx: CompileContext, depth: number): Exec {
  if (depth > ctx.limits.maxNesting) throw new SieveCompileError(nodes[0]?.pos ?? { line: 1, col: 1 }, `blocks nested too deeply (limit ${ctx.limits.maxNesting})`);
  const execs: Exec[] = [];
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    if (node.name === 'require') throw new SieveCompileError(node.pos, 'require is only allowed at the beginning of the script');
    if (node.name === 'elsif' || node.name === 'else') throw new SieveCompileError(node.pos, `${node.name} without a preceding if`);
    if (node.name === 'if') {
      const branches: Array<{ test: TestFn; block: Exec }> = [];
      let elseBlock: Exec | undefined;
      let cur: CommandNode | undefined = node;
      while (cur) {
        const isElse: boolean = cur.name === 'else';
        if (!cur.block) throw new SieveCompileError(cur.pos, `the ${cur.name} command requires a block`);
        if (isElse) {
          noArgs(cur, 'command');
          if (cur.tests.length) throw new SieveCompileError(cur.tests[0]!.pos, 'else takes no test');
          elseBlock = compileBlock(cur.block, ctx, depth + 1);
        } else {
          noArgs(cur, 'command');
          const t = cur.tests[0];
          if (!t || cur.tests.length !== 1 || cur.testList) throw new SieveCompileError(cur.pos, `the ${cur.name} command requires exactly one test`);
          const test = compileTest(t, ctx, depth + 1);
          const extra = ihaveCaps(t, ctx);
          let block: Exec;
          if (extra === 'unavailable') block = () => FLOW_NEXT; // never runs: ihave is false
          else if (extra) {
            const inner = makeContext(new Set([...ctx.caps, ...extra]), ctx.limits, ctx.matchVariablesUsed);
            block = compileBlock(cur.block, inner, depth + 1);
          } else block = compileBlock(cur.block, ctx, depth + 1);
          branches.push({ test, block });
        }
        const next = nodes[i + 1];
        if (!isElse && next && (next.name === 'elsif' || next.name === 'else')) {
          cur = next;
          i++;
        } else cur = undefined;
      }
      const elseB = elseBlock;
      execs.push((rt) => {
        for (const b of branches) if (b.test(rt)) return b.block(rt);
        return elseB ? elseB(rt) : FLOW_NEXT;
      });
      continue;
    }
    const spec = checkKnown(node.name, node.pos, ctx, 'command');
    if (spec.kind !== 'command') throw new SieveCompileError(node.pos, `'${node.name}' is a test, not a command`);
    if (node.block) throw new SieveCompileError(node.blockPos ?? node.pos, `the ${node.name} command does not take a block`);
    if (node.tests.length > 0) throw new SieveCompileError(node.tests[0]!.pos, `the ${node.name} command takes no test (found '${node.tests[0]!.name}')`);
    execs.push(spec.compile(parseArgs(spec, node, ctx, 'command')));
  }
  if (execs.length === 1) return execs[0]!;
  return (rt: Runtime): Flow => {
    rt.charge(execs.length);
    for (const e of execs) {
      const f = e(rt);
      if (f !== FLOW_NEXT) return f;
    }
    return FLOW_NEXT;
  };
}

/** Validates and lowers a parsed script. Throws SieveCompileError. */
export function compileScript(script: ScriptNode, limits: SieveLimits, sourceText: string): CompiledScript {
  const caps = new Set<string>();
  let i = 0;
  const cmds = script.commands;
  for (; i < cmds.length && cmds[i]!.name === 'require'; i++) {
    const node = cmds[i]!;
    if (node.block) throw new SieveCompileError(node.blockPos ?? node.pos, 'the require command does not take a block');
    if (node.tests.length) throw new SieveCompileError(node.tests[0]!.pos, 'the require command takes no test');
    const a = node.args[0];
    if (!a || node.args.length !== 1 || (a.kind !== 'string' && a.kind !== 'stringlist'))
      throw new SieveCompileError(node.pos, 'the require command expects one string list of capabilities');
    for (const raw of a.kind === 'string' ? [a.value] : a.values) {
      const name = raw.toLowerCase();
      if (!knownCapabilities.has(name)) throw new SieveCompileError(a.pos, `require: unknown Sieve capability '${raw}'`);
      caps.add(name);
      // Extensions that imply others (RFC 5235: spamtestplus implies spamtest; RFC 6131 vacation-seconds implies vacation).
      for (const implied of extensionOf.implies.get(name) ?? []) caps.add(implied);
    }
  }
  // A conservative scan of the text (encoded-character could hide a reference, so that counts too).
  const matchVariablesUsed = /\$\{\s*[0-9]+\s*\}/.test(sourceText) || (caps.has('encoded-character') && sourceText.includes('${'));
  const ctx = makeContext(caps, limits, matchVariablesUsed);
  const run = compileBlock(cmds.slice(i), ctx, 0);
  return { run, requires: [...caps] };
}

