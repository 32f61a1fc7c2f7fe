// The MX-facing SMTP listener and the LMTP listener as services of `serve`:
// each an endpoint (endpoint.ts) driving a MailReceiver with its hook chain;
// a reload starts a new endpoint for new connections while open sessions
// finish on theirs.
import type { Server, Socket } from 'node:net';
import type { ServiceContext, ServiceDefinition } from '../server/postino-server.js';
import { DeliveryAgent } from '../delivery/agent.js';
import { deliveryConfig } from '../delivery/delivery-config.js';
import type { Hook } from '../mx/chain.js';
import { endpointHooks } from '../mx/hooks/index.js';
import { MailReceiver, type ReceiverKind } from '../mx/receiver.js';
import { failureReply } from '../mx/smtp-reply.js';
import { createEndpoint, LMTP_LIMITS, MX_LIMITS, type SmtpEndpoint, type SmtpLimits } from './endpoint.js';

export interface SmtpServiceOptions {
  /** Each endpoint's hooks; default: endpointHooks (tests add failing ones). */
  hooks?: (kind: ReceiverKind, ctx: ServiceContext) => Hook[];
}

/** One listening socket, and the endpoints behind it: the newest takes new connections, older ones keep theirs. */
interface Listener {
  current: SmtpEndpoint;
  instances: Set<SmtpEndpoint>;
}

export function smtpServices(serviceOptions: SmtpServiceOptions = {}): ServiceDefinition[] {
  const hooksFor = serviceOptions.hooks ?? ((kind, ctx) => endpointHooks(kind, ctx.config, ctx.storage));
  // One agent per configuration, shared by SMTP and LMTP.
  const agents = new WeakMap<ServiceContext['config'], DeliveryAgent>();
  const agentFor = (ctx: ServiceContext) => {
    let agent = agents.get(ctx.config);
    if (!agent) {
      agent = new DeliveryAgent(ctx.storage, deliveryConfig(ctx.config), ctx.log, failureReply);
      agents.set(ctx.config, agent);
    }
    return agent;
  };
  const listeners = new Map<Server, Listener>();

  const endpointFor = (kind: ReceiverKind, ctx: ServiceContext, limits: SmtpLimits): SmtpEndpoint => {
    const { config, log } = ctx;
    const receiver = new MailReceiver({ kind, config, directory: ctx.storage.directory, agent: agentFor(ctx), log, hooks: hooksFor(kind, ctx) });
    return createEndpoint({
      lmtp: kind === 'lmtp',
      hostname: config.hostname,
      tls: ctx.tls,
      messageSize: config.limits.messageSize,
      maxRecipients: config.limits.recipients,
      maxConnections: config.limits.maxConnections[kind],
      limits,
      receiver,
      onError: (err) => log.warn({ event: 'smtp-error', service: kind, err: err.message }),
    });
  };

  const define = (kind: ReceiverKind, limitsFor: (ctx: ServiceContext) => SmtpLimits): ServiceDefinition => ({
    name: kind,
    async start(ctx, port) {
      const endpoint = endpointFor(kind, ctx, limitsFor(ctx));
      const s = await endpoint.listening(port, ctx.config.listen);
      listeners.set(s, { current: endpoint, instances: new Set([endpoint]) });
      return s;
    },
    // A new configuration or certificate: a new endpoint (settings, policy,
    // agent, TLS context, all built from ctx) takes the connections accepted from
    // now on; open sessions finish on the endpoint that accepted them.
    reload(s, ctx) {
      const listener = listeners.get(s);
      if (!listener) return () => {};
      const next = endpointFor(kind, ctx, limitsFor(ctx));
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
  return [define('smtp', (ctx) => ({ ...MX_LIMITS, ...ctx.config.smtp.limits })), define('lmtp', () => LMTP_LIMITS)];
}
