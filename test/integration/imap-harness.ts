// An in-process IMAP server on free ports over a scratch data dir, with one
// account, for the IMAP integration tests.
import type { Server, AddressInfo } from 'node:net';
import { openSqliteParts, type SqliteStorageParts } from '../../storage/index.js';
import { indexMessageJson } from '../../mime/index.js';
import { AdminService } from '../../src/services/admin.js';
import { resolveConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { loadTls } from '../../src/server/tls.js';
import { startImapListener } from '../../src/server/imap-service.js';
import type { ServiceContext } from '../../src/server/postino-server.js';
import { scratchDir } from '../support/tmp.js';
import { RawImap, tagged } from './imap-raw-client.js';

export const USER = 'alice@example.test';
export const PASSWORD = 'correct horse battery staple 42';

export interface ImapHarness {
  dir: string;
  /** The SQLite + Maildir backend's own parts, answering synchronously (ctx.storage has its ports). */
  storage: SqliteStorageParts;
  ctx: ServiceContext;
  /** STARTTLS port */
  port: number;
  /** implicit TLS port */
  tlsPort: number;
  accountId: number;
  /** A new IMAPS session, logged in as USER; throws unless LOGIN answers OK. */
  login(): Promise<RawImap>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  indexAtAppend?: boolean;
  messageSize?: number;
  maxConnectionsPerIp?: number;
  quota?: number;
}

export async function startImapHarness(options: HarnessOptions = {}): Promise<ImapHarness> {
  const s = scratchDir('postino-imap-');
  const storage = openSqliteParts(s.dir, { indexer: options.indexAtAppend === false ? () => null : indexMessageJson });
  const admin = new AdminService(storage.ports);
  await admin.addDomain('example.test', USER, { password: PASSWORD, allowWeak: false });
  if (options.quota !== undefined) await storage.ports.directory.setQuota(USER, options.quota);
  const account = (await storage.ports.directory.getAccount(USER))!;
  const config = resolveConfig({ limits: { messageSize: options.messageSize ?? 10 * 1024 * 1024 } }, {});
  const ctx: ServiceContext = { config, storage: storage.ports, tls: loadTls(s.dir, 'localhost', undefined), log: createLogger('silent'), dataDir: s.dir };
  const servers: Server[] = [
    await startImapListener(ctx, 0, { implicitTls: false, ...(options.maxConnectionsPerIp ? { maxConnectionsPerIp: options.maxConnectionsPerIp } : {}) }),
    await startImapListener(ctx, 0, { implicitTls: true }),
  ];
  return {
    dir: s.dir,
    storage,
    ctx,
    port: (servers[0]!.address() as AddressInfo).port,
    tlsPort: (servers[1]!.address() as AddressInfo).port,
    accountId: account.id,
    async login() {
      const c = await RawImap.connect((servers[1]!.address() as AddressInfo).port, true);
      const r = await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`);
      if (!/^\S+ OK /m.test(tagged(r))) throw new Error(`LOGIN failed: ${r}`);
      return c;
    },
    async close() {
      await Promise.all(servers.map((srv) => new Promise<void>((r) => srv.close(() => r()))));
      await storage.mail.drain();
      storage.close();
      s.cleanup();
    },
  };
}
