// `postino serve`: opens the data directory, makes it consistent, starts
// every listener, and stops them cleanly (finishing work in flight).
import type { Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openStorage, type Storage } from '../../storage/index.js';
import { MailError, isNoSpace } from '../../storage/errors.js';
import type { Config, ServiceName } from '../config.js';
import type { Logger } from '../log.js';
import { AdminService } from '../services/admin.js';
import { loadTls, type TlsMaterial } from './tls.js';

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
  private readonly servers: Array<{ service: ServiceDefinition; server: Server }> = [];

  constructor(
    private readonly dataDir: string,
    private readonly config: Config,
    private readonly log: Logger,
    private readonly services: ServiceDefinition[] = [],
  ) {}

  /**
   * On a full disk it starts all the same (serving what is stored, answering
   * deliveries 452 4.3.1 until there is room again): each start-up step that
   * must write and cannot is skipped, undone, and logged.
   */
  async start(): Promise<void> {
    const storage = this.openStorage();
    this.storage = storage;
    for (const account of storage.directory.listAccounts()) {
      this.unlessDiskFull(`recover ${account.address}`, () => {
        const r = storage.mail.recoverAccount(account.id);
        storage.mail.provisionAccount(account.id);
        if (r.adopted + r.dropped > 0) this.log.warn({ event: 'recovered', account: account.address, ...r });
      });
    }
    if (this.config.demo && storage.directory.listDomains().length === 0) await this.createDemo(storage);
    // Deliveries by `postino deliver` and changes by the CLI reach IMAP sessions too.
    this.stopWatching = storage.mail.watchExternalChanges();
    if (!this.config.antivirus) this.log.warn({ event: 'no-antivirus' }, 'no antivirus configured: messages are not scanned for viruses');
    const tls = loadTls(this.dataDir, this.config.hostname, this.config.tls);
    if (tls.unsaved !== undefined) {
      this.log.warn({ event: 'disk-full', step: 'tls', err: tls.unsaved }, 'cannot save the self-signed certificate: this one lives in memory, the next start makes another');
    }
    const ctx: ServiceContext = { config: this.config, storage, tls, log: this.log };
    for (const service of this.services) {
      const server = await service.start(ctx, this.config.ports[service.name]);
      this.servers.push({ service, server });
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : this.config.ports[service.name];
      this.log.info({ event: 'listening', service: service.name, port });
    }
    this.log.info({ event: 'ready', dataDir: this.dataDir, services: this.servers.map((s) => s.service.name) });
  }

  /** The storage, kept usable on a full disk (see OpenStorageOptions); only an index that cannot be made at all stops the start. */
  private openStorage(): Storage {
    try {
      return openStorage(this.dataDir, {
        exclusiveWhenDiskFull: (err) =>
          this.log.warn(
            { event: 'disk-full', step: 'open-index', err: (err as Error)?.message },
            'the disk is full: the index is opened for this process alone (postino deliver and the CLI wait until serve restarts with room on the disk)',
          ),
        onDiskFull: (full) =>
          full
            ? this.log.error({ event: 'disk-full', dataDir: this.dataDir }, 'the disk is full: mail cannot be stored; deliveries are deferred with 452 4.3.1 until there is room again')
            : this.log.info({ event: 'disk-space-back', dataDir: this.dataDir }, 'mail is stored again'),
      });
    } catch (err) {
      if (!isNoSpace(err)) throw err;
      throw new MailError('NOSPACE', `the disk is full: cannot set up the index in ${this.dataDir}; free some space and start again`, { cause: err });
    }
  }

  /** Runs a start-up step; on a full disk the step (undone by the store) is skipped and logged, for a later start. */
  private unlessDiskFull(step: string, run: () => void): void {
    try {
      run();
    } catch (err) {
      if (!isNoSpace(err)) throw err;
      this.log.warn({ event: 'disk-full', step, err: (err as Error).message }, `the disk is full: skipped ${step} (done at the next start with room)`);
    }
  }

  /** The login file first, then the domain: on a full disk neither is left without the other. */
  private async createDemo(storage: Storage): Promise<void> {
    const password = randomBytes(12).toString('base64url');
    const admin = new AdminService({ directory: storage.directory, mail: storage.mail });
    const loginFile = path.join(this.dataDir, 'demo-login.txt');
    try {
      writeWhole(loginFile, `${DEMO_ACCOUNT}\n${password}\n`);
      try {
        await admin.addDomain(DEMO_DOMAIN, DEMO_ACCOUNT, { password, allowWeak: false });
      } catch (err) {
        rmSync(loginFile, { force: true });
        throw err;
      }
    } catch (err) {
      if (!isNoSpace(err)) throw err;
      this.log.warn({ event: 'disk-full', step: 'demo', err: (err as Error).message }, 'the disk is full: no demo domain made (the next start with room makes it)');
      return;
    }
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
    this.stopWatching?.();
    if (this.storage) {
      await this.storage.mail.drain();
      this.storage.close();
      this.storage = undefined;
    }
    this.log.info({ event: 'stopped' });
  }
}

/** tmp + rename: a full disk leaves no half-written file. */
function writeWhole(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, content, { mode: 0o600 });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
