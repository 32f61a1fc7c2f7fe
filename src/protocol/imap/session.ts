// One IMAP connection: feeds bytes to the receiver, dispatches commands from
// the registry after the generic state check, writes what handlers return,
// and delivers mailbox changes at the times RFC 3501 7.4.1 allows (at once
// during IDLE). The only writer of the connection.
import { ImapReceiver, type RawCommand, type ReceivedItem } from './receiver.js';
import { parseCommand, ImapParseError, ImapRefusal, TaggedParseError } from './parser.js';
import { compileResponses, statusResponse, type ImapResponse } from './response.js';
import { errorResult } from './errors.js';
import { IMAP_LIMITS } from './limits.js';
import type { ImapBackend, ImapUser, MailboxChange } from './backend.js';
import type { CommandResult, ImapCommand, SessionContext, SessionState } from './command.js';
import type { SelectedMailbox } from './selected.js';
import { decodeMutf7, encodeMutf7 } from './mutf7.js';
import { COMMANDS } from './commands/index.js';
import { uidFetchCommand } from './commands/fetch.js';
import { NotifyState, type NotifySpec } from './notify.js';

/** The connection as the session sees it (implemented by src/server/line-listener.ts). */
export interface ImapTransport {
  /** Writes in order; resolves when the data is handed to the kernel (backpressure). */
  write(data: Buffer[]): Promise<void>;
  startTls(): Promise<void>;
  /** Optional: raw DEFLATE both ways from now on (COMPRESS=DEFLATE). */
  startCompression?(): void;
  readonly compressed?: boolean;
  close(): void;
  readonly secure: boolean;
  readonly remoteAddress: string;
  setIdleTimeout(ms: number): void;
}

/** SETMETADATA's literals are entry names and values (RFC 5464 4.3): none may be longer than a value. */
const SETMETADATA_START = /^\S+ SETMETADATA /i;
const SETMETADATA_LITERAL = {
  max: IMAP_LIMITS.metadataMaxValueSize,
  responseCode: `METADATA MAXSIZE ${IMAP_LIMITS.metadataMaxValueSize}`,
  text: 'Entry value is too long',
};

export interface SessionOptions {
  hostname: string;
  /** Allow LOGIN/AUTHENTICATE without TLS (tests on loopback only). */
  allowPlaintextAuth: boolean;
  /** STARTTLS can be offered (a certificate is configured). */
  startTlsAvailable: boolean;
  log?: (event: Record<string, unknown>) => void;
  /** The command registry; the default is every command in commands/. */
  commands?: ReadonlyMap<string, ImapCommand<unknown>>;
}

export class ImapSession implements SessionContext {
  private readonly receiver: ImapReceiver;
  private busy = false;
  private closed = false;
  private badInARow = 0;
  private authFailures = 0;
  private lineWaiter: { resolve(line: Buffer): void; reject(err: Error): void } | undefined;
  private unsubscribe: (() => void) | undefined;
  private idling = false;
  private idleFlushScheduled = false;
  private selectedGone = false;
  private announceModseq = false;
  private readonly enabledSet = new Set<string>();
  private readonly commands: ReadonlyMap<string, ImapCommand<unknown>>;
  /** NOTIFY (RFC 5465) state; undefined without NOTIFY SET. */
  private notify: NotifyState | undefined;
  private notifyScheduled = false;
  private notifyWriting = false;
  /**
   * Work that started outside a command and writes on its own (an IDLE
   * wake-up, NOTIFY events, the look whether the selected mailbox is still
   * there): a command's end waits for it, so its responses come after.
   */
  private idleFlushing: Promise<void> | undefined;
  private notifyWrite: Promise<void> | undefined;
  private goneCheck: Promise<void> | undefined;

  tag = '*';
  state: SessionState = 'notauth';
  user: ImapUser | undefined;
  selected: SelectedMailbox | undefined;

