// What an MX or LMTP endpoint does with a session, apart from speaking SMTP:
// runs the endpoint's hook chain at each stage, reads the message at DATA,
// hands it to the delivery agent, and words every answer through
// smtp-reply.ts. The reply for a message is given only after every copy is
// durable. src/smtp/ drives it; nothing here knows smtp-server.
import type { Readable } from 'node:stream';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Directory } from '../../storage/ports.js';
import { byComment, submitMessage, type SubmissionStores } from './submission.js';
import { newQueueId } from '../queue-id.js';
import { collectGarbage } from '../garbage-collection.js';
import type { DeliveryAgent, DeliveryOptions } from '../delivery/agent.js';
import { HookChain, type Hook, type SessionInfo } from './chain.js';
import { readMessage } from './message-reader.js';
import { parseMessage, type ParsedMessage } from '../../mime/index.js';
import { bareAddressPostmaster, looksLikeRelayTrick } from './hooks/relay.js';
import {
  LOCAL_PROBLEM,
  NO_LOCAL_DOMAIN,
  RELAY_DENIED,
  UNQUALIFIED_SENDER,
  messageReply,
  readFailureReply,
  recipientReplies,
  refusalReply,
  type SmtpReply,
} from './smtp-reply.js';

/** 'submission' serves both the STARTTLS (587) and the implicit TLS (465) listener. */
export type ReceiverKind = 'smtp' | 'lmtp' | 'submission';

/** The session as the receiver needs it (the transport fills it in). */
export interface ReceiverSession extends SessionInfo {
  /** The client's name from reverse DNS, when looked up. */
  clientHostname?: string;
  openingCommand?: string;
  secure: boolean;
  tls?: { version?: string; name?: string };
}

export interface ReceiverOptions {
  kind: ReceiverKind;
  config: Config;
  directory: Directory;
  agent: DeliveryAgent;
  log: Logger;
  /** The endpoint's policy, in order. */
  hooks: readonly Hook[];
  /** Submission only: where remote recipients are queued and Sent copies kept. */
  submission?: SubmissionStores;
  metrics?: Metrics | undefined;
}

export class MailReceiver {
  private readonly chain: HookChain;
  /** LMTP answers each recipient; SMTP gives one reply after DATA for all of them. */
  private readonly answer: DeliveryOptions;

  constructor(private readonly options: ReceiverOptions) {
    this.chain = new HookChain(options.hooks, options.log, (stage, hook) => options.metrics?.messageRefused(options.kind, stage, hook));
    this.answer = options.kind === 'lmtp' ? { answer: 'recipient' } : { answer: 'message', bounceRefused: true };
  }

  async connect(session: ReceiverSession): Promise<SmtpReply | undefined> {
    const verdict = await this.chain.run('connect', { session });
    return verdict.kind === 'accept' ? undefined : refusalReply(verdict);
  }

  async mailFrom(session: ReceiverSession, from: string): Promise<SmtpReply | undefined> {
    if (from && !from.includes('@')) return this.refuse('mail', 'unqualified-sender', UNQUALIFIED_SENDER);
    const verdict = await this.chain.run('mail', { session, from });
    return verdict.kind === 'accept' ? undefined : refusalReply(verdict);
  }

  /**
   * A path the transport's own parser refuses as bad syntax (quoted local
   * parts and friends): a relay attempt, and answered as one.
   */
  refuseRawPath(path: string): SmtpReply | undefined {
    return looksLikeRelayTrick(path) && !/^<postmaster>$/i.test(path) ? this.refuse('rcpt', 'relay', RELAY_DENIED) : undefined;
  }

  /** The recipient to record (the bare postmaster named in full), or the refusal. */
  async rcptTo(session: ReceiverSession, from: string, address: string, accepted: readonly string[] = []): Promise<{ recipient: string } | { reply: SmtpReply }> {
    const { kind, config, log, directory } = this.options;
    let recipient = address;
    if (recipient.toLowerCase() === 'postmaster') {
      const pm = await bareAddressPostmaster(directory, config.hostname);
      if (!pm) return { reply: this.refuse('rcpt', 'no-local-domain', NO_LOCAL_DOMAIN) };
      recipient = pm;
    }
    const verdict = await this.chain.run('rcpt', { session, from, recipient, accepted });
    if (verdict.kind !== 'accept') {
      log.info({ event: 'rcpt-refused', service: kind, ip: session.remoteAddress, from, to: recipient, code: verdict.code });
      return { reply: refusalReply(verdict) };
    }
    return { recipient };
  }

