// The outbound queue's runner as a service of `serve`: the transport that
// carries messages on (the smarthost when relay.smarthost is set, else each
// recipient domain's MX), the optional signer (DKIM) and sender rewriter
// (SRS) applied before sending, and the retry schedule of the config.
import type { Storage } from '../../storage/ports.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { OutboundRunner } from '../outbound/runner.js';
import { scheduleFromConfig } from '../outbound/schedule.js';
import type { MessageSigner, OutboundTransport, SenderRewriter } from '../outbound/transport.js';
import { createTransport } from '../outbound/smtp-transport.js';
import { createDnsResolver } from '../net/dns.js';
import { DkimSigner } from '../outbound/dkim.js';
import { DkimKeyStore } from '../outbound/dkim-keys.js';
import { SrsRewriter, type SrsCodec } from '../outbound/srs.js';
import type { DeliveryAgent } from '../delivery/agent.js';
import { LocalFirstTransport } from './local-outbound.js';

/** What the runner sends through. */
export interface OutboundParts {
  transport: OutboundTransport;
  signer?: MessageSigner | undefined;
  rewriter?: SenderRewriter | undefined;
}

/** What the outbound parts are made from. */
export interface OutboundContext {
  config: Config;
  dataDir: string;
  log: Logger;
  storage: Storage;
  /** The SRS codec of this data dir; absent when its key could not be made (forwarded mail keeps its sender). */
  srs?: SrsCodec | undefined;
  /** Delivers entries' recipients in local domains (bounces to local senders); without it they go out like the rest. */
  agent?: DeliveryAgent | undefined;
  metrics?: Metrics | undefined;
}

/** Builds the outbound parts (the composition root's choice; tests pass their own). */
export type OutboundFactory = (ctx: OutboundContext) => OutboundParts | Promise<OutboundParts>;

/**
 * The smarthost when relay.smarthost is set, else each recipient domain's MX
 * (through the configured DNS servers); DKIM for local From domains with a
 * key; SRS for forwarded mail.
 */
export const defaultOutbound: OutboundFactory = ({ config, dataDir, log, storage, srs }) => ({
  transport: createTransport(config, createDnsResolver(config.dns.servers), log),
  signer: new DkimSigner(new DkimKeyStore(dataDir), (domain) => storage.directory.hasDomain(domain)),
  rewriter: srs ? new SrsRewriter(srs, storage.directory, config.hostname) : undefined,
});

export class OutboundService {
  private runner: OutboundRunner | undefined;
  private parts: OutboundParts | undefined;

  async start(ctx: OutboundContext, factory: OutboundFactory): Promise<void> {
    const { storage, config, log } = ctx;
    this.parts = await factory(ctx);
    if (ctx.agent) this.parts = { ...this.parts, transport: new LocalFirstTransport(this.parts.transport, ctx.agent, (d) => storage.directory.hasDomain(d)) };
    this.runner = new OutboundRunner({
      queue: storage.queue,
      transport: this.parts.transport,
      signer: this.parts.signer,
      rewriter: this.parts.rewriter,
      log,
      hostname: config.hostname,
      schedule: scheduleFromConfig(config.relay?.schedule),
      leaseMs: config.node.leaseSeconds * 1000,
      metrics: ctx.metrics,
    });
    this.runner.start();
  }

  /** Stops starting attempts, lets those in flight finish (up to drainMs), then closes the transport's connections. */
  async stop(drainMs: number): Promise<void> {
    await this.runner?.stop(drainMs);
    this.runner = undefined;
    await this.parts?.transport.close();
    this.parts = undefined;
  }
}
