// postino queue list|delete: the outbound queue (like postqueue -p, postsuper -d).
import type { CliCommand } from '../command.js';
import { withStorage } from '../storage-context.js';

export const queueCommands: CliCommand[] = [
  {
    words: ['queue', 'list'],
    usage: '[--json]',
    minArgs: 0,
    maxArgs: 0,
    run: (_, __, ctx) =>
      withStorage(ctx, (storage) => {
        const now = Date.now();
        const rows = storage.queue.list().map((e) => ({
          id: e.id,
          sender: e.sender,
          recipients: e.recipients,
          age: Math.floor((now - e.created) / 1000),
          lastError: e.lastError,
        }));
        if (ctx.json) ctx.out(JSON.stringify(rows));
        else if (rows.length > 0)
          ctx.out(rows.map((r) => `${r.id} ${r.age}s <${r.sender}> -> ${r.recipients.join(', ')}${r.lastError ? ` (${r.lastError})` : ''}`).join('\n'));
      }),
  },
  {
    words: ['queue', 'delete'],
    usage: 'ID',
    minArgs: 1,
    maxArgs: 1,
    run: ([id], _, ctx) => withStorage(ctx, (storage) => storage.queue.remove(id!)),
  },
];
