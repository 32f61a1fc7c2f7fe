// One POP3 session (RFC 1939, 2449, 2595, 5034) over a connection: bytes
// in through the receiver, one command at a time through the command
// table, replies compiled by responses.ts. Deletions happen only at QUIT in
// the TRANSACTION state; a connection that ends any other way deletes nothing.
import { Pop3Receiver } from './receiver.js';
import { END, crlfAsStored, err, messageParts, ok, replyParts, statusLine, type Pop3Reply } from './responses.js';
import { COPY_MAX, OutputBatch } from './output.js';
import { authErrorReply, errorReply, isUnexpected } from './errors.js';
import { COMMAND_TABLE, type CommandResult, type Pop3Context, type Pop3State } from './commands.js';
import {
  IDLE_TIMEOUT_MS,
  MAX_AUTH_FAILURES,
  MAX_COMMAND_LINE,
  MAX_COMMANDS_BEFORE_AUTH,
  MAX_COMMANDS_PER_SESSION,
  MAX_QUEUED_LINES,
  MAX_SASL_LINE,
  OUTPUT_BATCH_BYTES,
  READ_AHEAD_BYTES,
  READ_AHEAD_MESSAGES,
  SEEN_BATCH,
  SEEN_DELAY_MS,
} from './limits.js';
import type { Pop3Backend, Pop3LentMessage, Pop3Maildrop, Pop3SaslExchange, Pop3User } from './backend.js';

/** The connection as the session sees it (server/line-listener's LineConnection fits). */
export interface Pop3Transport {
  readonly remoteAddress: string;
  readonly secure: boolean;
  /** written: called once the socket is done with `data` (written, or never to be). */
  write(data: Buffer[], written?: () => void): Promise<void>;
  startTls(): Promise<void>;
  setIdleTimeout(ms: number): void;
  close(): void;
}

export interface Pop3SessionOptions {
  hostname: string;
  /** USER/PASS and AUTH without TLS (pop3.allowPlaintextAuth). */
  allowPlaintextAuth: boolean;
  startTlsAvailable: boolean;
  log?: (event: Record<string, unknown>) => void;
}

type Line = { kind: 'line'; text: string } | { kind: 'too-long' };
/**
 * A read started for a RETR still to come: once `settled` (which never
 * rejects), `raw` when it went well, else `error`; `lent` when the store
 * lent the bytes (given back once they are copied into the reply, or when
 * the read is not wanted after all).
 */
type ReadAhead = { size: number; settled: Promise<void>; done: boolean; raw?: Buffer; error?: unknown; lent?: Pop3LentMessage };

/**
 * Commands that never wait for anything but a message read: their replies
 * may be held back and sent with the next ones. Before any other command,
 * what is held goes out (it may wait for a login, a store, TLS).
 */
const GATHERED = new Set(['RETR', 'TOP', 'DELE', 'NOOP', 'STAT', 'LIST', 'UIDL', 'RSET', 'CAPA']);

export class Pop3Session implements Pop3Context {
  private readonly receiver = new Pop3Receiver(MAX_COMMAND_LINE);
  private readonly queue: Line[] = [];
  private busy = false;
  private closed = false;
  private commands = 0;
  private authFailures = 0;
  private release: (() => void) | undefined;
  private sasl: { exchange: Pop3SaslExchange; mechanism: string; finishing: boolean } | undefined;
  /**
   * Per message number, 1 once RETR has marked it \Seen (made at login: a
   * byte per message, not a set grown and rehashed through a first download).
   */
  private seenNow = new Uint8Array(0);
  /** UIDs of those not stored yet (see SEEN_DELAY_MS). */
  private seenPending: number[] = [];
  /** Set while some are pending: stores them SEEN_DELAY_MS after the first. */
  private seenTimer: NodeJS.Timeout | undefined;
  /** The \Seen batches being stored, one after the other, off the path of the RETRs. */
  private seenStored: Promise<void> = Promise.resolve();
  /** Replies held back to go out in one write (see GATHERED). */
  private readonly out = new OutputBatch();
  /** Lines received since the queue was last looked at for RETRs to read ahead. */
  private arrived = 0;

