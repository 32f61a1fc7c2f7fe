// The parse tree of a Sieve script: what the grammar saw, with positions.
// Identifiers and tags are lower-cased here (Sieve is case-insensitive for
// them); strings are kept exactly, escapes and dot-stuffing already undone.

export interface Position {
  line: number;
  col: number;
}

export type ArgNode =
  | { kind: 'tag'; name: string; pos: Position }
  | { kind: 'number'; value: number; pos: Position }
  | { kind: 'string'; value: string; pos: Position; multiline: boolean }
  /** `itemPos[i]` is where `values[i]` starts (errors name the line of the string itself). */
  | { kind: 'stringlist'; values: string[]; pos: Position; itemPos?: Position[] };

export interface TestNode {
  name: string;
  pos: Position;
  args: ArgNode[];
  tests: TestNode[];
  /** True when the tests came in a parenthesised list (allof/anyof). */
  testList: boolean;
}

export interface CommandNode extends TestNode {
  /** Undefined for commands ended by ';'. */
  block: CommandNode[] | undefined;
  blockPos: Position | undefined;
}

export interface ScriptNode {
  commands: CommandNode[];
}
