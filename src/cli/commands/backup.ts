// postino backup DEST / postino restore SRC: a consistent copy of the data
// directory (while serve runs), and back into a new, empty data directory.
// The work is storage's (storage/backup.ts); this only words the outcome.
import type { CliCommand } from '../command.js';
import { backupDataDir, restoreDataDir } from '../../../storage/backup.js';

export const backupCommands: CliCommand[] = [
  {
    words: ['backup'],
    usage: 'DEST',
    summary: 'Copies the data directory, also while serve runs, into DEST (new or empty): a consistent snapshot of the index, the mail it lists, scripts, queue, keys and config.',
    minArgs: 1,
    maxArgs: 1,
    async run([dest], _options, ctx) {
      const m = await backupDataDir(ctx.dataDir, dest!);
      const c = m.counts;
      if (ctx.json) ctx.out(JSON.stringify(m));
      else {
        const gone = c.vanished > 0 ? ` (${c.vanished} expunged while copying)` : '';
        ctx.out(`backup of ${ctx.dataDir} in ${dest}: ${c.accounts} accounts, ${c.mailboxes} folders, ${c.messages} messages${gone}, ${c.files} files, ${c.bytes} bytes`);
      }
    },
  },
  {
    words: ['restore'],
    usage: 'SRC',
    summary: 'Restores a backup made by postino backup into the data directory, which must be new or empty.',
    minArgs: 1,
    maxArgs: 1,
    async run([src], _options, ctx) {
      const m = restoreDataDir(src!, ctx.dataDir);
      if (ctx.json) ctx.out(JSON.stringify(m));
      else ctx.out(`restored the backup of ${m.created} into ${ctx.dataDir}: ${m.counts.accounts} accounts, ${m.counts.messages} messages`);
    },
  },
];