  state: Pop3State = 'authorization';
  pendingUser: string | undefined;
  user: Pop3User | undefined;
  drop: Pop3Maildrop | undefined;
  readonly deleted = new Set<number>();

  constructor(
    private readonly transport: Pop3Transport,
    readonly backend: Pop3Backend,
    private readonly options: Pop3SessionOptions,
  ) {}

  get ip(): string {
    return this.transport.remoteAddress;
  }
  get secure(): boolean {
    return this.transport.secure;
  }
  get authAllowed(): boolean {
    return this.transport.secure || this.options.allowPlaintextAuth;
  }
  get startTlsAvailable(): boolean {
    return this.options.startTlsAvailable;
  }

  start(): void {
    this.transport.setIdleTimeout(IDLE_TIMEOUT_MS);
    this.send(ok(`${this.options.hostname} POP3 ready`));
    void this.flush();
  }

  // ---- ConnectionHandler ------------------------------------------------------

  onData(data: Buffer): void {
    if (this.closed) return;
    for (const item of this.receiver.feed(data)) {
      this.queue.push(item);
      this.arrived++;
    }
    if (this.queue.length > MAX_QUEUED_LINES) {
      this.queue.length = 0;
      void this.end(err('Too many pipelined commands', 'SYS/PERM'));
      return;
    }
    void this.pump();
  }

  onTimeout(): void {
    void this.end(err('Disconnected for inactivity', 'SYS/TEMP'));
  }

  onClose(): void {
    this.closed = true;
    this.queue.length = 0;
    // Nothing is deleted: only QUIT in TRANSACTION deletes. What was sent is \Seen, though.
    void this.finish();
  }

  shutdown(): void {
    void this.end(err('Server shutting down', 'SYS/TEMP'));
  }

  // ---- Pop3Context --------------------------------------------------------------

  async enter(user: Pop3User): Promise<Pop3Reply> {
    const release = this.backend.lock(user);
    if (!release) {
      this.log({ event: 'pop3-in-use', ip: this.ip, user: user.address });
      return err('Mailbox is locked by another POP3 session', 'IN-USE');
    }
    try {
      this.drop = await this.backend.open(user);
    } catch (e) {
      release();
      this.logError(e, 'open');
      return errorReply(e);
    }
    if (this.closed) {
      release();
      return err('Connection closed');
    }
    this.release = release;
    this.seenNow = new Uint8Array(this.drop.messages.length + 1);
    this.user = user;
    this.state = 'transaction';
    this.receiver.maxLine = MAX_COMMAND_LINE;
    this.log({ event: 'pop3-login', ip: this.ip, user: user.address, messages: this.drop.messages.length });
    const size = this.drop.messages.reduce((s, m) => s + m.size, 0);
    return ok(`Logged in, ${this.drop.messages.length} messages (${size} octets)`);
  }

  authFailed(reply: Pop3Reply): Pop3Reply {
    this.authFailures++;
    return reply;
  }

  markSeen(n: number): void {
    const message = this.drop!.messages[n - 1]!;
    // \Seen at login already (a re-download): nothing to store, nothing to remember.
    if (message.seen || this.seenNow[n] === 1) return;
    this.seenNow[n] = 1;
    this.seenPending.push(message.uid);
    // Not unref'd: a server shutting down stores them first (the session's end does too).
    this.seenTimer ??= setTimeout(() => void this.flushSeen(), SEEN_DELAY_MS);
  }

  /**
   * Stores the pending \Seen flags after those before them; resolves when
   * all are stored. RETR does not wait for it (the message goes out either
   * way: a flag that could not be set is only logged); QUIT and the end of
   * the session do.
   */
  private flushSeen(): Promise<void> {
    clearTimeout(this.seenTimer);
    this.seenTimer = undefined;
    const user = this.user;
    const drop = this.drop;
    if (this.seenPending.length > 0 && user && drop) {
      const uids = this.seenPending;
      this.seenPending = [];
      this.seenStored = this.seenStored.then(() => this.storeSeen(user, drop, uids));
    }
    return this.seenStored;
  }