  constructor(
    private readonly transport: ImapTransport,
    readonly backend: ImapBackend,
    private readonly options: SessionOptions,
  ) {
    this.receiver = new ImapReceiver({
      maxLineLength: IMAP_LIMITS.maxLineLength,
      maxLiteral: IMAP_LIMITS.maxPreAuthLiteral,
      // Before login: a user name and a password at most.
      maxCommandLiterals: 2 * IMAP_LIMITS.maxPreAuthLiteral,
      literalLimitFor: (start) => (SETMETADATA_START.test(start) ? SETMETADATA_LITERAL : undefined),
    });
    this.commands = options.commands ?? COMMANDS;
  }

  // ---- SessionContext ---------------------------------------------------

  get tls(): boolean {
    return this.transport.secure;
  }

  get remoteAddress(): string {
    return this.transport.remoteAddress;
  }

  get enabled(): ReadonlySet<string> {
    return this.enabledSet;
  }

  /** IMAP4rev2 enabled (RFC 9051): UTF-8 names, ESEARCH answers, no \Recent. */
  get rev2(): boolean {
    return this.enabledSet.has('IMAP4REV2');
  }

  /** Mailbox names and quoted strings in UTF-8: UTF8=ACCEPT (RFC 6855) or IMAP4rev2. */
  get utf8(): boolean {
    return this.enabledSet.has('UTF8=ACCEPT') || this.rev2;
  }

  get compressionAvailable(): boolean {
    return this.transport.startCompression !== undefined;
  }

  get compressionActive(): boolean {
    return this.transport.compressed === true;
  }

  get loginDisabled(): boolean {
    return !this.transport.secure && !this.options.allowPlaintextAuth;
  }

  capabilities(): string[] {
    // LITERAL+ includes LITERAL-, which IMAP4rev2 requires (RFC 7888 4).
    const caps = ['IMAP4rev1', 'IMAP4rev2', 'SASL-IR', 'LITERAL+', 'ID', 'ENABLE', 'IDLE'];
    if (this.state === 'notauth') {
      if (!this.transport.secure && this.options.startTlsAvailable) caps.push('STARTTLS');
      if (this.loginDisabled) caps.push('LOGINDISABLED');
      else for (const m of this.backend.saslMechanisms) caps.push(`AUTH=${m}`);
      return caps;
    }
    caps.push(
      'NAMESPACE',
      'UIDPLUS',
      'MULTIAPPEND',
      'CATENATE',
      'BINARY',
      'MOVE',
      'UNSELECT',
      'CHILDREN',
      'SPECIAL-USE',
      'CREATE-SPECIAL-USE',
      'LIST-EXTENDED',
      'LIST-STATUS',
      'CONDSTORE',
      'QRESYNC',
      'ESEARCH',
      'CONTEXT=SEARCH',
      'SEARCHRES',
      'SORT',
      'SORT=DISPLAY',
      'ESORT',
      'PARTIAL',
      'THREAD=ORDEREDSUBJECT',
      'THREAD=REFERENCES',
      'QUOTA',
      'QUOTA=RES-STORAGE',
      // RFC 5464: METADATA covers server and mailbox entries; METADATA-SERVER
      // (server entries only) is implied by it and announced too, for clients
      // that look for it. Dovecot 2.3 announces METADATA alone.
      'METADATA',
      'METADATA-SERVER',
      'STATUS=SIZE',
      `APPENDLIMIT=${this.backend.appendLimit}`,
      'UTF8=ACCEPT',
      'NOTIFY',
    );
    if (this.transport.startCompression && !this.transport.compressed) caps.push('COMPRESS=DEFLATE');
    return caps;
  }

  setUser(user: ImapUser): void {
    this.user = user;
    this.state = 'auth';
    this.receiver.setMaxLiteral(this.backend.appendLimit, IMAP_LIMITS.maxCommandLiterals);
    this.transport.setIdleTimeout(IMAP_LIMITS.authTimeoutMs);
    this.unsubscribe?.();
    this.unsubscribe = this.backend.subscribe(user, (change) => this.onChange(change), () => this.onMissed());
    this.options.log?.({ event: 'imap-login', user: user.address, ip: this.remoteAddress });
  }

