// One ManageSieve connection (RFC 5804): greeting, then commands one at a
// time from the receiver, answered in order. The session alone writes to
// the connection; commands return data.
import { ManageSieveReceiver, type ReceivedItem, type Token } from './receiver.js';
import { dataLine, statusLine, type StatusResponse } from './response.js';
import { COMMANDS } from './commands.js';
import { ArgumentError, parseArgs, type CommandContext, type CommandResult, type SessionState } from './command.js';
import type { ManageSieveBackend, SieveUser } from './backend.js';

/** What the session needs of a connection (server/line-listener.ts's LineConnection fits). */
export interface SieveConnection {
  readonly remoteAddress: string;
  readonly secure: boolean;
  write(data: Buffer[]): Promise<void>;
  startTls(): Promise<void>;
  setIdleTimeout(ms: number): void;
  close(): void;
}

/** The limits of one session, in one place. */
export const MANAGESIEVE_LIMITS = {
  /** A command line between literals; quoted strings are at most 1 KiB. */
  maxLineLength: 8 * 1024,
  /** Literals before login: SASL responses only. */
  maxLiteralBeforeAuth: 16 * 1024,
  /** After login, literals may be a script: the largest allowed plus this slack (a name beside it). */
  literalSlack: 8 * 1024,
  /** Over-limit literals up to this size are skipped and refused; larger ones end the connection. */
  maxSkippedLiteral: 64 * 1024 * 1024,
  maxTokens: 8,
  /** Input waiting while a command runs (a pipelining client), beyond two literals; more ends the connection. */
  maxBacklogSlack: 256 * 1024,
  idleBeforeAuthMs: 3 * 60_000,
  idleAfterAuthMs: 30 * 60_000,
} as const;

export interface SessionOptions {
  log?: (event: Record<string, unknown>) => void;
}

export class ManageSieveSession {
  private state: SessionState = 'nonauth';
  private user: SieveUser | undefined;
  private readonly receiver: ManageSieveReceiver;
  private closed = false;
  private wake: (() => void) | undefined;
  private markGone!: (value: false) => void;
  /** Resolves (false) once the connection is closed, by either side. */
  private readonly gone = new Promise<false>((resolve) => (this.markGone = resolve));
  private authFailures = 0;
  private readonly log: (event: Record<string, unknown>) => void;

  constructor(
    private readonly conn: SieveConnection,
    private readonly backend: ManageSieveBackend,
    options: SessionOptions = {},
  ) {
    this.log = options.log ?? (() => {});
    this.receiver = new ManageSieveReceiver({
      maxLineLength: MANAGESIEVE_LIMITS.maxLineLength,
      maxLiteral: MANAGESIEVE_LIMITS.maxLiteralBeforeAuth,
      maxSkippedLiteral: MANAGESIEVE_LIMITS.maxSkippedLiteral,
      maxTokens: MANAGESIEVE_LIMITS.maxTokens,
    });
  }

  start(): void {
    this.conn.setIdleTimeout(MANAGESIEVE_LIMITS.idleBeforeAuthMs);
    void this.run().catch((err) => {
      this.log({ event: 'managesieve-session-error', err: String((err as Error)?.stack ?? err) });
      this.end();
    });
  }

  onData(data: Buffer): void {
    if (this.closed) return;
    this.receiver.push(data);
    if (this.receiver.buffered > this.maxLiteral() * 2 + MANAGESIEVE_LIMITS.maxBacklogSlack) {
      void this.bye('Too much input at once');
      return;
    }
    this.wakeUp();
  }

  onTimeout(): void {
    void this.bye('Disconnected for inactivity');
  }

  onClose(): void {
    this.closed = true;
    this.markGone(false);
    this.wakeUp();
  }

  shutdown(): void {
    void this.bye('Server shutting down');
  }

