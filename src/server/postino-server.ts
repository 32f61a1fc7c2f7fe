// `postino serve`: opens the data directory, makes it consistent, starts
// every listener, and stops them cleanly (finishing work in flight).
import type { Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openConfiguredStorage, openStorage } from '../../storage/index.js';
import type { Storage } from '../../storage/ports.js';
import { MailError, isNoSpace } from '../../storage/errors.js';
import type { Config, ServiceName } from '../config.js';
import type { Logger } from '../log.js';
import { AdminService } from '../services/admin.js';
import { checkTls, loadTls, writeWholeFile, type TlsMaterial } from './tls.js';
import { explainListenError } from './listen-errors.js';
import { listenAddresses, type ListenAddress } from './listen-address.js';
import { keepBoundSettings } from './reload.js';
import { DeliveryAgent } from '../delivery/agent.js';
import { deliveryConfig } from '../delivery/delivery-config.js';
import { failureReply } from '../mx/smtp-reply.js';
import { LocalRetryRunner } from '../delivery/local-retry.js';
import { OutboundService, defaultOutbound, type OutboundFactory } from './outbound.js';
import { loadOrCreateSrsSecret, newSrsSecret, readSrsSecret, SrsCodec } from '../outbound/srs.js';
import { srsAliases } from '../mx/hooks/srs-recipient.js';
import { PrometheusMetrics } from '../admin/metrics/prometheus.js';

export const DEMO_DOMAIN = 'example.test';
export const DEMO_ACCOUNT = `demo@${DEMO_DOMAIN}`;

/** What a listener needs from the server. */
export interface ServiceContext {
  /** The settings now: a reload replaces config and tls here, so read them per connection (or define reload). */
  config: Config;
  storage: Storage;
  tls: TlsMaterial;
  log: Logger;
  /** The data directory being served. */
  dataDir: string;
  /** The SRS codec (made from DIR/srs.key); absent only when the key could not be made (a full disk at first start). */
  srs?: SrsCodec;
  /** This server's metrics (one registry per server); absent in tests that build a context by hand. */
  metrics?: PrometheusMetrics;
}

/** One protocol listener; later protocols register here. */
export interface ServiceDefinition {
  name: ServiceName;
  /** Binds one address; called once per address it listens on (see hosts). */
  start(ctx: ServiceContext, port: number, address: ListenAddress): Promise<Server>;
  /** The addresses it binds; default: config.listen. */
  hosts?(config: Config): string[];
  /** Stops accepting and ends sessions politely: idle ones at once, busy ones within drainMs; default: server.close(). */
  stop?(server: Server, drainMs: number): Promise<void>;
  /**
   * Builds what connections accepted from now on need under ctx (new settings, new
   * certificate) and returns the step that switches to it. Building may throw; switching
   * must not, so a reload changes every service or none.
   */
  reload?(server: Server, ctx: ServiceContext): () => void;
}

export interface StartOptions {
  /** Called once every listener is bound, before the queue runners start: where serve gives up root. */
  onBound?(): void;
}

/** How long stop lets a session finish the transaction it is in (a message arriving or being delivered). */
export const DRAIN_MS = 5_000;

export class PostinoServer {
  private storage: Storage | undefined;
  private stopWatching: (() => void) | undefined;
  private ctx: ServiceContext | undefined;
  private localRetry: LocalRetryRunner | undefined;
  private readonly outbound = new OutboundService();
  private readonly servers: Array<{ service: ServiceDefinition; server: Server }> = [];

  constructor(
    private readonly dataDir: string,
    private readonly config: Config,
    private readonly log: Logger,
    private readonly services: ServiceDefinition[] = [],
    private readonly outboundFactory: OutboundFactory = defaultOutbound,
  ) {}

  /** Starts everything, or stops what it started and throws. */
  async start(options: StartOptions = {}): Promise<void> {
    try {
      await this.startAll(options);
    } catch (err) {
      await this.stop(0);
      throw err;
    }
  }

