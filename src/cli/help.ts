// --help and --version text, made from the command declarations: a command's
// help cannot forget an option it takes.
import { readFileSync } from 'node:fs';
import type { CliCommand, CliOption, OptionSpec } from './command.js';

/** Options every command takes (main.ts parses them). */
export const GLOBAL_OPTIONS: OptionSpec = {
  data: { type: 'string', placeholder: 'DIR', description: 'the data directory (default: $POSTINO_DATA, else ./data)' },
  config: { type: 'string', placeholder: 'FILE', description: 'the config file (default: DIR/postino.json when it exists)' },
  json: { type: 'boolean', description: 'machine-readable output, where the command has one' },
  help: { type: 'boolean', short: 'h', description: 'show this help and exit' },
};

function optionLine(name: string, option: CliOption): [string, string] {
  const short = option.short ? `-${option.short}, ` : '';
  const value = option.type === 'string' ? ` ${option.placeholder ?? 'VALUE'}` : '';
  const repeat = option.multiple ? ' (repeatable)' : '';
  return [`${short}--${name}${value}`, `${option.description ?? ''}${repeat}`];
}

function table(rows: Array<[string, string]>): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`.trimEnd());
}

/** `postino WORDS --help`. */
export function commandHelp(command: CliCommand): string {
  const name = `postino ${command.words.join(' ')}`;
  const lines = [`usage: ${name} ${command.usage}`.trimEnd()];
  if (command.summary) lines.push('', command.summary);
  const own = Object.entries(command.options ?? {});
  if (own.length > 0) lines.push('', 'options:', ...table(own.map(([n, o]) => optionLine(n, o))));
  lines.push('', 'common options:', ...table(Object.entries(GLOBAL_OPTIONS).map(([n, o]) => optionLine(n, o))));
  return lines.join('\n');
}

/** `postino --help`. */
export function overviewHelp(commands: readonly CliCommand[]): string {
  const entries = commands.flatMap((c) => {
    const summary = firstSentence(c.summary);
    return [`  ${c.words.join(' ')} ${c.usage}`.trimEnd(), ...(summary ? [`      ${summary}`] : [])];
  });
  return [
    'usage: postino COMMAND [ARGS] [--data DIR] [--config FILE] [--json]',
    '       postino COMMAND --help    what COMMAND does, and its options',
    '       postino --version',
    '',
    'commands:',
    ...entries,
  ].join('\n');
}

function firstSentence(text: string | undefined): string {
  if (!text) return '';
  const end = text.search(/\.(\s|$)/);
  return end < 0 ? text : text.slice(0, end);
}

/** The version in package.json (dist/src/cli/ -> the package root). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

/** parseArgs takes only its own keys. */
export function parseArgsOptions(spec: OptionSpec): OptionSpec {
  return Object.fromEntries(Object.entries(spec).map(([name, { description: _d, placeholder: _p, ...option }]) => [name, option]));
}
