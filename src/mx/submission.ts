// What submission does with a message the policy chain accepted: local
// recipients are delivered at once through the delivery agent (their Sieve
// runs), remote ones go to the outbound queue as one entry, and only then is
// the 250 given. Local delivery comes first: if it fails temporarily nothing
// was queued and the client's retry repeats nothing; if the queue then
// fails, the client hears 451 and a local copy may arrive twice, never zero
// times. A copy in the sender's Sent folder (config.submission.saveSent) is
// made last and only logged when it fails: the message has been sent.
import type { Logger } from '../log.js';
import type { Directory, MailStore, QueueStore } from '../../storage/ports.js';
import { prependFields, type ParsedMessage } from '../../mime/index.js';
import type { DeliveryAgent } from '../delivery/agent.js';
import type { SessionInfo } from './chain.js';
import { LOCAL_PROBLEM, messageReply, refusalReply, type SmtpReply } from './smtp-reply.js';

export interface SubmissionStores {
  directory: Directory;
  queue: QueueStore;
  mail: MailStore;
}

export interface SubmittedMessage {
  id: string;
  session: SessionInfo & { secure: boolean; tls?: { version?: string; name?: string } };
  from: string;
  recipients: readonly string[];
  /** As the policy chain left it (no trace fields yet). */
  parsed: ParsedMessage;
  /** Fields the hooks handed on, put below our Received. */
  headers: string[];
}

export interface SubmitOptions {
  hostname: string;
  /** This node's name (node.name), in the Received header. */
  node: string;
  saveSent: boolean;
  agent: DeliveryAgent;
  stores: SubmissionStores;
  log: Logger;
}

/** The reply to DATA, and the outbound queue entry made for the remote recipients (none when all were local). */
export interface Submitted {
  reply: SmtpReply;
  queueId?: string;
}

export async function submitMessage(msg: SubmittedMessage, o: SubmitOptions): Promise<Submitted> {
  const { stores, log } = o;
  const local: string[] = [];
  const remote: string[] = [];
  for (const r of msg.recipients) {
    const domain = r.slice(r.lastIndexOf('@') + 1).toLowerCase();
    ((await stores.directory.hasDomain(domain)) ? local : remote).push(r);
  }
  const traceHeaders = [submissionReceivedHeader(msg, o.hostname, o.node), ...msg.headers];
  let localReply: SmtpReply | undefined;
  if (local.length > 0) {
    const outcomes = await o.agent.deliver(
      {
        id: msg.id,
        raw: msg.parsed.raw,
        parsed: msg.parsed,
        from: msg.from,
        recipients: local,
        traceHeaders,
        remoteIp: msg.session.remoteAddress,
        rejectAtSmtp: msg.recipients.length === 1,
      },
      { answer: 'message', bounceRefused: true },
    );
    localReply = messageReply(outcomes, msg.id);
    log.info({ event: 'submission-local', id: msg.id, user: msg.session.user, outcomes: outcomes.map((x) => `${x.recipient}:${x.kind}`) });
    // Nothing was accepted locally (all "try again", or all refused): nothing goes out either.
    if (localReply.code >= 400) return { reply: localReply };
  }
  // The receiver's "message" line says what was queued (queueId), with sender and recipients.
  let queueId: string | undefined;
  if (remote.length > 0) {
    try {
      queueId = (await stores.queue.enqueue(msg.from, remote, prependFields(msg.parsed.raw, traceHeaders), 'submission', { smtpId: msg.id })).id;
    } catch (err) {
      log.error({ event: 'submission-queue-failed', id: msg.id, err: (err as Error)?.message });
      return { reply: refusalReply(LOCAL_PROBLEM) };
    }
  }
  if (o.saveSent && msg.session.user !== undefined) await saveSentCopy(msg, stores, log);
  return { reply: localReply ?? { code: 250, enhanced: '2.0.0', text: `Ok: queued as ${msg.id}` }, ...(queueId === undefined ? {} : { queueId }) };
}

/** The sender's copy in their \Sent folder (made when missing), as the client wrote it, marked seen. */
async function saveSentCopy(msg: SubmittedMessage, stores: SubmissionStores, log: Logger): Promise<void> {
  try {
    const account = await stores.directory.getAccount(msg.session.user!.toLowerCase());
    if (!account) return;
    const boxes = await stores.mail.listMailboxes(account.id);
    let sent = boxes.find((b) => b.specialUse === '\\Sent')?.name;
    if (sent === undefined) {
      sent = 'Sent';
      if (!boxes.some((b) => b.name === sent)) await stores.mail.createMailbox(account.id, sent, '\\Sent');
    }
    await stores.mail.append(account.id, sent, msg.parsed.raw, { flags: ['\\Seen'] });
  } catch (err) {
    log.warn({ event: 'submission-sent-copy-failed', id: msg.id, user: msg.session.user, err: (err as Error)?.message });
  }
}

/**
 * The comment after the `by` domain (RFC 5321 4.4 allows CFWS there): the
 * software, as Postfix writes "(Postfix)", and which node took the message
 * (the domain is the name every node answers to). node.name is restricted
 * to letters, digits and ._- so it cannot end the comment.
 */
export function byComment(node: string): string {
  return `Postino node=${node}`;
}

/**
 * RFC 5321 4.4 trace field with the RFC 3848 protocol name (ESMTPSA: over
 * TLS, authenticated) and the authenticated user, as Postfix writes it with
 * smtpd_sasl_authenticated_header; never anything of the credentials.
 */
export function submissionReceivedHeader(msg: Pick<SubmittedMessage, 'id' | 'session' | 'recipients'>, hostname: string, node: string): string {
  const { session } = msg;
  const helo = session.helo || 'unknown';
  const proto = 'ESMTP' + (session.secure ? 'S' : '') + (session.user !== undefined ? 'A' : '');
  const tls = session.secure && session.tls ? `\r\n\t(using ${session.tls.version ?? 'TLS'} with cipher ${session.tls.name ?? '?'})` : '';
  const auth = session.user !== undefined ? `\r\n\t(Authenticated sender: ${session.user})` : '';
  const forClause = msg.recipients.length === 1 ? `\r\n\tfor <${msg.recipients[0]}>` : '';
  const date = new Date().toUTCString().replace(/GMT$/, '+0000');
  return `Received: from ${helo} ([${session.remoteAddress}])${tls}${auth}\r\n\tby ${hostname} (${byComment(node)}) with ${proto} id ${msg.id}${forClause};\r\n\t${date}`;
}