  /**
   * On a full disk it starts all the same (serving what is stored, answering
   * deliveries 452 4.3.1 until there is room again): each start-up step that
   * must write and cannot is skipped, undone, and logged.
   */
  private async startAll(options: StartOptions): Promise<void> {
    const storage = this.config.storage.backend === 'postgres' ? await openConfiguredStorage(this.dataDir, this.config.storage, { nodeName: this.config.node.name }) : this.openStorage();
    this.storage = storage;
    for (const account of await storage.directory.listAccounts()) {
      await this.unlessDiskFull(`recover ${account.address}`, async () => {
        const r = await storage.mail.recoverAccount(account.id);
        await storage.mail.provisionAccount(account.id);
        if (r.adopted + r.dropped > 0) this.log.warn({ event: 'recovered', account: account.address, ...r });
      });
    }
    if (this.config.demo && (await storage.directory.listDomains()).length === 0) await this.createDemo(storage);
    // Deliveries by `postino deliver` and changes by the CLI reach IMAP sessions too.
    this.stopWatching = storage.mail.watchExternalChanges();
    if (!this.config.antivirus) this.log.warn({ event: 'no-antivirus' }, 'no antivirus configured: messages are not scanned for viruses');
    const tls = loadTls(this.dataDir, this.config.hostname, this.config.tls);
    if (tls.unsaved !== undefined) {
      this.log.warn({ event: 'disk-full', step: 'tls', err: tls.unsaved }, 'cannot save the self-signed certificate: this one lives in memory, the next start makes another');
    }
    const srs = await this.loadSrs(storage);
    const metrics = new PrometheusMetrics({ queue: storage.queue, dataDir: this.dataDir, listeners: () => this.servers.map(({ service, server }) => ({ name: service.name, server })) });
    const ctx: ServiceContext = { config: this.config, storage, tls, log: this.log, dataDir: this.dataDir, ...(srs ? { srs } : {}), metrics };
    this.ctx = ctx;
    for (const service of this.services) await this.listen(service, ctx);
    // Every port is bound: what needed root is done (serve drops privileges here).
    options.onBound?.();
    // Messages stored for some recipients, the rest kept for a retry here (by SMTP, LMTP or `postino deliver`).
    const agent = new DeliveryAgent(storage, deliveryConfig(this.config), this.log, failureReply, undefined, srs && srsAliases(srs), metrics);
    this.localRetry = new LocalRetryRunner(storage, agent, this.log);
    this.localRetry.start();
    // The outbound queue: what was queued before (also before a crash) is sent now.
    await this.outbound.start({ config: this.config, dataDir: this.dataDir, log: this.log, storage, srs, agent, metrics }, this.outboundFactory);
    this.log.info({ event: 'ready', dataDir: this.dataDir, services: [...new Set(this.servers.map((s) => s.service.name))] });
  }

  /**
   * Binds every address of the service. With port 0 (tests) the first address
   * picks the port and the others take the same one, so one port is logged.
   */
  private async listen(service: ServiceDefinition, ctx: ServiceContext): Promise<void> {
    let port = ctx.config.ports[service.name];
    for (const address of listenAddresses(service.hosts?.(ctx.config) ?? ctx.config.listen)) {
      let server: Server;
      try {
        server = await service.start(ctx, port, address);
      } catch (err) {
        throw explainListenError(err, service.name, address.host, port) ?? err;
      }
      this.servers.push({ service, server });
      const bound = server.address();
      if (typeof bound === 'object' && bound) port = bound.port;
      this.log.info({ event: 'listening', service: service.name, port, address: address.host });
    }
  }