  /**
   * SEEN_BATCH flags per write, a turn of the event loop between writes (other
   * sessions go on); a write's fsync, in the store's writer threads, does not
   * hold up the next write. Resolves when every batch is durable.
   */
  private async storeSeen(user: Pop3User, drop: Pop3Maildrop, uids: number[]): Promise<void> {
    const stored: Array<Promise<void>> = [];
    for (let at = 0; at < uids.length; at += SEEN_BATCH) {
      if (at > 0) await new Promise((resolve) => setImmediate(resolve));
      stored.push(this.backend.markSeen(user, drop, uids.slice(at, at + SEEN_BATCH)).catch((e: unknown) => this.logError(e, 'seen')));
    }
    await Promise.all(stored);
  }

  /** Reads started ahead for pipelined RETRs, by message number; `raw` once read. */
  private readonly readAhead = new Map<number, ReadAhead>();
  /** The message number of the last RETR (to see a client going in order). */
  private lastRetr = 0;

  /** The read-ahead whose bytes the reply being made uses: given back by send() once copied. */
  private lentRead: ReadAhead | undefined;

  readMessage(n: number): Buffer | Promise<Buffer> {
    const ahead = this.readAhead.get(n);
    this.readAhead.delete(n);
    if (this.lentRead) giveBack(this.lentRead);
    this.lentRead = ahead;
    const direct = ahead ? undefined : this.backend.read(this.user!, this.drop!, this.drop!.messages[n - 1]!.uid);
    // A client fetching the messages in order (fetchmail, a mail client's first
    // download) is read for ahead of what it has sent: a few lines in flight
    // would otherwise keep the reads to a few per hand-off.
    const inOrder = this.lastRetr === n - 1;
    this.lastRetr = n;
    // Refilled in batches (one hand-off to the reader threads for many files): when this one was
    // not read ahead, or when half the reads are used and enough new lines came to look at (or
    // the client goes in order).
    if (!ahead || (this.readAhead.size < READ_AHEAD_MESSAGES / 2 && (inOrder || this.arrived >= READ_AHEAD_MESSAGES / 4))) {
      this.startReadAhead(inOrder ? n + 1 : undefined);
    }
    // Read already: the reply is made now, with no turn of the event loop in between.
    if (ahead?.raw) return ahead.raw;
    const bytes = direct ?? ahead!.settled.then(() => ahead!.raw ?? Promise.reject(ahead!.error));
    // Replies held back must not wait for a read that has not finished.
    const flushed = ahead?.done ? undefined : this.flush();
    return flushed ? flushed.then(() => bytes) : bytes;
  }

  /**
   * A client that pipelines RETRs (fetchmail, mass downloads) gets the next
   * messages read while this one is sent, within READ_AHEAD_* bounds; only
   * the first few queued lines are looked at.
   */
  private startReadAhead(nextInOrder?: number): void {
    const drop = this.drop;
    if (!drop) return;
    this.arrived = 0;
    let bytes = 0;
    for (const [n, r] of this.readAhead) {
      // Read for a RETR that a DELE before it made moot: forget it.
      if (this.deleted.has(n)) {
        this.readAhead.delete(n);
        giveBack(r);
      } else bytes += r.size;
    }
    const lent = new LentReads();
    /** Starts reading message n ahead unless it needs none (gone, deleted, read already); false once the byte bound is reached. */
    const readAheadOf = (n: number): boolean => {
      const message = drop.messages[n - 1];
      if (!message || this.deleted.has(n) || this.readAhead.has(n)) return true;
      if (bytes + message.size > READ_AHEAD_BYTES) return false;
      bytes += message.size;
      const entry: ReadAhead = { size: message.size, settled: undefined as unknown as Promise<void>, done: false };
      this.readAhead.set(n, entry);
      // A message small enough to be copied into the reply (see send) is read into memory the
      // store lends and takes back (no new buffer per message for the garbage collector), with
      // the others of this look ahead in one request.
      if (this.backend.readManyLent && message.size < COPY_MAX) lent.add(message.uid, entry);
      else entry.settled = this.backend.read(this.user!, drop, message.uid).then((raw) => settle(entry, raw), (e: unknown) => settle(entry, undefined, e));
      return true;
    };
    const look = Math.min(this.queue.length, READ_AHEAD_MESSAGES * 2);
    for (let i = 0; i < look && this.readAhead.size < READ_AHEAD_MESSAGES; i++) {
      const item = this.queue[i]!;
      const n = item.kind === 'line' ? retrNumber(item.text) : 0;
      if (n > 0 && !readAheadOf(n)) break;
    }
    for (let n = nextInOrder ?? Infinity; n <= drop.messages.length && this.readAhead.size < READ_AHEAD_MESSAGES; n++) {
      if (!readAheadOf(n)) break;
    }
    lent.start(this.backend, this.user!, drop);
  }

