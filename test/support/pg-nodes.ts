// Two Postino nodes' storages opened on one fresh PostgreSQL database, as
// two processes on two machines would open them: alice@example.test
// provisioned, and each node listening to the other's changes.
import { openPostgresStorage, type PostgresStorage } from '../../storage/postgres/index.js';
import type { PgChangeFeed } from '../../storage/postgres/change-feed.js';
import type { PostgresCluster } from './postgres.js';

export interface TwoNodes {
  url: string;
  a: PostgresStorage;
  b: PostgresStorage;
  /** alice's account id */
  alice: number;
  close(): Promise<void>;
}

export async function twoStorageNodes(cluster: PostgresCluster): Promise<TwoNodes> {
  const url = await cluster.createDatabase();
  // Opened together: the migrations run once, under the advisory lock.
  const [a, b] = await Promise.all([openPostgresStorage(url, { nodeName: 'node-a' }), openPostgresStorage(url, { nodeName: 'node-b' })]);
  await a.directory.addDomain('example.test');
  const alice = (await a.directory.addAccount({ address: 'alice@example.test', passwordHash: 'x', scramSha256: null, quota: null })).id;
  await b.mail.provisionAccount(alice);
  const stops = [a.mail.watchExternalChanges(), b.mail.watchExternalChanges()];
  await Promise.all([(a.mail.feed as PgChangeFeed).watch(), (b.mail.feed as PgChangeFeed).watch()]);
  return {
    url,
    a,
    b,
    alice,
    async close() {
      for (const stop of stops) stop();
      await Promise.all([a.end(), b.end()]);
    },
  };
}

/** A small message to alice whose Subject and Message-ID carry `id`. */
export function aliceMessage(id: string): Buffer {
  return Buffer.from(`From: a@remote.test\r\nTo: alice@example.test\r\nSubject: ${id}\r\nMessage-ID: <${id}@remote.test>\r\n\r\nbody ${id}\r\n`);
}
