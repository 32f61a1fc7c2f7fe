// Which node runs the local-retry queue: one at a time, so no stored part
// of a message is retried by two nodes at once (its runner reads entries
// without claiming them; the outbound queue is sent by every node, entry
// by entry under leases: queue.ts). The node holding a session advisory
// lock, on a connection of its own, runs it. When that node dies its
// session ends, the lock goes with it, and another node takes it on its
// next look.
import pg from 'pg';

/** Any number, the same on every node (see also migrations.ts). */
const RUNNER_LOCK = 0x71756575; // "queu"
/** A node without the lock tries again at most this often. */
const RETRY_MS = 2000;

export class RunnerLease {
  private client: pg.Client | undefined;
  private trying: Promise<boolean> | undefined;
  private lastTry = 0;
  private closed = false;

  constructor(private readonly url: string) {}

  /** Whether this node runs the queues now (takes the lease when it is free). */
  async held(): Promise<boolean> {
    if (this.client) return true;
    if (this.closed || Date.now() - this.lastTry < RETRY_MS) return false;
    return (this.trying ??= this.take().finally(() => (this.trying = undefined)));
  }

  private async take(): Promise<boolean> {
    this.lastTry = Date.now();
    const client = new pg.Client({ connectionString: this.url });
    const lost = () => {
      if (this.client === client) this.client = undefined;
      client.end().catch(() => {});
    };
    client.on('error', lost);
    client.on('end', lost);
    try {
      await client.connect();
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [RUNNER_LOCK]);
      if (rows[0]?.ok && !this.closed) {
        this.client = client;
        return true;
      }
    } catch {
      // the database is out of reach: not ours this time
    }
    lost();
    return false;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.trying?.catch(() => false);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }
}
