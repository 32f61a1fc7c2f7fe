// What a CLI command is: data (its words, options, argument counts) plus a
// handler. main.ts parses argv once and dispatches through the registry.
import type { ParseArgsConfig } from 'node:util';

type ParseArgsOption = NonNullable<ParseArgsConfig['options']>[string];

/** An option as parseArgs takes it, plus what --help says about it. */
export type CliOption = ParseArgsOption & {
  /** One line: what it does (shown by --help). */
  description?: string;
  /** The value's name in help, e.g. ADDR (string options). */
  placeholder?: string;
};
export type OptionSpec = Record<string, CliOption>;
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface CliContext {
  /** The data directory (--data, POSTINO_DATA, or ./data). */
  dataDir: string;
  /** The config file if one was given or exists at DIR/postino.json. */
  configPath: string | undefined;
  json: boolean;
  readStdin(): Promise<Buffer>;
  out(text: string): void;
  err(text: string): void;
}

export interface CliCommand {
  /** The words that name it, e.g. ['domain', 'add']. */
  words: string[];
  /** One line shown in help and in usage errors, e.g. 'D --postmaster ADDR'. */
  usage: string;
  /** What it does, for --help: a sentence or two. */
  summary?: string;
  options?: OptionSpec;
  minArgs: number;
  maxArgs: number;
  /** Returns the exit code (0 when omitted). Throw MailError for user errors. */
  run(args: string[], options: OptionValues, ctx: CliContext): Promise<number | void>;
}

export function stringOption(options: OptionValues, name: string): string | undefined {
  const v = options[name];
  return typeof v === 'string' ? v : undefined;
}

export function listOption(options: OptionValues, name: string): string[] {
  const v = options[name];
  if (Array.isArray(v)) return v;
  return typeof v === 'string' ? [v] : [];
}
