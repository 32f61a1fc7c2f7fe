// postino sieve put|list|activate|deactivate|get|remove: an account's scripts, as ManageSieve stores them.
import { readFileSync } from 'node:fs';
import type { CliCommand, CliContext } from '../command.js';
import type { AccountRecord } from '../../../storage/ports.js';
import { withStorage } from '../storage-context.js';
import { SieveScriptService } from '../../services/sieve-scripts.js';
import { MailError } from '../../../storage/errors.js';
import { loadConfig } from '../../config.js';

function readScriptFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new MailError('BADINPUT', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** Runs fn with the script service and the named account. */
function withAccountScripts<T>(ctx: CliContext, address: string, fn: (service: SieveScriptService, account: AccountRecord) => T | Promise<T>): Promise<T> {
  return withStorage(ctx, async (storage) => {
    // The same quotas as ManageSieve: the config's sieve.maxScripts and sieve.maxScriptSize.
    const { maxScripts, maxScriptSize } = loadConfig(ctx.configPath).sieve;
    const service = new SieveScriptService(storage, { maxScripts, maxScriptSize });
    return fn(service, await service.account(address));
  });
}

export const scriptCommands: CliCommand[] = [
  {
    words: ['sieve', 'put'],
    usage: 'ADDR NAME FILE [--activate]',
    summary: "Stores a Sieve script for an account, validated as ManageSieve does (refused with the error's position).",
    options: { activate: { type: 'boolean', description: 'make it the active script too' } },
    minArgs: 3,
    maxArgs: 3,
    async run([address, name, file], options, ctx) {
      const text = readScriptFile(file!);
      await withAccountScripts(ctx, address!, (service, account) => service.put(account, name!, text, options.activate === true));
    },
  },
  {
    words: ['sieve', 'list'],
    usage: 'ADDR [--json]',
    summary: "Lists an account's Sieve scripts and which one is active.",
    minArgs: 1,
    maxArgs: 1,
    run: ([address], _, ctx) =>
      withAccountScripts(ctx, address!, async (service, account) => {
        const scripts = await service.list(account);
        if (ctx.json) ctx.out(JSON.stringify(scripts));
        else if (scripts.length > 0) ctx.out(scripts.map((s) => `${s.name}${s.active ? ' ACTIVE' : ''}`).join('\n'));
      }),
  },
  {
    words: ['sieve', 'activate'],
    usage: 'ADDR NAME',
    summary: 'Makes script NAME the one that runs on delivery to ADDR.',
    minArgs: 2,
    maxArgs: 2,
    run: ([address, name], _, ctx) => withAccountScripts(ctx, address!, (service, account) => service.activate(account, name!)),
  },
  {
    words: ['sieve', 'deactivate'],
    usage: 'ADDR',
    summary: 'Deactivates the active script of ADDR: mail is kept in INBOX.',
    minArgs: 1,
    maxArgs: 1,
    run: ([address], _, ctx) => withAccountScripts(ctx, address!, (service, account) => service.activate(account, undefined)),
  },
  {
    words: ['sieve', 'get'],
    usage: 'ADDR NAME',
    summary: 'Prints a stored script.',
    minArgs: 2,
    maxArgs: 2,
    run: ([address, name], _, ctx) =>
      withAccountScripts(ctx, address!, async (service, account) => {
        process.stdout.write(await service.get(account, name!));
      }),
  },
  {
    words: ['sieve', 'remove'],
    usage: 'ADDR NAME',
    summary: 'Removes a stored script.',
    minArgs: 2,
    maxArgs: 2,
    run: ([address, name], _, ctx) => withAccountScripts(ctx, address!, (service, account) => service.remove(account, name!)),
  },
];
