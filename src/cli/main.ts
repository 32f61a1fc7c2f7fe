// `postino`: parses argv, finds the command, runs it, turns errors into one
// stderr line and a non-zero exit.
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { CliCommand, CliContext, OptionValues } from './command.js';
import { allCommands } from './commands/index.js';
import { isMailError } from '../../storage/errors.js';
import { commandHelp, GLOBAL_OPTIONS, overviewHelp, packageVersion, parseArgsOptions } from './help.js';

class UsageError extends Error {}

function findCommand(argv: string[]): { command: CliCommand; rest: string[] } | undefined {
  let best: CliCommand | undefined;
  for (const c of allCommands) {
    if (c.words.every((w, i) => argv[i] === w) && (!best || c.words.length > best.words.length)) best = c;
  }
  return best && { command: best, rest: argv.slice(best.words.length) };
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function runCli(argv: string[]): Promise<number> {
  const found = findCommand(argv);
  if (!found) {
    if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') {
      process.stdout.write(`postino ${packageVersion()}\n`);
      return 0;
    }
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      process.stdout.write(overviewHelp(allCommands) + '\n');
      return argv.length === 0 ? 1 : 0;
    }
    process.stderr.write(`postino: unknown command '${argv.slice(0, 2).join(' ')}' (see postino --help)\n`);
    return 1;
  }
  const { command, rest } = found;
  const name = `postino ${command.words.join(' ')}`;
  try {
    let parsed: { values: OptionValues; positionals: string[] };
    try {
      parsed = parseArgs({
        args: rest,
        options: parseArgsOptions({ ...GLOBAL_OPTIONS, ...command.options }),
        allowPositionals: true,
        strict: true,
      }) as { values: OptionValues; positionals: string[] };
    } catch (err) {
      throw new UsageError((err as Error).message.split('\n')[0] ?? 'bad arguments');
    }
    if (parsed.values.help) {
      process.stdout.write(commandHelp(command) + '\n');
      return 0;
    }
    const n = parsed.positionals.length;
    if (n < command.minArgs) throw new UsageError(`missing argument (usage: ${name} ${command.usage})`);
    if (n > command.maxArgs) throw new UsageError(`too many arguments (usage: ${name} ${command.usage})`);

    const dataDir = path.resolve(
      (parsed.values.data as string | undefined) ?? process.env.POSTINO_DATA ?? 'data',
    );
    const explicitConfig = parsed.values.config as string | undefined;
    const defaultConfig = path.join(dataDir, 'postino.json');
    const ctx: CliContext = {
      dataDir,
      configPath: explicitConfig ? path.resolve(explicitConfig) : existsSync(defaultConfig) ? defaultConfig : undefined,
      json: parsed.values.json === true,
      readStdin,
      out: (text) => process.stdout.write(text.endsWith('\n') ? text : text + '\n'),
      err: (text) => process.stderr.write(text.endsWith('\n') ? text : text + '\n'),
    };
    const code = await command.run(parsed.positionals, parsed.values, ctx);
    return code ?? 0;
  } catch (err) {
    if (err instanceof UsageError || isMailError(err)) {
      if (isMailError(err) && err.code === 'INTERNAL') {
        process.stderr.write(`${name}: internal error: ${err.message}\n`);
        return 70;
      }
      process.stderr.write(`${name}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`${name}: internal error: ${(err as Error)?.message ?? String(err)}\n`);
    return 70;
  }
}

const code = await runCli(process.argv.slice(2));
// Let `serve` keep running: it sets process.exitCode itself and never returns here until done.
process.exitCode = code;
