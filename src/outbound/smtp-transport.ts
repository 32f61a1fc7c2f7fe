// The OutboundTransport of Postino: carries a queued message to its next hop
// over SMTP (nodemailer's SMTPConnection), either through the configured
// smarthost (relay.smarthost: TLS as configured, AUTH with the credentials)
// or directly to each recipient domain's MX (STARTTLS whenever offered,
// certificate not checked, and plain again when the handshake fails: Postfix's
// "may" level). Recipients are
// grouped so one transaction carries all recipients of a destination;
// sessions are pooled per destination and reused. It never decides about
// retries or bounces: it answers one outcome per recipient.
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { DnsResolver } from '../net/dns.js';
import { MailError } from '../../storage/errors.js';
import { DestinationPool } from './destination-pool.js';
import { domainLiteral, domainOf, lookupAddresses, lookupMx, type MxRoute } from './mx-resolver.js';
import { deferralOfError, deferredByError, oneLine } from './smtp-transport-replies.js';
import { DEFAULT_TIMEOUTS, SessionError, SmtpSession, endpointName, type SessionOptions, type SessionTimeouts, type TlsPolicy } from './smtp-transport-session.js';
import type { DeferralClass, OutboundMessage, OutboundTransport, RecipientOutcome } from './transport.js';

/** The parts of the config the transport reads. */
export type TransportConfig = Pick<Config, 'hostname' | 'relay'>;

/** Knobs for tests and benches; the defaults suit production. */
export interface TransportOptions {
  timeouts?: Partial<SessionTimeouts>;
  /** An idle pooled session is closed after this long (ms). Default 10 s. */
  idleMs?: number;
  /** A session is closed after carrying this many messages. Default 200. */
  maxMessagesPerSession?: number;
  /** A message waits at most this long for a free connection slot (ms). Default 10 min. */
  waitMs?: number;
}

export const DEFAULT_MAX_CONNECTIONS_PER_DESTINATION = 4;
/** Addresses tried for one destination per attempt (Postfix's smtp_mx_address_limit). */
const MAX_CONNECT_ATTEMPTS = 5;
/** Destinations of one message delivered to at once. */
const DESTINATIONS_AT_ONCE = 8;

export interface SmarthostSettings {
  host: string;
  port: number;
  tls: TlsPolicy;
  auth: { username: string; password: string } | undefined;
  ca: Buffer | undefined;
}

type SmarthostConfig = NonNullable<NonNullable<Config['relay']>['smarthost']>;

function configError(message: string): MailError {
  return new MailError('BADINPUT', `relay.smarthost: ${message}`);
}

