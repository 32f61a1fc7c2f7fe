// postino queue list|flush|delete|hold|release: the outbound queue (like
// postqueue -p, postqueue -f / -i, postsuper -d / -h / -H), and beside it
// the local-retry queue (reason "local-retry": recipients of a message
// stored for others, retried by `serve`). Nothing here rewrites an entry
// the runner may be writing: holds and flushes are markers `serve` reads
// within a second; a delete removes the message first (see storage/queue.ts).
import type { CliCommand } from '../command.js';
import { withStorage } from '../storage-context.js';
import { MailError } from '../../../storage/errors.js';
import type { QueueStore, Storage } from '../../../storage/ports.js';
import { queueRow, type QueueRow } from '../../services/queue-view.js';

const row = queueRow;
type Row = QueueRow;

function humanAge(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** Like postqueue -p: the id ("!" when held), age, reason and sender, then each recipient with its state and last reply. */
function text(rows: Row[]): string {
  const lines: string[] = [];
  for (const r of rows) {
    lines.push(`${r.id}${r.held ? '!' : ' '} ${humanAge(r.age).padStart(4)} ${r.reason.padEnd(12)} <${r.sender}>`);
    for (const s of r.states) {
      const when = s.nextAttempt && s.status !== 'pending' ? ` next ${s.nextAttempt}` : '';
      lines.push(`    ${s.address} ${s.status}${s.deferral ? ` (${s.deferral})` : ''}${when}`);
      if (s.lastReply && s.status !== 'sent') lines.push(`        (${s.lastReply})`);
    }
  }
  const recipients = rows.reduce((n, r) => n + r.states.filter((s) => s.status === 'pending' || s.status === 'deferred').length, 0);
  lines.push(rows.length === 0 ? 'Mail queue is empty' : `-- ${rows.length} ${rows.length === 1 ? 'entry' : 'entries'}, ${recipients} recipient(s) to send`);
  return lines.join('\n');
}

/** The queue holding `id` (outbound first), or a one-line error. */
async function queueOf(storage: Storage, id: string): Promise<QueueStore> {
  if (await storage.queue.get(id)) return storage.queue;
  if (await storage.localRetry.get(id)) return storage.localRetry;
  throw new MailError('NONEXISTENT', `no such queue entry: ${id}`);
}

export const queueCommands: CliCommand[] = [
  {
    words: ['queue', 'list'],
    usage: '[--json]',
    summary: 'Lists the outbound queue and the local deliveries waiting for a retry (like postqueue -p).',
    minArgs: 0,
    maxArgs: 0,
    run: (_, __, ctx) =>
      withStorage(ctx, async (storage) => {
        const now = Date.now();
        const rows = [
          ...(await storage.queue.list()).map((e) => row(e, 'outbound', now)),
          ...(await storage.localRetry.list()).map((e) => row(e, 'local', now)),
        ];
        ctx.out(ctx.json ? JSON.stringify(rows) : text(rows));
      }),
  },
  {
    words: ['queue', 'flush'],
    usage: '[ID]',
    summary: 'Asks the running server to try the entry ID (or every entry) now (like postqueue -f).',
    minArgs: 0,
    maxArgs: 1,
    // `serve` sees the request within about a second and tries the entries now, whatever their schedule.
    run: ([id], _, ctx) =>
      withStorage(ctx, async (storage) => {
        if (id === undefined) {
          await storage.queue.requestFlush();
          await storage.localRetry.requestFlush();
          return;
        }
        const queue = await queueOf(storage, id);
        // The local-retry runner knows only "every entry".
        await (queue === storage.queue ? queue.requestFlush(id) : queue.requestFlush());
      }),
  },
  {
    words: ['queue', 'delete'],
    usage: 'ID',
    summary: 'Deletes a queue entry without a bounce (like postsuper -d).',
    minArgs: 1,
    maxArgs: 1,
    run: ([id], _, ctx) => withStorage(ctx, async (storage) => (await queueOf(storage, id!)).remove(id!)),
  },
  {
    words: ['queue', 'hold'],
    usage: 'ID',
    summary: 'Holds a queue entry: no delivery attempt until released (like postsuper -h).',
    minArgs: 1,
    maxArgs: 1,
    run: ([id], _, ctx) => withStorage(ctx, async (storage) => (await queueOf(storage, id!)).hold(id!)),
  },
  {
    words: ['queue', 'release'],
    usage: 'ID',
    summary: 'Releases a held queue entry (like postsuper -H).',
    minArgs: 1,
    maxArgs: 1,
    run: ([id], _, ctx) => withStorage(ctx, async (storage) => (await queueOf(storage, id!)).release(id!)),
  },
];
