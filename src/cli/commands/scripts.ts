// postino sieve put|list|activate|deactivate|get|remove: an account's scripts, as ManageSieve stores them.
import { readFileSync } from 'node:fs';
import type { CliCommand } from '../command.js';
import { withStorage } from '../storage-context.js';
import { SieveScriptService } from '../../services/sieve-scripts.js';
import { MailError } from '../../../storage/errors.js';

function readScriptFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new MailError('BADINPUT', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

export const scriptCommands: CliCommand[] = [
  {
    words: ['sieve', 'put'],
    usage: 'ADDR NAME FILE [--activate]',
    options: { activate: { type: 'boolean' } },
    minArgs: 3,
    maxArgs: 3,
    async run([address, name, file], options, ctx) {
      const text = readScriptFile(file!);
      await withStorage(ctx, (storage) => {
        const service = new SieveScriptService(storage);
        service.put(service.account(address!), name!, text, options.activate === true);
      });
    },
  },
  {
    words: ['sieve', 'list'],
    usage: 'ADDR [--json]',
    minArgs: 1,
    maxArgs: 1,
    run: ([address], _, ctx) =>
      withStorage(ctx, (storage) => {
        const service = new SieveScriptService(storage);
        const scripts = service.list(service.account(address!));
        if (ctx.json) ctx.out(JSON.stringify(scripts));
        else if (scripts.length > 0) ctx.out(scripts.map((s) => `${s.name}${s.active ? ' ACTIVE' : ''}`).join('\n'));
      }),
  },
  {
    words: ['sieve', 'activate'],
    usage: 'ADDR NAME',
    minArgs: 2,
    maxArgs: 2,
    run: ([address, name], _, ctx) =>
      withStorage(ctx, (storage) => {
        const service = new SieveScriptService(storage);
        service.activate(service.account(address!), name!);
      }),
  },
  {
    words: ['sieve', 'deactivate'],
    usage: 'ADDR',
    minArgs: 1,
    maxArgs: 1,
    run: ([address], _, ctx) =>
      withStorage(ctx, (storage) => {
        const service = new SieveScriptService(storage);
        service.activate(service.account(address!), undefined);
      }),
  },
  {
    words: ['sieve', 'get'],
    usage: 'ADDR NAME',
    minArgs: 2,
    maxArgs: 2,
    run: ([address, name], _, ctx) =>
      withStorage(ctx, (storage) => {
        const service = new SieveScriptService(storage);
        process.stdout.write(service.get(service.account(address!), name!));
      }),
  },
  {
    words: ['sieve', 'remove'],
    usage: 'ADDR NAME',
    minArgs: 2,
    maxArgs: 2,
    run: ([address, name], _, ctx) =>
      withStorage(ctx, (storage) => {
        const service = new SieveScriptService(storage);
        service.remove(service.account(address!), name!);
      }),
  },
];
