// What a ManageSieve command is: data (name, the states it is allowed in,
// its arguments) plus a handler that returns responses. Only the session
// writes to the connection.
import type { ManageSieveBackend, SieveUser } from './backend.js';
import type { StatusResponse } from './response.js';
import type { Token } from './receiver.js';

export type SessionState = 'nonauth' | 'auth';
export type ArgKind = 'string' | 'number';
export type ArgValue = Buffer | number;

export interface CommandContext {
  readonly backend: ManageSieveBackend;
  /** Set once authenticated. */
  readonly user: SieveUser | undefined;
  readonly secure: boolean;
  readonly remoteAddress: string;
  /** The capability lines (without the closing OK). */
  capabilityLines(): Buffer[];
  /** Sends a SASL challenge and waits for the client's response line. */
  challenge(data: Buffer): Promise<Token[] | undefined>;
  setUser(user: SieveUser): void;
  /** Counts a failed authentication; true when the session must end. */
  authFailed(): boolean;
  log(event: Record<string, unknown>): void;
}

export interface CommandResult {
  /** Data lines before the status. */
  lines?: Buffer[];
  status: StatusResponse;
  /** What the session does once the status is sent. */
  then?: 'starttls' | 'close' | 'unauthenticate';
}

export interface CommandSpec {
  name: string;
  states: readonly SessionState[];
  args: readonly ArgKind[];
  /** How many of `args` may be left out at the end. */
  optional?: number;
  run(ctx: CommandContext, args: ArgValue[]): Promise<CommandResult>;
}

/** A command's arguments are malformed: answered NO with this text. */
export class ArgumentError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strings on the wire are UTF-8 (RFC 5804 section 1.4); anything else is refused. */
export function utf8Text(value: ArgValue, what: string): string {
  if (typeof value === 'number') throw new ArgumentError(`${what} must be a string`);
  try {
    return utf8.decode(value);
  } catch {
    throw new ArgumentError(`${what} is not valid UTF-8`);
  }
}

/** Matches the tokens after the command name against the spec. */
export function parseArgs(spec: CommandSpec, tokens: Token[]): ArgValue[] {
  const min = spec.args.length - (spec.optional ?? 0);
  if (tokens.length < min || tokens.length > spec.args.length) throw new ArgumentError(`Wrong number of arguments for ${spec.name}`);
  return tokens.map((t, i) => {
    const kind = spec.args[i]!;
    if (kind === 'string') {
      if (t.kind !== 'string') throw new ArgumentError(`${spec.name} expects a string as argument ${i + 1}`);
      return t.value;
    }
    if (t.kind !== 'atom' || !/^\d{1,15}$/.test(t.text)) throw new ArgumentError(`${spec.name} expects a number as argument ${i + 1}`);
    return Number(t.text);
  });
}
