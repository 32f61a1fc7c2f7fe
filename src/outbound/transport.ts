// The seam between the outbound queue (which decides what to send and when)
// and the code that carries a message to its next hop (a smarthost, or each
// recipient domain's MX). The runner never speaks SMTP; the transport never
// decides about retries or bounces: it reports what happened per recipient.

/** Why a recipient was deferred: kept on the queue entry and shown by `queue list`. */
export type DeferralClass =
  | 'connection' // refused, reset, unreachable
  | 'timeout' // the peer stopped answering
  | 'tls' // TLS required (smarthost) or failed
  | 'dns' // a temporary DNS failure (SERVFAIL, timeout)
  | 'greylist' // a 4xx to RCPT that looks like greylisting
  | 'mailbox-full' // 452 / 4.2.2
  | 'remote-4xx' // any other temporary reply
  | 'auth' // the smarthost refused our credentials with a 4xx
  | 'local'; // something on this machine (queue unreadable, ...)

/** One message to carry, to one or more recipients (possibly in several domains). */
export interface OutboundMessage {
  /** The queue entry's id, for logs. */
  queueId: string;
  /** Envelope sender; "" for the null sender (bounces, vacation replies). */
  sender: string;
  recipients: string[];
  /** The message exactly as it goes out (already signed). */
  raw: Buffer;
  /**
   * Told the recipients a next hop has just taken (its 250 after DATA),
   * while other destinations of the message are still under way, so the
   * queue can record them at once: a crash then sends them no second time.
   */
  onSent?: (addresses: string[]) => void;
}

export interface RecipientOutcome {
  address: string;
  /** sent: the next hop took it (2xx after DATA); failed: 5xx or null MX; deferred: try again later. */
  status: 'sent' | 'deferred' | 'failed';
  /** The remote reply ("550 5.1.1 <x@y>: no such user") or a description of a local failure. */
  reply: string;
  /** Set when deferred. */
  deferral?: DeferralClass;
  /** Where it went or was tried: "mx.example.net[192.0.2.1]:25". */
  destination?: string;
  /** The TLS protocol used ("TLSv1.3"), absent for a plain connection. */
  tls?: string;
}

export interface OutboundTransport {
  /** Never rejects: every failure is a recipient outcome. One outcome per recipient, in order. */
  send(message: OutboundMessage): Promise<RecipientOutcome[]>;
  /** Closes pooled connections. */
  close(): Promise<void>;
}

/** Adds a DKIM signature when the message's From domain has a key; returns the message unchanged otherwise. */
export interface MessageSigner {
  sign(raw: Buffer): Promise<Buffer>;
}

/** The envelope sender a forwarded message leaves with (SRS0 for a foreign sender, so SPF passes at the next hop). */
export interface SenderRewriter {
  forwardSender(sender: string): Promise<string>;
}
