// `postino serve`: opens the data directory, makes it consistent, starts
// every listener, and stops them cleanly (finishing work in flight).
import type { Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { openStorage, type Storage } from '../../storage/index.js';
import type { Config, ServiceName } from '../config.js';
import type { Logger } from '../log.js';
import { AdminService } from '../services/admin.js';
import { loadTls, type TlsMaterial } from './tls.js';
import { DeliveryAgent } from '../delivery/agent.js';
import { deliveryConfig } from '../delivery/delivery-config.js';
import { LocalRetryRunner } from '../delivery/local-retry.js';

export const DEMO_DOMAIN = 'example.test';
export const DEMO_ACCOUNT = `demo@${DEMO_DOMAIN}`;

/** What a listener needs from the server. */
export interface ServiceContext {
  config: Config;
  storage: Storage;
  tls: TlsMaterial;
  log: Logger;
}

/** One protocol listener; later protocols register here. */
export interface ServiceDefinition {
  name: ServiceName;
  start(ctx: ServiceContext, port: number): Promise<Server>;
  /** Stops accepting and ends sessions politely; default: server.close(). */
  stop?(server: Server): Promise<void>;
}

export class PostinoServer {
  private storage: Storage | undefined;
  private stopWatching: (() => void) | undefined;
  private localRetry: LocalRetryRunner | undefined;
  private readonly servers: Array<{ service: ServiceDefinition; server: Server }> = [];

  constructor(
    private readonly dataDir: string,
    private readonly config: Config,
    private readonly log: Logger,
    private readonly services: ServiceDefinition[] = [],
  ) {}

  async start(): Promise<void> {
    const storage = openStorage(this.dataDir);
    this.storage = storage;
    for (const account of storage.directory.listAccounts()) {
      const r = storage.mail.recoverAccount(account.id);
      storage.mail.provisionAccount(account.id);
      if (r.adopted + r.dropped > 0) this.log.warn({ event: 'recovered', account: account.address, ...r });
    }
    if (this.config.demo && storage.directory.listDomains().length === 0) await this.createDemo(storage);
    // Deliveries by `postino deliver` and changes by the CLI reach IMAP sessions too.
    this.stopWatching = storage.mail.watchExternalChanges();
    if (!this.config.antivirus) this.log.warn({ event: 'no-antivirus' }, 'no antivirus configured: messages are not scanned for viruses');
    const tls = loadTls(this.dataDir, this.config.hostname, this.config.tls);
    const ctx: ServiceContext = { config: this.config, storage, tls, log: this.log };
    for (const service of this.services) {
      const server = await service.start(ctx, this.config.ports[service.name]);
      this.servers.push({ service, server });
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : this.config.ports[service.name];
      this.log.info({ event: 'listening', service: service.name, port });
    }
    // Messages stored for some recipients, the rest kept for a retry here (by SMTP, LMTP or `postino deliver`).
    this.localRetry = new LocalRetryRunner(storage, new DeliveryAgent(storage, deliveryConfig(this.config), this.log), this.log);
    this.localRetry.start();
    this.log.info({ event: 'ready', dataDir: this.dataDir, services: this.servers.map((s) => s.service.name) });
  }

  private async createDemo(storage: Storage): Promise<void> {
    const password = randomBytes(12).toString('base64url');
    const admin = new AdminService({ directory: storage.directory, mail: storage.mail });
    await admin.addDomain(DEMO_DOMAIN, DEMO_ACCOUNT, { password, allowWeak: false });
    writeFileSync(path.join(this.dataDir, 'demo-login.txt'), `${DEMO_ACCOUNT}\n${password}\n`, { mode: 0o600 });
    this.log.info(
      { event: 'demo', login: DEMO_ACCOUNT, password },
      `demo domain ${DEMO_DOMAIN} created: log in as ${DEMO_ACCOUNT} with password ${password} (also in ${path.join(this.dataDir, 'demo-login.txt')})`,
    );
  }

  /** Stops accepting, lets open connections finish (up to graceMs), then closes the store. */
  async stop(graceMs = 10_000): Promise<void> {
    const closing = this.servers.map(({ service, server }) =>
      service.stop ? service.stop(server) : new Promise<void>((resolve) => server.close(() => resolve())),
    );
    const timer = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.all(closing), timer]);
    await this.localRetry?.stop();
    this.stopWatching?.();
    if (this.storage) {
      await this.storage.mail.drain();
      this.storage.close();
      this.storage = undefined;
    }
    this.log.info({ event: 'stopped' });
  }
}