  // ---- the command loop -----------------------------------------------------------

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (!this.closed && this.queue.length > 0) {
        const item = this.queue.shift()!;
        const name = item.kind === 'line' ? commandName(item.text) : '';
        // Each step awaited only when it has to wait: a RETR whose message was
        // read ahead runs to its reply with no turn of the event loop.
        if (this.sasl || !GATHERED.has(name)) await this.flush();
        const step = this.sasl ? this.saslResponse(item) : this.command(item, name);
        if (step) await step;
        if (this.queue.length === 0 || this.out.size >= OUTPUT_BATCH_BYTES) {
          const flushed = this.flush();
          if (flushed) await flushed;
        }
      }
      // Nothing more to do for now: no output buffer kept while the session waits.
      if (this.out.size === 0) this.out.release();
    } catch (e) {
      this.logError(e, 'session');
      await this.end(err('Internal error', 'SYS/TEMP'));
    } finally {
      this.busy = false;
    }
  }

  /** Runs one command (`name`: its name in upper case); a promise only when it has to wait for something. */
  private command(item: Line, name: string): Promise<void> | void {
    this.commands++;
    if (this.commands > MAX_COMMANDS_PER_SESSION || (this.state === 'authorization' && this.commands > MAX_COMMANDS_BEFORE_AUTH)) {
      return this.end(err('Too many commands', 'SYS/PERM'));
    }
    if (item.kind === 'too-long') return this.send(err('Line too long'));
    const text = item.text;
    const space = text.indexOf(' ');
    const command = COMMAND_TABLE.get(name);
    if (!command) return this.send(err('Unknown command'));
    if (!command.states.includes(this.state)) {
      return this.send(err(this.state === 'authorization' ? 'Log in first' : 'Not allowed after login'));
    }
    const rest = space < 0 ? '' : text.slice(space + 1);
    let args: string[];
    if (command.restOfLine) args = rest === '' ? [] : [rest];
    else args = rest === '' ? [] : rest.split(' ');
    // Control characters have no place in a command (NULs, bare CRs): refused before any handler sees them.
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(rest) && !command.restOfLine) return this.send(err('Invalid characters in command'));
    if (args.some((a) => a === '') || args.length < command.minArgs || args.length > command.maxArgs) {
      return this.send(err(`Wrong arguments for ${name}`));
    }
    const ran = command.run(this, args);
    return ran instanceof Promise ? ran.then((result) => this.done(result)) : this.done(ran);
  }

  /** What a command's handler asked for: a reply, or a step only the session takes. */
  private done(result: CommandResult): Promise<void> | void {
    if (result.kind === 'stls') return this.startTls();
    if (result.kind === 'quit') return this.quit();
    if (result.kind === 'sasl') return this.startSasl(result.mechanism, result.initial);
    this.send(result);
    if (this.authFailures >= MAX_AUTH_FAILURES) return this.end(err('Too many authentication failures', 'AUTH'));
  }

  private async startTls(): Promise<void> {
    this.send(ok('Begin TLS negotiation'));
    await this.flush();
    // Anything the client sent after STLS in the clear is dropped (RFC 2595 / CVE-2011-0411 style injection).
    this.queue.length = 0;
    this.receiver.reset();
    try {
      await this.transport.startTls();
    } catch (e) {
      this.log({ event: 'pop3-tls-failed', ip: this.ip, err: String(e) });
      this.transport.close();
      return;
    }
    // RFC 2595 4: the client forgets what it knew; so do we.
    this.pendingUser = undefined;
  }

  private async quit(): Promise<void> {
    if (this.state === 'transaction' && this.drop) {
      await this.flushSeen();
      // UPDATE state: the marked messages are expunged now, through the store, so IMAP sessions see them go.
      const uids = [...this.deleted].sort((a, b) => a - b).map((n) => this.drop!.messages[n - 1]!.uid);
      if (uids.length > 0) {
        try {
          await this.backend.remove(this.user!, this.drop, uids);
        } catch (e) {
          this.logError(e, 'remove');
          return this.end(err('Some deleted messages not removed', 'SYS/TEMP'));
        }
      }
      this.log({ event: 'pop3-logout', ip: this.ip, user: this.user?.address, deleted: uids.length });
      return this.end(ok(`Logging out, ${uids.length} messages deleted`));
    }
    return this.end(ok('Logging out'));
  }

  // ---- AUTH (RFC 5034) ---------------------------------------------------------------

  private async startSasl(mechanism: string, initial: string | undefined): Promise<void> {
    const exchange = this.backend.startSasl(mechanism, this.ip);
    this.sasl = { exchange, mechanism, finishing: false };
    this.receiver.maxLine = MAX_SASL_LINE;
    if (initial === undefined) return this.saslStep(undefined);
    const decoded = decodeResponse(initial, true);
    if (decoded === 'abort') return this.saslAbort();
    if (decoded === 'bad') return this.saslBad();
    return this.saslStep(decoded);
  }

  private async saslResponse(item: Line): Promise<void> {
    if (item.kind === 'too-long') return this.saslBad();
    const decoded = decodeResponse(item.text, false);
    if (decoded === 'abort') return this.saslAbort();
    if (decoded === 'bad') return this.saslBad();
    if (this.sasl!.finishing) {
      // SCRAM: the server-final message was sent as a challenge; an empty answer completes the login.
      if (decoded.length !== 0) return this.saslBad();
      const user = this.finishedUser!;
      this.endSasl();
      return this.send(await this.enter(user));
    }
    return this.saslStep(decoded);
  }

  private finishedUser: Pop3User | undefined;

  private async saslStep(response: Buffer | undefined): Promise<void> {
    let step;
    try {
      step = await this.sasl!.exchange.step(response);
    } catch (e) {
      this.endSasl();
      return this.failAuth(authErrorReply(e));
    }
    if (this.closed) return;
    if (step.kind === 'challenge') return this.send({ kind: 'continue', data: step.data });
    if (step.kind === 'failure') {
      this.endSasl();
      return this.failAuth(authErrorReply(step.error));
    }
    if (step.data) {
      this.sasl!.finishing = true;
      this.finishedUser = step.user;
      return this.send({ kind: 'continue', data: step.data });
    }
    this.endSasl();
    return this.send(await this.enter(step.user));
  }

  private async failAuth(reply: Pop3Reply): Promise<void> {
    this.authFailures++;
    this.send(reply);
    if (this.authFailures >= MAX_AUTH_FAILURES) await this.end(err('Too many authentication failures', 'AUTH'));
  }

  private saslAbort(): void {
    this.endSasl();
    this.send(err('Authentication aborted'));
  }

  /** A response the mechanism never sees (not base64, too long): a failed login, logged and slowed as in IMAP and submission. */
  private async saslBad(): Promise<void> {
    const mechanism = this.sasl?.mechanism ?? 'PLAIN';
    this.endSasl();
    try {
      await this.backend.malformed(mechanism, this.ip);
    } catch (e) {
      this.logError(e, 'auth');
    }
    return this.failAuth(err('Malformed authentication data', 'AUTH'));
  }

  private endSasl(): void {
    this.sasl = undefined;
    this.finishedUser = undefined;
    this.receiver.maxLine = MAX_COMMAND_LINE;
  }

  // ---- output ------------------------------------------------------------------------

  /** Queues a reply; flush() sends it. */
  private send(reply: Pop3Reply): void {
    if (this.closed) return;
    if (reply.kind === 'message') {
      // RETR's hot path: the status line written straight into the batch, the body copied after it
      // (as it is when the index says there is nothing to stuff, dot-stuffed on the way when its
      // line ends need no mending, else as pieces).
      this.out.text(statusLine(reply));
      if (reply.raw.length < COPY_MAX && crlfAsStored(reply)) {
        if (reply.dotFree) this.out.bytes(reply.raw);
        else this.out.dotStuffed(reply.raw);
      } else for (const part of messageParts(reply)) this.out.bytes(part);
      this.out.bytes(END);
      // Copied: lent bytes go back to the store.
      if (this.lentRead) {
        giveBack(this.lentRead);
        this.lentRead = undefined;
      }
      return;
    }
    for (const part of replyParts(reply)) this.out.bytes(part);
  }

  /** Sends the replies held back (see OutputBatch); undefined when there was nothing to send. */
  private flush(): Promise<void> | undefined {
    if (this.out.size === 0) return undefined;
    const batch = this.out.take();
    if (this.closed) {
      batch.written();
      return undefined;
    }
    return this.transport.write(batch.parts, batch.written);
  }

  private async end(reply: Pop3Reply): Promise<void> {
    if (this.closed) return;
    this.send(reply);
    await this.flush();
    this.closed = true;
    this.queue.length = 0;
    this.transport.close();
    await this.finish();
  }

  /** The session is over: pending \Seen flags stored, then the maildrop let go. */
  private async finish(): Promise<void> {
    for (const r of this.readAhead.values()) giveBack(r);
    this.readAhead.clear();
    if (this.lentRead) giveBack(this.lentRead);
    this.lentRead = undefined;
    this.out.release();
    await this.flushSeen();
    this.release?.();
    this.release = undefined;
  }

  private log(event: Record<string, unknown>): void {
    this.options.log?.(event);
  }

  private logError(e: unknown, during: string): void {
    if (isUnexpected(e)) this.log({ event: 'pop3-error', during, ip: this.ip, err: String(e) });
  }
}