  private maxLiteral(): number {
    return this.state === 'auth' ? this.backend.quotas().maxScriptSize + MANAGESIEVE_LIMITS.literalSlack : MANAGESIEVE_LIMITS.maxLiteralBeforeAuth;
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** The next item from the client, or undefined once the connection is gone. */
  private async nextItem(): Promise<ReceivedItem | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const item = this.receiver.next();
      if (item) return item;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private async run(): Promise<void> {
    await this.send([...this.capabilityLines(), statusLine({ status: 'OK', text: 'Postino ManageSieve ready' })]);
    for (;;) {
      const item = await this.nextItem();
      if (item === undefined) return;
      if (item.kind === 'fatal') return this.bye(item.text);
      if (item.kind === 'error') {
        await this.send([statusLine({ status: 'NO', code: item.tooBig && this.state === 'auth' ? 'QUOTA/MAXSIZE' : undefined, text: item.text })]);
        continue;
      }
      const result = await this.execute(item.tokens);
      await this.send([...(result.lines ?? []), statusLine(result.status)]);
      if (result.status.status === 'BYE' || result.then === 'close') return this.end();
      if (result.then === 'starttls') {
        // Anything sent in the clear after STARTTLS must not be used (RFC 5804 2.2).
        this.receiver.reset();
        // A failed or abandoned handshake is routine: the session just ends.
        const secured = await Promise.race([this.conn.startTls().then(() => true, () => false), this.gone]);
        if (!secured) return this.end();
        await this.send([...this.capabilityLines(), statusLine({ status: 'OK', text: 'TLS negotiation successful' })]);
      }
      if (result.then === 'unauthenticate') {
        this.user = undefined;
        this.state = 'nonauth';
        this.receiver.setMaxLiteral(MANAGESIEVE_LIMITS.maxLiteralBeforeAuth);
        this.conn.setIdleTimeout(MANAGESIEVE_LIMITS.idleBeforeAuthMs);
      }
    }
  }

  private async execute(tokens: Token[]): Promise<CommandResult> {
    const first = tokens[0]!;
    const name = first.kind === 'atom' ? first.text.toUpperCase() : '';
    const spec = COMMANDS.get(name);
    if (!spec) return { status: { status: 'NO', text: 'Unknown command' } };
    if (!spec.states.includes(this.state)) {
      return { status: { status: 'NO', text: this.state === 'nonauth' ? 'Authenticate first' : 'Already authenticated' } };
    }
    try {
      const args = parseArgs(spec, tokens.slice(1));
      return await spec.run(this.context(), args);
    } catch (err) {
      if (err instanceof ArgumentError) return { status: { status: 'NO', text: err.message } };
      throw err;
    }
  }

  private context(): CommandContext {
    return {
      backend: this.backend,
      user: this.user,
      secure: this.conn.secure,
      remoteAddress: this.conn.remoteAddress,
      capabilityLines: () => this.capabilityLines(),
      challenge: async (data) => {
        await this.send([dataLine(data.toString('base64'))]);
        const item = await this.nextItem();
        // Input that ends the session ends it here too; a refused line is a bad response.
        if (item?.kind === 'fatal') await this.bye(item.text);
        return item?.kind === 'line' ? item.tokens : undefined;
      },
      setUser: (user) => {
        this.user = user;
        this.state = 'auth';
        this.receiver.setMaxLiteral(this.maxLiteral());
        this.conn.setIdleTimeout(MANAGESIEVE_LIMITS.idleAfterAuthMs);
      },
      authFailed: () => ++this.authFailures >= this.backend.maxAuthFailures,
      log: this.log,
    };
  }

  /** RFC 5804 1.7; SASL mechanisms only where AUTHENTICATE may be used (after TLS). */
  capabilityLines(): Buffer[] {
    const caps = this.backend.capabilities();
    const lines = [
      dataLine('IMPLEMENTATION', caps.implementation),
      dataLine('SASL', this.conn.secure ? this.backend.saslMechanisms.join(' ') : ''),
      dataLine('SIEVE', caps.sieve.join(' ')),
    ];
    if (caps.notify.length > 0) lines.push(dataLine('NOTIFY', caps.notify.join(' ')));
    lines.push(dataLine('MAXREDIRECTS', String(caps.maxRedirects)));
    if (!this.conn.secure) lines.push(dataLine('STARTTLS'));
    if (this.user) lines.push(dataLine('OWNER', this.user.address));
    lines.push(dataLine('UNAUTHENTICATE'), dataLine('VERSION', '1.0'));
    return lines;
  }

  private async send(lines: Buffer[]): Promise<void> {
    if (this.closed) return;
    await this.conn.write(lines);
  }

  private async bye(text: string): Promise<void> {
    if (this.closed) return;
    const status: StatusResponse = { status: 'BYE', text };
    const pending = this.send([statusLine(status)]);
    this.end();
    await pending;
  }

  private end(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.close();
    this.markGone(false);
    this.wakeUp();
  }
}