/** The first line of a password file that only its owner may read. */
function readPasswordFile(file: string): string {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (err) {
    throw configError(`cannot read passwordFile ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if ((mode & 0o044) !== 0) {
    throw configError(
      `passwordFile ${file} is readable by group or others (mode ${(mode & 0o777).toString(8)}); make it readable by its owner only (chmod 600)`,
    );
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw configError(`cannot read passwordFile ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const first = text.split(/\r?\n/, 1)[0] ?? '';
  if (first.length === 0) throw configError(`passwordFile ${file}: the first line is empty`);
  return first;
}

/** Checks and completes the smarthost config; throws BADINPUT with a clear message (at start, not at the first message). */
export function loadSmarthost(raw: SmarthostConfig): SmarthostSettings {
  // Port 465 without a tls setting means implicit TLS, as everywhere else.
  const tls: TlsPolicy = raw.tls ?? (raw.port === 465 ? 'implicit' : 'starttls');
  const port = raw.port ?? (tls === 'implicit' ? 465 : 587);
  // "[relay.example.net]" (Postfix's relayhost form: no MX lookup) is the same host here: the smarthost is never MX-resolved.
  const host = raw.host.trim().replace(/^\[(.*)\]$/, '$1').trim();
  if (host.length === 0) throw configError('host is empty');
  if (raw.password !== undefined && raw.passwordFile !== undefined) throw configError('give password or passwordFile, not both');
  let auth: SmarthostSettings['auth'];
  const password = raw.passwordFile !== undefined ? readPasswordFile(raw.passwordFile) : raw.password;
  if (raw.username !== undefined) {
    if (password === undefined || password.length === 0) throw configError('username is set but no password (password or passwordFile)');
    auth = { username: raw.username, password };
  } else if (password !== undefined) {
    throw configError('a password is set but no username');
  }
  let ca: Buffer | undefined;
  if (raw.ca !== undefined) {
    try {
      ca = readFileSync(raw.ca);
    } catch (err) {
      throw configError(`cannot read ca ${raw.ca}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  return { host, port, tls, auth, ca };
}

/** Envelope addresses nodemailer would refuse or a server could misread. */
const SAFE_ADDRESS = /^[^\s<>()\[\]\\,;:"\x00-\x1f\x7f]+@[^\s<>()\\,;:"@\x00-\x1f\x7f]+$/;
const SAFE_LITERAL_ADDRESS = /^[^\s<>()\[\]\\,;:"\x00-\x1f\x7f]+@\[[0-9A-Za-z:.]{2,50}\]$/;

function validAddress(address: string): boolean {
  return address.length <= 512 && (SAFE_ADDRESS.test(address) || SAFE_LITERAL_ADDRESS.test(address));
}

/** One place to try: a session's options and its pool key. */
interface Endpoint {
  key: string;
  session: SessionOptions;
  /** Tried at the same address when the TLS handshake fails (MX delivery: plain, as Postfix does at "may"). */
  afterTlsFailure?: Endpoint;
}

/** Why every endpoint of a destination failed (the last failure decides the class). */
interface Failure {
  deferral: DeferralClass;
  detail: string;
  destination?: string;
}

/** The machinery shared by both routes: pooled sessions, one transaction per destination. */
class SessionCarrier {
  readonly pool: DestinationPool<SmtpSession>;

  constructor(
    private readonly log: Logger,
    maxPerDestination: number,
    options: TransportOptions,
  ) {
    this.pool = new DestinationPool<SmtpSession>({
      maxPerDestination,
      idleMs: options.idleMs ?? 10_000,
      maxMessagesPerSession: options.maxMessagesPerSession ?? 200,
      waitMs: options.waitMs ?? 600_000,
    });
  }

  /**
   * Tries the endpoints in order until one takes the transaction. A failure
   * to connect or set up TLS moves on to the next; once a transaction has
   * begun its replies are the answer. Gives `failure` (the last one) when no
   * endpoint could be used.
   */
  async transact(
    queueId: string,
    endpoints: Endpoint[],
    sender: string,
    recipients: string[],
    raw: Buffer,
  ): Promise<{ outcomes: RecipientOutcome[] } | { failure: Failure }> {
    let failure: Failure | undefined;
    const queue = [...endpoints];
    for (let endpoint = queue.shift(); endpoint; endpoint = queue.shift()) {
      let acquired: { session: SmtpSession; reused: boolean };
      try {
        acquired = await this.pool.acquire(endpoint.key, () => SmtpSession.open(endpoint.session));
      } catch (err) {
        const where = endpointName(endpoint.session);
        const deferral = deferralOfError(err);
        failure = { deferral, detail: `${where}: ${(err as Error).message}`, destination: where };
        this.log.info({ event: 'relay-connect-failed', queueId, destination: where, deferral, error: oneLine((err as Error).message) });
        // Wrong credentials are wrong at every address of the smarthost.
        if (err instanceof SessionError && err.stage === 'auth') break;
        if (deferral === 'tls' && endpoint.afterTlsFailure) queue.unshift(endpoint.afterTlsFailure);
        continue;
      }
      const { session, reused } = acquired;
      const result = await session.send(sender, recipients, raw);
      this.pool.release(endpoint.key, session, result.reusable);
      const count = (status: RecipientOutcome['status']): number => result.outcomes.filter((o) => o.status === status).length;
      // Debug only: the runner logs each recipient's outcome (destination, reply, TLS) in its outbound-attempt line.
      this.log.debug({
        event: 'relay-attempt',
        queueId,
        destination: session.endpoint,
        tls: session.tlsProtocol ?? null,
        reused,
        recipients: recipients.length,
        sent: count('sent'),
        deferred: count('deferred'),
        failed: count('failed'),
        reply: result.outcomes[0]?.reply,
      });
      return { outcomes: result.outcomes };
    }
    return { failure: failure ?? { deferral: 'connection', detail: 'no address to connect to' } };
  }

  close(): void {
    this.pool.close();
  }
}

function deferAll(recipients: string[], f: Failure): RecipientOutcome[] {
  return recipients.map((a) => deferredByError(a, f.deferral, f.detail, f.destination));
}

/** Outcomes in the order of `recipients`, from a map filled per address. */
function inOrder(recipients: string[], byAddress: Map<string, RecipientOutcome>): RecipientOutcome[] {
  return recipients.map(
    (address) => byAddress.get(address) ?? { address, status: 'deferred', reply: '451 4.3.0 not attempted', deferral: 'local' },
  );
}

/** Splits out recipients and a sender that cannot go on the wire; they fail at once. */
function screen(message: OutboundMessage): { good: string[]; settled: Map<string, RecipientOutcome> } {
  const settled = new Map<string, RecipientOutcome>();
  if (message.sender !== '' && !validAddress(message.sender)) {
    for (const a of message.recipients) settled.set(a, { address: a, status: 'failed', reply: '553 5.1.7 bad sender address syntax' });
    return { good: [], settled };
  }
  const good: string[] = [];
  for (const a of message.recipients) {
    if (settled.has(a) || good.includes(a)) continue;
    if (validAddress(a)) good.push(a);
    else settled.set(a, { address: a, status: 'failed', reply: '553 5.1.3 bad recipient address syntax' });
  }
  return { good, settled };
}

export class SmarthostTransport implements OutboundTransport {
  private readonly carrier: SessionCarrier;
  private readonly timeouts: SessionTimeouts;

  constructor(
    private readonly settings: SmarthostSettings,
    private readonly heloName: string,
    private readonly resolver: DnsResolver,
    log: Logger,
    maxPerDestination: number,
    options: TransportOptions = {},
  ) {
    this.carrier = new SessionCarrier(log, maxPerDestination, options);
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  }

  private async endpoints(): Promise<Endpoint[] | Failure> {
    const { host, port } = this.settings;
    let addresses: string[];
    if (isIP(host)) addresses = [host];
    else if (host.toLowerCase() === 'localhost') addresses = ['127.0.0.1'];
    else {
      const found = await lookupAddresses(host, this.resolver);
      if (found.kind === 'tempfail') return { deferral: 'dns', detail: found.detail };
      if (found.kind === 'none') return { deferral: 'dns', detail: `smarthost ${found.detail}` };
      addresses = found.addresses;
    }
    return addresses.slice(0, MAX_CONNECT_ATTEMPTS).map((address) => ({
      key: `smarthost ${address} ${port}`,
      session: {
        address,
        port,
        ...(isIP(host) ? {} : { servername: host }),
        tls: this.settings.tls,
        // Opportunistic TLS takes what it gets, unless a CA to check against was given.
        verifyCertificate: this.settings.tls !== 'opportunistic' || this.settings.ca !== undefined,
        ...(this.settings.ca ? { ca: this.settings.ca } : {}),
        ...(this.settings.auth ? { auth: this.settings.auth } : {}),
        heloName: this.heloName,
        timeouts: this.timeouts,
      },
    }));
  }

  async send(message: OutboundMessage): Promise<RecipientOutcome[]> {
    const { good, settled } = screen(message);
    try {
      if (good.length > 0) {
        const endpoints = await this.endpoints();
        if (!Array.isArray(endpoints)) {
          for (const o of deferAll(good, endpoints)) settled.set(o.address, o);
        } else {
          const r = await this.carrier.transact(message.queueId, endpoints, message.sender, good, message.raw);
          for (const o of 'outcomes' in r ? r.outcomes : deferAll(good, r.failure)) settled.set(o.address, o);
        }
      }
    } catch (err) {
      for (const o of deferAll(good, { deferral: 'local', detail: oneLine(`relay failed: ${(err as Error).message}`) })) settled.set(o.address, o);
    }
    return inOrder(message.recipients, settled);
  }

  async close(): Promise<void> {
    this.carrier.close();
  }
}

export class MxTransport implements OutboundTransport {
  private readonly carrier: SessionCarrier;
  private readonly timeouts: SessionTimeouts;

  constructor(
    private readonly heloName: string,
    private readonly mxPort: number,
    private readonly resolver: DnsResolver,
    log: Logger,
    maxPerDestination: number,
    options: TransportOptions = {},
  ) {
    this.carrier = new SessionCarrier(log, maxPerDestination, options);
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  }

  private sessionOptions(host: string, address: string, tls: TlsPolicy): SessionOptions {
    return {
      address,
      port: this.mxPort,
      ...(isIP(host) ? {} : { servername: host }),
      tls,
      verifyCertificate: false,
      heloName: this.heloName,
      timeouts: this.timeouts,
    };
  }

  /** Delivers to one destination (a list of MX hosts): next host on connection failure. */
  private async deliver(queueId: string, hosts: string[], sender: string, recipients: string[], raw: Buffer): Promise<RecipientOutcome[]> {
    let failure: Failure | undefined;
    let attempts = 0;
    let unresolved = 0;
    for (const host of hosts) {
      if (attempts >= MAX_CONNECT_ATTEMPTS) break;
      const found = await lookupAddresses(host, this.resolver);
      if (found.kind === 'tempfail') {
        failure = { deferral: 'dns', detail: found.detail };
        continue;
      }
      if (found.kind === 'none') {
        unresolved++;
        continue;
      }
      const endpoints = found.addresses.slice(0, MAX_CONNECT_ATTEMPTS - attempts).map(
        (address): Endpoint => ({
          key: `mx ${host} ${address} ${this.mxPort}`,
          session: this.sessionOptions(host, address, 'opportunistic'),
          afterTlsFailure: { key: `mx ${host} ${address} ${this.mxPort} plain`, session: this.sessionOptions(host, address, 'none') },
        }),
      );
      attempts += endpoints.length;
      const r = await this.carrier.transact(queueId, endpoints, sender, recipients, raw);
      if ('outcomes' in r) return r.outcomes;
      failure = r.failure;
    }
    if (!failure && unresolved > 0) {
      // Every MX host name is without an address: the domain's mail has nowhere to go (Postfix bounces too).
      const reply = oneLine(`550 5.4.4 no address for the mail exchangers of the domain (${hosts.slice(0, 3).join(', ')})`);
      return recipients.map((address) => ({ address, status: 'failed', reply }));
    }
    return deferAll(recipients, failure ?? { deferral: 'connection', detail: 'no mail exchanger could be tried' });
  }

  async send(message: OutboundMessage): Promise<RecipientOutcome[]> {
    const { good, settled } = screen(message);
    try {
      // Domain -> its recipients; then domains that share their MX hosts share one transaction.
      const byDomain = new Map<string, string[]>();
      for (const a of good) {
        const d = domainOf(a) as string; // validAddress guarantees an @
        byDomain.set(d, [...(byDomain.get(d) ?? []), a]);
      }
      const destinations = new Map<string, { hosts: string[]; recipients: string[] }>();
      await Promise.all(
        // The resolver shares identical questions and bounds each; a message has at most a few hundred recipients.
        [...byDomain].map(async ([domain, recipients]) => {
          const literal = domainLiteral(domain);
          const route: MxRoute = literal ? { kind: 'hosts', hosts: [literal], implicit: true } : await lookupMx(domain, this.resolver);
          switch (route.kind) {
            case 'null-mx':
              for (const a of recipients)
                settled.set(a, { address: a, status: 'failed', reply: `556 5.1.10 ${domain} does not accept mail (null MX)` });
              return;
            case 'no-such-domain':
              for (const a of recipients) settled.set(a, { address: a, status: 'failed', reply: oneLine(`550 5.1.2 ${route.detail}`) });
              return;
            case 'tempfail':
              for (const o of deferAll(recipients, { deferral: 'dns', detail: route.detail })) settled.set(o.address, o);
              return;
            case 'hosts': {
              const key = route.hosts.join(' ');
              const dest = destinations.get(key) ?? { hosts: route.hosts, recipients: [] as string[] };
              dest.recipients.push(...recipients);
              destinations.set(key, dest);
            }
          }
        }),
      );
      // A message to many domains: a few destinations at a time, not one connection per domain at once.
      const pending = [...destinations.values()];
      const worker = async (): Promise<void> => {
        for (let dest = pending.shift(); dest; dest = pending.shift()) {
          const outcomes = await this.deliver(message.queueId, dest.hosts, message.sender, dest.recipients, message.raw);
          for (const o of outcomes) settled.set(o.address, o);
          // Recorded at once when other destinations are still to come (the last one's are recorded with the rest).
          const taken = outcomes.filter((o) => o.status === 'sent').map((o) => o.address);
          if (taken.length > 0 && settled.size < message.recipients.length) message.onSent?.(taken);
        }
      };
      await Promise.all(Array.from({ length: Math.min(DESTINATIONS_AT_ONCE, pending.length) }, worker));
    } catch (err) {
      const left = good.filter((a) => !settled.has(a));
      for (const o of deferAll(left, { deferral: 'local', detail: oneLine(`relay failed: ${(err as Error).message}`) })) settled.set(o.address, o);
    }
    return inOrder(message.recipients, settled);
  }

  async close(): Promise<void> {
    this.carrier.close();
  }
}

/**
 * The transport the config asks for: the smarthost when relay.smarthost is
 * set, else direct MX delivery (to port relay.mxPort, 25 by default). Throws
 * MailError BADINPUT for a smarthost config that cannot work (a password
 * file readable by others, a missing CA file...).
 */
export function createTransport(config: TransportConfig, resolver: DnsResolver, log: Logger, options: TransportOptions = {}): OutboundTransport {
  const maxPerDestination = config.relay?.maxConnectionsPerDestination ?? DEFAULT_MAX_CONNECTIONS_PER_DESTINATION;
  const smarthost = config.relay?.smarthost;
  if (smarthost) {
    return new SmarthostTransport(loadSmarthost(smarthost), config.hostname, resolver, log, maxPerDestination, options);
  }
  return new MxTransport(config.hostname, config.relay?.mxPort ?? 25, resolver, log, maxPerDestination, options);
}
