// A command is data: its name, the states it is allowed in, a parser for its
// arguments and a handler returning responses. The registry dispatches after
// one generic state check (see session.ts).
import type { Arg } from './parser.js';
import type { ImapBackend, ImapUser } from './backend.js';
import type { ImapResponse } from './response.js';
import type { SelectedMailbox } from './selected.js';
import type { NotifySpec } from './notify.js';

export type SessionState = 'notauth' | 'auth' | 'selected' | 'logout';

export const ANY_STATE: readonly SessionState[] = ['notauth', 'auth', 'selected'];
export const AUTHENTICATED: readonly SessionState[] = ['auth', 'selected'];
export const SELECTED: readonly SessionState[] = ['selected'];
export const NOT_AUTHENTICATED: readonly SessionState[] = ['notauth'];

export interface CommandResult {
  /** Untagged responses, sent before the tagged one, in order. */
  untagged?: ImapResponse[];
  status?: 'OK' | 'NO' | 'BAD';
  code?: string | undefined;
  text?: string;
  /** What the session does after the tagged reply. */
  after?: 'starttls' | 'logout' | 'compress';
}

/** What a command handler may see and change of its session. */
export interface SessionContext {
  readonly tag: string;
  readonly backend: ImapBackend;
  readonly state: SessionState;
  readonly user: ImapUser | undefined;
  readonly selected: SelectedMailbox | undefined;
  readonly tls: boolean;
  readonly remoteAddress: string;
  /** Extensions the client turned on with ENABLE (or implicitly: CONDSTORE). */
  readonly enabled: ReadonlySet<string>;
  /** UTF-8 mailbox names and strings (UTF8=ACCEPT or IMAP4rev2). */
  readonly utf8: boolean;
  /** IMAP4rev2 enabled: ESEARCH for SEARCH, no \Recent, LIST in SELECT, [CLOSED]. */
  readonly rev2: boolean;
  capabilities(): string[];
  readonly compressionAvailable: boolean;
  readonly compressionActive: boolean;
  /** LOGINDISABLED in effect (plain connection before STARTTLS). */
  readonly loginDisabled: boolean;

  setUser(user: ImapUser): void;
  /** Counts a failed LOGIN or AUTHENTICATE; true when that was the session's last allowed one. */
  authFailed(): boolean;
  select(mailbox: SelectedMailbox | undefined): void;
  enable(extension: string): void;
  /** Mailbox name from the wire (modified UTF-7, or UTF-8 with UTF8=ACCEPT) to the stored form. */
  decodeMailboxName(wire: string): string;
  encodeMailboxName(name: string): string;

  /** Sends a continuation request ("+ text") and resolves with the client's next line. */
  continuation(text: string): Promise<Buffer>;
  /** Sends responses now (IDLE only: everything else returns its responses). */
  sendNow(responses: ImapResponse[]): Promise<void>;
  /** During IDLE: deliver mailbox changes as they happen until stop() is called. */
  startIdle(): void;
  stopIdle(): void;
  /** NOTIFY SET (a spec) or NOTIFY NONE (undefined); returns the initial STATUS responses when asked for. */
  setNotify(spec: NotifySpec | undefined): Promise<ImapResponse[]>;
}

export interface ImapCommand<A = unknown> {
  name: string;
  states: readonly SessionState[];
  parse(args: Arg[], ctx: SessionContext): A;
  run(ctx: SessionContext, args: A): Promise<CommandResult> | CommandResult;
  /**
   * RFC 3501 7.4.1: after FETCH, STORE and SEARCH (sequence-number forms)
   * no EXPUNGE may be sent; set false there.
   */
  allowExpunge?: boolean;
}

/** Declares a command with its argument type inferred from parse. */
export function defineCommand<A>(command: ImapCommand<A>): ImapCommand<A> {
  return command;
}