  authFailed(): boolean {
    return ++this.authFailures >= IMAP_LIMITS.maxAuthFailures;
  }

  select(mailbox: SelectedMailbox | undefined): void {
    this.selectedGone = false;
    if (this.selected !== mailbox) this.selected?.close();
    // Selected as the connection closed: nothing will ever let go of it.
    if (this.closed) mailbox?.close();
    this.selected = mailbox;
    this.state = mailbox === undefined ? 'auth' : 'selected';
  }

  enable(extension: string): void {
    const ext = extension.toUpperCase();
    // RFC 7162 3.1.2: the first CONDSTORE-enabling command with a mailbox selected hears its HIGHESTMODSEQ.
    if (ext === 'CONDSTORE' && !this.enabledSet.has(ext) && this.selected) this.announceModseq = true;
    this.enabledSet.add(ext);
    if (this.selected && this.rev2) this.selected.hideRecent = true;
  }

  decodeMailboxName(wire: string): string {
    let name: string;
    if (this.utf8) name = wire;
    else {
      try {
        name = decodeMutf7(wire);
      } catch {
        throw new ImapRefusal('Mailbox name is not valid modified UTF-7');
      }
    }
    if (/^inbox(\/|$)/i.test(name)) name = 'INBOX' + name.slice(5);
    return name;
  }

  encodeMailboxName(name: string): string {
    return this.utf8 ? name : encodeMutf7(name);
  }

  async continuation(text: string): Promise<Buffer> {
    await this.write([{ type: 'continue', text }]);
    return new Promise<Buffer>((resolve, reject) => {
      this.lineWaiter = { resolve, reject };
      this.offerLine();
    });
  }

  async sendNow(responses: ImapResponse[]): Promise<void> {
    await this.write(responses);
  }

  startIdle(): void {
    this.idling = true;
    this.scheduleIdleFlush();
  }

  stopIdle(): void {
    this.idling = false;
  }

  async setNotify(spec: NotifySpec | undefined): Promise<ImapResponse[]> {
    this.notify = undefined;
    if (!spec || !this.user) return [];
    const user = this.user;
    const notify = await NotifyState.open(spec, {
      backend: this.backend,
      user,
      selectedId: () => this.selected?.mailboxId,
      encodeName: (name) => this.encodeMailboxName(name),
      condstore: () => this.enabledSet.has('CONDSTORE'),
    });
    this.notify = notify;
    // STATUS with HIGHESTMODSEQ enables CONDSTORE (RFC 7162 3.1); Dovecot's NOTIFY SET STATUS does so.
    if (spec.status) this.enable('CONDSTORE');
    return spec.status ? notify.initialStatus() : [];
  }

  // ---- connection events ------------------------------------------------

  start(): void {
    this.transport.setIdleTimeout(IMAP_LIMITS.preAuthTimeoutMs);
    void this.write([statusResponse('OK', 'Postino IMAP ready', `CAPABILITY ${this.capabilities().join(' ')}`)]);
  }

  onData(data: Buffer): void {
    if (this.closed) return;
    this.receiver.push(data);
    if (this.lineWaiter) this.offerLine();
    else void this.pump();
  }

  onTimeout(): void {
    if (this.closed) return;
    void this.write([statusResponse('BYE', 'Autologout; idle for too long')]).finally(() => this.close());
  }

  onClose(): void {
    this.closed = true;
    this.selected?.close();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    const w = this.lineWaiter;
    this.lineWaiter = undefined;
    w?.reject(new Error('connection closed'));
  }

  /** The server is shutting down. */
  shutdown(): void {
    if (this.closed) return;
    void this.write([statusResponse('BYE', 'Server shutting down')]).finally(() => this.close());
  }

  private dropSession(text: string): void {
    void this.write([statusResponse('BYE', text)]).finally(() => this.close());
  }