  /**
   * SIGHUP: connections accepted from now on use `next` and the certificate as its
   * files are now; open sessions go on as they are. Settings bound to a listening
   * socket keep their running value and are logged as needing a restart. Throws,
   * changing nothing, when the certificate or a service cannot be built from `next`.
   */
  reload(next: Config, source: string | undefined): void {
    const ctx = this.ctx;
    if (!ctx) throw new MailError('TEMPFAIL', 'the server is not running yet');
    const { config, needsRestart } = keepBoundSettings(ctx.config, next);
    const tls = loadTls(this.dataDir, config.hostname, config.tls);
    const certificate = checkTls(tls);
    const nextCtx: ServiceContext = { ...ctx, config, tls };
    const switches = this.servers.map(({ service, server }) => service.reload?.(server, nextCtx));
    for (const switchOver of switches) switchOver?.();
    ctx.config = config;
    ctx.tls = tls;
    if (needsRestart.length > 0) {
      this.log.warn(
        { event: 'reload-needs-restart', settings: needsRestart },
        `${needsRestart.join(', ')} changed, but only a restart applies that: the running server keeps the old value`,
      );
    }
    this.log.info(
      { event: 'reloaded', config: source ?? null, certificate, selfSigned: tls.selfSigned, needsRestart },
      'configuration and TLS certificate reloaded: new connections use them, open sessions go on',
    );
  }

  /** The storage, kept usable on a full disk (see OpenStorageOptions); only an index that cannot be made at all stops the start. */
  private openStorage(): Storage {
    try {
      return openStorage(this.dataDir, {
        startReaders: true,
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

  /**
   * The SRS codec over the data dir's secret, made at the first start; on a
   * full disk none (SRS addresses are then unknown users) until a start with
   * room. Nodes sharing a storage share its secret instead (a bounce may come
   * back to any node): the first node's own key, if it had one, becomes it;
   * a node whose own key lost still accepts bounces to what it signed.
   */
  private async loadSrs(storage: Storage): Promise<SrsCodec | undefined> {
    try {
      if (storage.sharedSecret) {
        const own = readSrsSecret(this.dataDir);
        const shared = await storage.sharedSecret('srs', own ?? newSrsSecret());
        return new SrsCodec(shared, Date.now, own && !own.equals(shared) ? [own] : []);
      }
      return new SrsCodec(loadOrCreateSrsSecret(this.dataDir));
    } catch (err) {
      if (!isNoSpace(err)) throw err;
      this.log.warn({ event: 'disk-full', step: 'srs-key', err: (err as Error).message }, 'the disk is full: no SRS key made (forwarding keeps the original sender until a start with room)');
      return undefined;
    }
  }

  /** Runs a start-up step; on a full disk the step (undone by the store) is skipped and logged, for a later start. */
  private async unlessDiskFull(step: string, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err) {
      if (!isNoSpace(err)) throw err;
      this.log.warn({ event: 'disk-full', step, err: (err as Error).message }, `the disk is full: skipped ${step} (done at the next start with room)`);
    }
  }

  /** The login file first, then the domain: on a full disk neither is left without the other. */
  private async createDemo(storage: Storage): Promise<void> {
    const password = randomBytes(12).toString('base64url');
    const admin = new AdminService(storage);
    const loginFile = path.join(this.dataDir, 'demo-login.txt');
    try {
      writeWholeFile(loginFile, `${DEMO_ACCOUNT}\n${password}\n`);
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

  /** Stops accepting, lets sessions finish their transaction (up to drainMs) and ends them, then closes the store. */
  async stop(drainMs = DRAIN_MS): Promise<void> {
    const closing = this.servers.splice(0).map(({ service, server }) =>
      service.stop ? service.stop(server, drainMs) : new Promise<void>((resolve) => server.close(() => resolve())),
    );
    // A service that does not keep its bound must not hold up the exit for long.
    const timer = new Promise<void>((resolve) => setTimeout(resolve, drainMs + 5_000).unref());
    await Promise.race([Promise.all(closing), timer]);
    this.ctx = undefined;
    await this.localRetry?.stop();
    await this.outbound.stop(drainMs);
    this.stopWatching?.();
    this.stopWatching = undefined;
    if (this.storage) {
      await this.storage.mail.drain();
      this.storage.close();
      this.storage = undefined;
    }
    this.log.info({ event: 'stopped' });
  }
}

