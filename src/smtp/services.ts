// The MX-facing SMTP listener, the LMTP listener and the submission
// listeners (587 STARTTLS, 465 implicit TLS) as services of `serve`:
// each an endpoint (endpoint.ts) driving a MailReceiver with its hook chain;
// a reload starts a new endpoint for new connections while open sessions
// finish on theirs.
import type { Server, Socket } from 'node:net';
import type { ServiceContext, ServiceDefinition } from '../server/postino-server.js';
import type { ServiceName } from '../config.js';
import type { Authenticator } from '../auth/authenticator.js';
import { DeliveryAgent } from '../delivery/agent.js';
import { deliveryConfig } from '../delivery/delivery-config.js';
import type { Hook } from '../mx/chain.js';
import { endpointHooks } from '../mx/hooks/index.js';
import { srsAliases } from '../mx/hooks/srs-recipient.js';
import { MailReceiver, type ReceiverKind } from '../mx/receiver.js';
import { failureReply } from '../mx/smtp-reply.js';
import { ConnectionLimit } from '../net/connection-limit.js';
import { createEndpoint, LMTP_LIMITS, MX_LIMITS, SUBMISSION_LIMITS, type SmtpEndpoint, type SmtpLimits } from './endpoint.js';

export interface SmtpServiceOptions {
  /** Each endpoint's hooks; default: endpointHooks (tests add failing ones). */
  hooks?: (kind: ReceiverKind, ctx: ServiceContext) => Hook[];
  /**
   * The authenticator shared with the other protocols (src/server/shared-authenticator.ts);
   * without it there are no submission services.
   */
  authenticator?: (ctx: ServiceContext) => Authenticator;
}

/** One listening socket, and the endpoints behind it: the newest takes new connections, older ones keep theirs. */
interface Listener {
  current: SmtpEndpoint;
  instances: Set<SmtpEndpoint>;
}

export function smtpServices(serviceOptions: SmtpServiceOptions = {}): ServiceDefinition[] {
  const hooksFor = serviceOptions.hooks ?? ((kind, ctx) => endpointHooks(kind, ctx.config, ctx.storage, ctx.srs, ctx.log, ctx.metrics));
  // One agent per configuration, shared by SMTP and LMTP.
  const agents = new WeakMap<ServiceContext['config'], DeliveryAgent>();
  const agentFor = (ctx: ServiceContext) => {
    let agent = agents.get(ctx.config);
    if (!agent) {
      agent = new DeliveryAgent(ctx.storage, deliveryConfig(ctx.config), ctx.log, failureReply, undefined, ctx.srs && srsAliases(ctx.srs), ctx.metrics);
      agents.set(ctx.config, agent);
    }
    return agent;
  };
  const listeners = new Map<Server, Listener>();
  // One count of open connections per service and storage, whatever address they came to.
  const connectionLimits = new WeakMap<object, Map<string, ConnectionLimit>>();
  const connectionLimitFor = (name: ServiceName, ctx: ServiceContext, max: number): ConnectionLimit => {
    let byService = connectionLimits.get(ctx.storage);
    if (!byService) connectionLimits.set(ctx.storage, (byService = new Map()));
    // A reload that changes the cap starts a new count, as a new endpoint did before.
    const key = `${name}:${max}`;
    let limit = byService.get(key);
    if (!limit) byService.set(key, (limit = new ConnectionLimit(max)));
    return limit;
  };

  const endpointFor = (name: ServiceName, kind: ReceiverKind, ctx: ServiceContext, limits: SmtpLimits): SmtpEndpoint => {
    const { config, log } = ctx;
    const submissionStores = kind === 'submission' ? { submission: { directory: ctx.storage.directory, queue: ctx.storage.queue, mail: ctx.storage.mail } } : {};
    const receiver = new MailReceiver({ kind, config, directory: ctx.storage.directory, agent: agentFor(ctx), log, hooks: hooksFor(kind, ctx), metrics: ctx.metrics, ...submissionStores });
    const authenticator = serviceOptions.authenticator;
    const submission = kind === 'submission' && authenticator ? { submission: { implicitTls: name === 'submissions', authenticator: authenticator(ctx), log, service: name } } : {};
    return createEndpoint({
      lmtp: kind === 'lmtp',
      hostname: config.hostname,
      tls: ctx.tls,
      messageSize: config.limits.messageSize,
      maxRecipients: config.limits.recipients,
      maxConnections: config.limits.maxConnections[kind],
      connectionLimit: connectionLimitFor(name, ctx, config.limits.maxConnections[kind]),
      limits,
      receiver,
      onError: (err) => log.warn({ event: 'smtp-error', service: name, err: err.message }),
      ...submission,
    });
  };

  const define = (name: ServiceName, kind: ReceiverKind, limitsFor: (ctx: ServiceContext) => SmtpLimits): ServiceDefinition => ({
    name,
    async start(ctx, port, address) {
      const endpoint = endpointFor(name, kind, ctx, limitsFor(ctx));
      const s = await endpoint.listening(port, address);
      listeners.set(s, { current: endpoint, instances: new Set([endpoint]) });
      return s;
    },
    // A new configuration or certificate: a new endpoint (settings, policy,
    // agent, TLS context, all built from ctx) takes the connections accepted from
    // now on; open sessions finish on the endpoint that accepted them.
    reload(s, ctx) {
      const listener = listeners.get(s);
      if (!listener) return () => {};
      const next = endpointFor(name, kind, ctx, limitsFor(ctx));
      return () => {
        for (const old of listener.instances) if (old !== listener.current && !old.hasClients()) listener.instances.delete(old);
        s.removeAllListeners('connection');
        // smtp-server's connection handler is the 'connection' listener of its own net.Server.
        s.on('connection', (socket: Socket) => next.server.emit('connection', socket));
        listener.current = next;
        listener.instances.add(next);
      };
    },
    async stop(s, drainMs) {
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      const instances = [...(listeners.get(s)?.instances ?? [])];
      await Promise.all(instances.map((instance) => instance.shutdown(drainMs)));
      await closed;
      listeners.delete(s);
    },
  });
  const services = [define('smtp', 'smtp', (ctx) => ({ ...MX_LIMITS, ...ctx.config.smtp.limits })), define('lmtp', 'lmtp', () => LMTP_LIMITS)];
  if (serviceOptions.authenticator) services.push(define('submission', 'submission', () => SUBMISSION_LIMITS), define('submissions', 'submission', () => SUBMISSION_LIMITS));
  return services;
}