  private close(): void {
    if (this.closed) return;
    this.onClose();
    this.transport.close();
  }

  // ---- the command loop ---------------------------------------------------

  private offerLine(): void {
    const waiter = this.lineWaiter;
    if (!waiter) return;
    const item = this.receiver.next(true);
    if (item === undefined) return;
    this.lineWaiter = undefined;
    if (item.kind === 'line') waiter.resolve(item.line);
    else if (item.kind === 'command') waiter.resolve(Buffer.from(item.command.segments.join(''), 'utf8'));
    else waiter.reject(new ImapParseError('Line too long'));
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (!this.closed && this.lineWaiter === undefined) {
        const item = this.receiver.next(false);
        if (item === undefined) break;
        await this.handle(item);
      }
    } catch (err) {
      this.options.log?.({ event: 'imap-session-error', err: String(err) });
      this.close();
    } finally {
      this.busy = false;
    }
  }

  private async handle(item: ReceivedItem): Promise<void> {
    switch (item.kind) {
      case 'continue':
        await this.write([{ type: 'continue', text: 'Ready for literal data' }]);
        return;
      case 'error':
        if (item.code === 'TOOBIG') {
          this.badInARow = 0;
          await this.write([statusResponse('NO', item.text, item.responseCode ?? 'TOOBIG', item.tag)]);
        } else await this.bad(item.tag, item.text);
        return;
      case 'line':
        await this.bad(undefined, 'Unexpected line');
        return;
      case 'command':
        await this.execute(item.command);
        return;
    }
  }

  private async bad(tag: string | undefined, text: string): Promise<void> {
    this.badInARow++;
    const responses: ImapResponse[] = [statusResponse('BAD', text, undefined, tag)];
    if (this.badInARow >= IMAP_LIMITS.maxBadCommandsInARow) {
      responses.push(statusResponse('BYE', 'Too many invalid commands'));
      await this.write(responses);
      this.close();
      return;
    }
    await this.write(responses);
  }

  private async execute(raw: RawCommand): Promise<void> {
    let parsed;
    try {
      parsed = parseCommand(raw);
    } catch (err) {
      if (err instanceof TaggedParseError) return this.bad(err.tag, err.message);
      if (err instanceof ImapParseError) return this.bad(undefined, err.message);
      throw err;
    }
    this.tag = parsed.tag;
    const command = this.commands.get(parsed.name);
    if (command === undefined) return this.bad(parsed.tag, 'Unknown command');
    if (!command.states.includes(this.state)) {
      const why = this.state === 'notauth' ? 'Log in first' : this.state === 'auth' ? 'Select a mailbox first' : 'Not allowed now';
      return this.bad(parsed.tag, `${why}`);
    }
    let args: unknown;
    try {
      args = command.parse(parsed.args, this);
    } catch (err) {
      if (err instanceof ImapParseError) return this.bad(parsed.tag, err.message);
      if (err instanceof ImapRefusal) {
        this.badInARow = 0;
        return this.write([statusResponse('NO', err.message, undefined, parsed.tag)]);
      }
      throw err;
    }
    let result: CommandResult;
    try {
      result = await command.run(this, args);
    } catch (err) {
      // A client that went away mid-command (IDLE, AUTHENTICATE) is not an error.
      if (this.closed) return;
      if (err instanceof ImapParseError) return this.bad(parsed.tag, err.message);
      result = errorResult(err, (e) => this.options.log?.({ event: 'imap-error', command: parsed.name, err: e instanceof Error ? e.stack : String(e) }));
    }
    if (this.closed) return;
    const status = result.status ?? 'OK';
    if (status === 'BAD') return this.bad(parsed.tag, result.text ?? 'Bad command');
    this.badInARow = 0;
    // What an IDLE wake-up or a NOTIFY event is writing goes out first; then the view reads the store once.
    await this.backgroundSettled();
    const sel = result.after !== 'logout' ? this.selected : undefined;
    if (sel) await sel.catchUp();
    if (this.closed) return;
    // New keywords are announced before any FETCH in the command's own responses that could name them.
    const responses: ImapResponse[] = sel ? sel.flagsUpdate() : [];
    if (this.announceModseq && this.selected) responses.push(statusResponse('OK', 'Highest', `HIGHESTMODSEQ ${this.selected.highestModseq}`));
    this.announceModseq = false;
    responses.push(...(result.untagged ?? []));
    if (this.notify && result.after !== 'logout') responses.push(...(await this.notify.take()));
    if (sel) {
      const qresync = this.enabledSet.has('QRESYNC');
      const lastUid = sel.uids[sel.uids.length - 1] ?? 0;
      responses.push(...sel.flush(command.allowExpunge !== false, this.enabledSet.has('CONDSTORE'), qresync, qresync || parsed.name.startsWith('UID ')));
      responses.push(...(await this.searchUpdatesDue(sel)));
      if (this.notify) responses.push(...(await this.notifyFetch(lastUid)));
    }
    if (this.goneCheck) await this.goneCheck;
    if (this.closed) return;
    responses.push(statusResponse(status, result.text ?? `${parsed.name} completed`, result.code, parsed.tag));
    if (this.selectedGone && this.selected) {
      // Another session deleted the selected mailbox: its numbering means nothing now.
      responses.push(statusResponse('BYE', 'Selected mailbox was deleted'));
      await this.write(responses);
      this.close();
      return;
    }
    await this.write(responses);
    if (result.after === 'logout') {
      this.close();
    } else if (result.after === 'compress') {
      this.transport.startCompression?.();
    } else if (result.after === 'starttls') {
      // Anything pipelined after STARTTLS came in the clear: drop it (RFC 3501 6.2.1).
      this.receiver.reset();
      try {
        await this.transport.startTls();
      } catch {
        this.close();
      }
    }
  }

  // ---- mailbox changes --------------------------------------------------

  private onChange(change: MailboxChange): void {
    if (this.notify?.onChange(change)) this.scheduleNotify();
    if (!this.selected) return;
    if (change.kind === 'mailboxes') {
      // Mailboxes were created, renamed or deleted: is ours still there?
      this.checkSelectedExists(this.selected);
      return;
    }
    // The view catches up from the store itself; the change only says when to look.
    if (change.mailboxId === this.selected.mailboxId && this.idling) this.scheduleIdleFlush();
  }

  /**
   * The feed may have lost changes (another node's, while this node's
   * connection to them was down): look at everything as if it had changed.
   * The view catches up from its MODSEQ (changesSince), as after a change.
   */
  private onMissed(): void {
    if (this.notify?.onMissed()) this.scheduleNotify();
    if (!this.selected) return;
    this.checkSelectedExists(this.selected);
    if (this.idling) this.scheduleIdleFlush();
  }

  private checkSelectedExists(sel: SelectedMailbox): void {
    const user = this.user;
    if (!user) return;
    const check = (async () => {
      let exists: boolean;
      try {
        exists = (await this.backend.getMailboxById(user, sel.mailboxId)) !== undefined;
      } catch {
        return; // unknown now: the next change asks again
      }
      // A SELECT of another mailbox meanwhile makes the answer moot.
      if (exists || this.selected !== sel || this.closed) return;
      this.selectedGone = true;
      if (this.idling) this.dropSession('Selected mailbox was deleted');
    })();
    const run = this.goneCheck ? Promise.all([this.goneCheck, check]).then(() => {}) : check;
    this.goneCheck = run;
    void run.finally(() => {
      if (this.goneCheck === run) this.goneCheck = undefined;
    });
  }

  /** Waits for what writes outside a command (IDLE wake-ups, NOTIFY events, the check above) to be done. */
  private async backgroundSettled(): Promise<void> {
    while (this.idleFlushing || this.notifyWrite) {
      await this.idleFlushing;
      await this.notifyWrite;
    }
  }

  private scheduleIdleFlush(): void {
    if (this.idleFlushScheduled) return;
    this.idleFlushScheduled = true;
    queueMicrotask(() => {
      this.idleFlushScheduled = false;
      if (!this.idling || !this.selected || this.closed) return;
      // One wake-up at a time, in order: the next one waits for this one's write.
      const prev = this.idleFlushing;
      const run = (prev ? prev.then(() => this.idleFlush()) : this.idleFlush()).catch((err: unknown) => {
        this.options.log?.({ event: 'imap-error', command: 'idle update', err: err instanceof Error ? err.stack : String(err) });
      });
      this.idleFlushing = run;
      void run.finally(() => {
        if (this.idleFlushing === run) this.idleFlushing = undefined;
      });
    });
  }

  /** During IDLE: catches the view up and tells at once. */
  private async idleFlush(): Promise<void> {
    const sel = this.selected;
    if (!this.idling || !sel || this.closed) return;
    await sel.catchUp();
    // DONE came while the store was read: what was read waits for the IDLE command's own end, which tells it in order.
    if (!this.idling || this.selected !== sel || this.closed) return;
    const lastUid = sel.uids[sel.uids.length - 1] ?? 0;
    const responses = sel.flush(true, this.enabledSet.has('CONDSTORE'), this.enabledSet.has('QRESYNC'));
    if (sel.searchUpdatesPending || this.notify?.selectedFetchAtts) {
      responses.push(...(await this.searchUpdatesDue(sel)));
      if (this.notify?.selectedFetchAtts) responses.push(...(await this.notifyFetch(lastUid)));
    }
    await this.write(responses);
  }

  /** The selected view's search updates after a flush; a message that cannot be read leaves them out (as a failed notifyFetch does). */
  private async searchUpdatesDue(sel: SelectedMailbox): Promise<ImapResponse[]> {
    try {
      return await sel.searchUpdatesDue();
    } catch (err) {
      this.options.log?.({ event: 'imap-error', command: 'search update', err: err instanceof Error ? err.stack : String(err) });
      return [];
    }
  }

  /**
   * NOTIFY events of other mailboxes may be sent at any time (RFC 5465 5),
   * except in the middle of a command: then execute() adds them before the
   * tagged reply. One write at a time, so a client that does not read keeps
   * at most one batch here; the rest waits, coalesced per mailbox.
   */
  private scheduleNotify(): void {
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    queueMicrotask(() => {
      this.notifyScheduled = false;
      const notify = this.notify;
      if (!notify || this.closed || this.notifyWriting || (this.busy && !this.idling)) return;
      this.notifyWriting = true;
      const run = (async () => {
        try {
          await this.write(await notify.take());
        } catch (err) {
          this.options.log?.({ event: 'imap-error', command: 'notify', err: err instanceof Error ? err.stack : String(err) });
        } finally {
          this.notifyWriting = false;
          if (this.notify?.pending) this.scheduleNotify();
        }
      })();
      this.notifyWrite = run;
      void run.finally(() => {
        if (this.notifyWrite === run) this.notifyWrite = undefined;
      });
    });
  }

  /** NOTIFY MessageNew with a fetch-att list: the new messages of the selected mailbox, fetched as asked (RFC 5465 5.2). */
  private async notifyFetch(afterUid: number): Promise<ImapResponse[]> {
    const atts = this.notify?.selectedFetchAtts;
    const sel = this.selected;
    if (!atts || !sel) return [];
    const fresh = sel.uids.filter((u) => u > afterUid);
    if (fresh.length === 0) return [];
    try {
      const args = uidFetchCommand.parse([{ type: 'atom', value: `${fresh[0]}:${fresh[fresh.length - 1]}` }, { type: 'list', items: atts }], this);
      return (await uidFetchCommand.run(this, args)).untagged ?? [];
    } catch {
      return [];
    }
  }

  private async write(responses: ImapResponse[]): Promise<void> {
    if (this.closed || responses.length === 0) return;
    await this.transport.write(compileResponses(responses, { utf8: this.utf8 }));
  }
}