  /** The reply at the end of DATA: one for SMTP, one per recipient (in order) for LMTP. */
  async data(session: ReceiverSession, from: string, recipients: readonly string[], stream: Readable): Promise<SmtpReply | SmtpReply[]> {
    const { kind, config, log, agent } = this.options;
    const id = newQueueId();
    try {
      const read = await readMessage(stream, { messageBytes: config.limits.messageSize, headerBytes: config.limits.headerSize }, { collectGarbage });
      if (read.kind === 'failed') throw read.err;
      if (read.kind !== 'message') {
        if (read.kind === 'gone') {
          // Clients hang up mid-message all the time (timeouts, crashes, scanners).
          log.info({ event: 'smtp-client-gone', service: kind, id, ip: session.remoteAddress, bytes: read.bytes }, 'client disconnected in the middle of DATA');
        } else {
          const limit = read.kind === 'too-big' ? { limit: config.limits.messageSize } : { headerLimit: config.limits.headerSize };
          log.info({ event: 'message-too-big', service: kind, id, ip: session.remoteAddress, bytes: read.bytes, ...limit });
        }
        this.options.metrics?.messageRefused(kind, 'data', read.kind);
        return readFailureReply(read);
      }
      // Parsed once here; the hooks and the delivery agent get the model.
      const message = parseMessage(read.raw);
      this.options.metrics?.messageReceived(kind);
      const checked = await this.chain.run('data', { session, from, recipients, message });
      if (checked.kind !== 'accept') {
        log.info({ event: 'message-refused', service: kind, id, ip: session.remoteAddress, from, code: checked.code, text: checked.text });
        return refusalReply(checked);
      }
      const parsed = checked.message ?? message;
      const raw = parsed.raw;
      if (kind === 'submission') return await this.submit(id, session, from, recipients, parsed, checked.headers);
      const outcomes = await agent.deliver(
        {
          id,
          raw,
          parsed,
          from,
          recipients: [...recipients],
          traceHeaders: [receivedHeader(kind, session, config.hostname, config.node.name, id, recipients), ...checked.headers],
          remoteIp: session.remoteAddress,
          rejectAtSmtp: kind === 'lmtp' || recipients.length === 1,
          junk: checked.junk,
          ...(session.clientHostname ? { remoteHost: session.clientHostname } : {}),
        },
        this.answer,
      );
      log.info({ event: 'message', service: kind, id, ip: session.remoteAddress, from, size: raw.length, outcomes: outcomes.map((o) => `${o.recipient}:${o.kind}`) });
      return kind === 'lmtp' ? recipientReplies(outcomes) : messageReply(outcomes, id);
    } catch (err) {
      log.error({ event: 'data-failed', service: kind, id, err: (err as Error)?.message });
      this.options.metrics?.messageRefused(kind, 'data', 'local-problem');
      return refusalReply(LOCAL_PROBLEM);
    }
  }

  /** A refusal of the receiver's own (not a hook's), counted like the hooks' ones. */
  private refuse(stage: 'mail' | 'rcpt', reason: string, verdict: Parameters<typeof refusalReply>[0]): SmtpReply {
    this.options.metrics?.messageRefused(this.options.kind, stage, reason);
    return refusalReply(verdict);
  }

  /** Submission: local recipients delivered now, remote ones queued (submission.ts). */
  private async submit(id: string, session: ReceiverSession, from: string, recipients: readonly string[], parsed: ParsedMessage, headers: string[]): Promise<SmtpReply> {
    const { config, log, agent, submission } = this.options;
    if (!submission) throw new Error('a submission receiver needs its stores');
    const { reply, queueId } = await submitMessage({ id, session, from, recipients, parsed, headers }, { hostname: config.hostname, node: config.node.name, saveSent: config.submission.saveSent, agent, stores: submission, log });
    log.info({ event: 'message', service: 'submission', id, ip: session.remoteAddress, user: session.user, from, size: parsed.raw.length, to: recipients, code: reply.code, ...(queueId === undefined ? {} : { queueId }) });
    return reply;
  }
}

function receivedHeader(kind: ReceiverKind, session: ReceiverSession, hostname: string, node: string, id: string, recipients: readonly string[]): string {
  const helo = session.helo || 'unknown';
  const client = session.clientHostname && !session.clientHostname.startsWith('[') ? session.clientHostname : 'unknown';
  const proto = (kind === 'lmtp' ? 'LMTP' : session.openingCommand === 'HELO' ? 'SMTP' : 'ESMTP') + (session.secure ? 'S' : '');
  const tls = session.secure && session.tls ? ` (using ${session.tls.version ?? 'TLS'} with cipher ${session.tls.name ?? '?'})` : '';
  const forClause = recipients.length === 1 ? `\r\n\tfor <${recipients[0]}>` : '';
  const date = traceDate();
  return `Received: from ${helo} (${client} [${session.remoteAddress}])${tls}\r\n\tby ${hostname} (${byComment(node)}) with ${proto} id ${id}${forClause};\r\n\t${date}`;
}

/** The date of a trace field (RFC 5322 date-time in UTC), made once a second rather than per message. */
let dateMemo = { second: -1, text: '' };
function traceDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateMemo.second) dateMemo = { second, text: new Date(second * 1000).toUTCString().replace(/GMT$/, '+0000') };
  return dateMemo.text;
}
