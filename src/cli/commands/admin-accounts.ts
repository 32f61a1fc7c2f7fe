// postino admin add|list|remove: administrators of the admin port (the
// bootstrap: the first superadmin is made here), over AdminAccountService.
import type { CliCommand } from '../command.js';
import { listOption } from '../command.js';
import { withStorage } from '../storage-context.js';
import { MailError } from '../../../storage/errors.js';
import { AdminAccountService } from '../../services/admin-accounts.js';

export const adminAccountCommands: CliCommand[] = [
  {
    words: ['admin', 'add'],
    usage: 'NAME --password-stdin [--domain D]...',
    summary: 'Makes an administrator of the admin port (web panel and HTTP API): a superadmin, or with --domain an admin of those domains only.',
    options: {
      'password-stdin': { type: 'boolean', description: 'read the password from standard input (required)' },
      domain: { type: 'string', multiple: true, placeholder: 'D', description: 'a domain this admin manages (repeat for several); none makes a superadmin' },
    },
    minArgs: 1,
    maxArgs: 1,
    async run([name], options, ctx) {
      if (options['password-stdin'] !== true) throw new MailError('BADINPUT', '--password-stdin is required (the password is read from stdin)');
      const password = (await ctx.readStdin()).toString('utf8').replace(/\r?\n$/, '');
      if (password === '') throw new MailError('BADINPUT', 'no password on stdin');
      const made = await withStorage(ctx, (storage) => new AdminAccountService(storage).add(name!, password, listOption(options, 'domain')));
      ctx.out(ctx.json ? JSON.stringify(made) : `added ${made.kind} ${made.username}${made.domains.length > 0 ? ` for ${made.domains.join(', ')}` : ''}`);
    },
  },
  {
    words: ['admin', 'list'],
    usage: '[--json]',
    summary: 'Lists the administrators, their kind and their domains.',
    minArgs: 0,
    maxArgs: 0,
    run: (_, __, ctx) =>
      withStorage(ctx, async (storage) => {
        const rows = await new AdminAccountService(storage).list();
        if (ctx.json) ctx.out(JSON.stringify(rows));
        else if (rows.length > 0) ctx.out(rows.map((a) => `${a.username} ${a.kind}${a.domains.length > 0 ? ` ${a.domains.join(',')}` : ''}`).join('\n'));
      }),
  },
  {
    words: ['admin', 'remove'],
    usage: 'NAME',
    summary: 'Removes an administrator and ends their sessions and tokens (the last superadmin stays).',
    minArgs: 1,
    maxArgs: 1,
    run: ([name], _, ctx) => withStorage(ctx, (storage) => new AdminAccountService(storage).remove(name!)),
  },
];
