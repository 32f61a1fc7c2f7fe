// How a command or test is declared: its extension, tags, positional
// arguments and how it compiles. One declaration per file in sieve/commands/.
import type { ArgNode, CommandNode, Position, TestNode } from './ast.js';
import { SieveCompileError } from './errors.js';
import { strExpr, strListExpr, type StrExpr, type StrListExpr, type StringContext } from './strings.js';
import type { Exec, TestFn } from '../runtime/runtime.js';
import type { SieveLimits } from '../limits.js';

export type ArgKind = 'string' | 'stringlist' | 'number';

export interface TagDef {
  name: string;
  /** Capability that must be required for the tag to be used. */
  ext?: string;
  /** The tag takes one following argument of this kind. */
  arg?: ArgKind;
  /** Tags in the same group exclude each other (e.g. match types). */
  group?: string;
}

export interface CompileContext extends StringContext {
  caps: Set<string>;
  limits: SieveLimits;
  /** Compiles a nested test (for not/allof/anyof and if). */
  compileTest(node: TestNode, depth: number): TestFn;
  /** Compiles a block of commands. */
  compileBlock(nodes: CommandNode[], depth: number): Exec;
  /** Names of extensions that are known to the engine. */
  known: ReadonlySet<string>;
  depth: number;
  /** Does the script text refer to a match variable (${0}..${9})? If not, matches need no submatches. */
  matchVariablesUsed: boolean;
}

export class Parsed {
  constructor(
    readonly node: TestNode | CommandNode,
    readonly tags: Map<string, { pos: Position; value: ArgNode | undefined }>,
    readonly groups: Map<string, string>,
    readonly positional: ArgNode[],
    readonly ctx: CompileContext,
  ) {}

  has(tag: string): boolean {
    return this.tags.has(tag);
  }
  group(g: string): string | undefined {
    return this.groups.get(g);
  }
  fail(message: string, pos: Position = this.node.pos): never {
    throw new SieveCompileError(pos, message);
  }
  tagPos(tag: string): Position {
    return this.tags.get(tag)?.pos ?? this.node.pos;
  }
  rawString(a: ArgNode | undefined): string {
    if (a?.kind === 'string') return a.value;
    if (a?.kind === 'stringlist' && a.values.length === 1) return a.values[0] ?? '';
    return this.fail('expected a string');
  }
  rawList(a: ArgNode | undefined): string[] {
    if (a?.kind === 'string') return [a.value];
    if (a?.kind === 'stringlist') return a.values;
    return this.fail('expected a string list');
  }
  num(i: number): number {
    const a = this.positional[i];
    return a?.kind === 'number' ? a.value : this.fail('expected a number');
  }
  str(i: number): StrExpr {
    return strExpr(this.rawString(this.positional[i]), this.ctx);
  }
  list(i: number): StrListExpr {
    return strListExpr(this.rawList(this.positional[i]), this.ctx);
  }
  tagStr(tag: string): StrExpr | undefined {
    const t = this.tags.get(tag);
    return t ? strExpr(this.rawString(t.value), this.ctx) : undefined;
  }
  tagList(tag: string): StrListExpr | undefined {
    const t = this.tags.get(tag);
    return t ? strListExpr(this.rawList(t.value), this.ctx) : undefined;
  }
  tagNum(tag: string): number | undefined {
    const t = this.tags.get(tag);
    if (!t) return undefined;
    return t.value?.kind === 'number' ? t.value.value : this.fail(`:${tag} expects a number`, t.pos);
  }
  argPos(i: number): Position {
    return this.positional[i]?.pos ?? this.node.pos;
  }
}

interface BaseSpec {
  name: string;
  /** Capability the script must require (undefined: core RFC 5228). */
  ext?: string;
  tags: TagDef[];
  /** Kinds of the positional arguments, in order. */
  args: ArgKind[];
  /** How many of `args` are required (default: all). */
  minArgs?: number;
}

export interface CommandSpec extends BaseSpec {
  kind: 'command';
  compile(p: Parsed): Exec;
}

export interface TestSpec extends BaseSpec {
  kind: 'test';
  compile(p: Parsed): TestFn;
}

export type Spec = CommandSpec | TestSpec;
