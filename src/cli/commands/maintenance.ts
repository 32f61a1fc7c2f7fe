// postino reindex: rebuilds the SQLite index from the Maildir.
import type { CliCommand } from '../command.js';
import { withStorage } from '../storage-context.js';
import { MailError } from '../../../storage/errors.js';
import { parseAddress, formatAddress } from '../../addresses.js';

export const maintenanceCommands: CliCommand[] = [
  {
    words: ['reindex'],
    usage: '[ADDR] [--check]',
    summary: 'Rebuilds the index of an account (or of all) from its Maildir files.',
    options: { check: { type: 'boolean', description: 'only reconcile: adopt files the index lacks, drop entries whose file is gone' } },
    minArgs: 0,
    maxArgs: 1,
    async run([addressInput], options, ctx) {
      await withStorage(ctx, async (storage) => {
        let accounts = await storage.directory.listAccounts();
        if (addressInput !== undefined) {
          const a = parseAddress(addressInput);
          const address = formatAddress({ local: a.local.toLowerCase(), domain: a.domain });
          const account = await storage.directory.getAccount(address);
          if (!account) throw new MailError('NONEXISTENT', `no such account: ${address}`);
          accounts = [account];
        }
        const rows: Array<{ address: string; messages: number; folders: number; adopted: number; dropped: number }> = [];
        for (const account of accounts) {
          // --check only reconciles (adopts unknown files, drops rows without one);
          // the default forgets the account's index and rebuilds it from the files.
          const r = await storage.mail.recoverAccount(account.id, { rebuild: options.check !== true });
          await storage.mail.provisionAccount(account.id);
          const folders = await storage.mail.listMailboxes(account.id);
          rows.push({
            address: account.address,
            messages: folders.reduce((n, f) => n + f.messages, 0),
            folders: folders.length,
            adopted: r.adopted,
            dropped: r.dropped,
          });
        }
        if (ctx.json) ctx.out(JSON.stringify(rows));
        else for (const r of rows) ctx.out(`${r.address}: ${r.messages} messages in ${r.folders} folders`);
      });
    },
  },
];
