// postino queue list|flush|delete: the outbound queue (like postqueue -p, postqueue -f,
// postsuper -d), and beside it the local-retry queue (reason "local-retry": recipients
// of a message stored for others, retried by `serve`).
import type { CliCommand } from '../command.js';
import { withStorage } from '../storage-context.js';
import { MailError } from '../../../storage/errors.js';

export const queueCommands: CliCommand[] = [
  {
    words: ['queue', 'list'],
    usage: '[--json]',
    minArgs: 0,
    maxArgs: 0,
    run: (_, __, ctx) =>
      withStorage(ctx, async (storage) => {
        const now = Date.now();
        const rows = [...(await storage.queue.list()), ...(await storage.localRetry.list())].map((e) => ({
          id: e.id,
          sender: e.sender,
          recipients: e.recipients,
          age: Math.floor((now - e.created) / 1000),
          lastError: e.lastError,
          reason: e.reason,
          nextAttempt: new Date(e.nextAttempt).toISOString(),
        }));
        if (ctx.json) ctx.out(JSON.stringify(rows));
        else if (rows.length > 0)
          ctx.out(rows.map((r) => `${r.id} ${r.age}s ${r.reason} <${r.sender}> -> ${r.recipients.join(', ')}${r.lastError ? ` (${r.lastError})` : ''}`).join('\n'));
      }),
  },
  {
    words: ['queue', 'flush'],
    usage: '',
    minArgs: 0,
    maxArgs: 0,
    // `serve` sees the request at its next look at the queue (within seconds) and tries every entry.
    run: (_, __, ctx) => withStorage(ctx, (storage) => storage.localRetry.requestFlush()),
  },
  {
    words: ['queue', 'delete'],
    usage: 'ID',
    minArgs: 1,
    maxArgs: 1,
    run: ([id], _, ctx) =>
      withStorage(ctx, async (storage) => {
        if (await storage.queue.get(id!)) return storage.queue.remove(id!);
        if (await storage.localRetry.get(id!)) return storage.localRetry.remove(id!);
        throw new MailError('NONEXISTENT', `no such queue entry: ${id!}`);
      }),
  },
];