/** A read-ahead is done: its bytes, or the error the RETR will report when it comes (a read not wanted after all is dropped). */
function settle(entry: ReadAhead, raw: Buffer | undefined, error?: unknown, lent?: Pop3LentMessage): void {
  entry.raw = raw;
  entry.error = error;
  entry.lent = lent;
  entry.done = true;
}

/** The lent reads of one look ahead: asked of the backend in one request, settled with one promise. */
class LentReads {
  private readonly uids: number[] = [];
  private readonly entries: ReadAhead[] = [];

  add(uid: number, entry: ReadAhead): void {
    this.uids.push(uid);
    this.entries.push(entry);
  }

  start(backend: Pop3Backend, user: Pop3User, drop: Pop3Maildrop): void {
    const { entries } = this;
    if (entries.length === 0) return;
    const settled = backend.readManyLent!(user, drop, this.uids).then(
      (results) =>
        results.forEach((r, i) => {
          if (r instanceof Error) settle(entries[i]!, undefined, r);
          else settle(entries[i]!, r.bytes, undefined, r);
        }),
      (e: unknown) => {
        for (const entry of entries) settle(entry, undefined, e);
      },
    );
    for (const entry of entries) entry.settled = settled;
  }
}

const RETR_LOWER = 'retr';

/** The message number of a "RETR n" line (any case, n of 1 to 10 digits, no leading zero); 0 for any other line. */
function retrNumber(text: string): number {
  if (text.length < 6 || text.length > 15 || text.charCodeAt(4) !== 0x20) return 0;
  // "RETR" in any case: a letter's lower case is its upper case with 0x20 set.
  for (let i = 0; i < 4; i++) if ((text.charCodeAt(i) | 0x20) !== RETR_LOWER.charCodeAt(i)) return 0;
  let n = 0;
  for (let i = 5; i < text.length; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9 || (i === 5 && d === 0)) return 0;
    n = n * 10 + d;
  }
  return n;
}

/** Gives a read-ahead's lent bytes back once its read has settled (never while the store still reads into them). */
function giveBack(r: ReadAhead): void {
  if (r.done) r.lent?.release();
  else void r.settled.then(() => r.lent?.release());
}

/** A command line's first word in upper case. */
function commandName(text: string): string {
  const space = text.indexOf(' ');
  return (space < 0 ? text : text.slice(0, space)).toUpperCase();
}

/** Strict base64 (RFC 4648, padded): linear, no backtracking. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** One client SASL response: "*" aborts; "=" as the initial response is an empty one (RFC 5034 4). */
function decodeResponse(text: string, initial: boolean): Buffer | 'abort' | 'bad' {
  if (text === '*') return 'abort';
  if (initial && text === '=') return Buffer.alloc(0);
  if (!BASE64.test(text)) return 'bad';
  return Buffer.from(text, 'base64');
}
