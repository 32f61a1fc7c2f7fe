// The POP3 commands, declared as data: name, the states it is valid in, how
// many arguments it takes, and a handler that returns a reply (or asks the
// session for a step only it can take: STLS, AUTH's exchange, QUIT). The
// session checks state and arity once for all of them.
import { err, ok, type Pop3Reply } from './responses.js';
import { authErrorReply, errorReply } from './errors.js';
import { MAX_TOP_LINES } from './limits.js';
import type { Pop3Backend, Pop3Maildrop, Pop3User } from './backend.js';

export type Pop3State = 'authorization' | 'transaction';

export type CommandResult =
  | Pop3Reply
  | { kind: 'stls' }
  | { kind: 'quit' }
  | { kind: 'sasl'; mechanism: string; initial: string | undefined };

/** What a handler may see and change of its session. */
export interface Pop3Context {
  readonly backend: Pop3Backend;
  readonly ip: string;
  readonly secure: boolean;
  /** USER/PASS and AUTH are allowed: TLS is on, or the configuration allows plain text. */
  readonly authAllowed: boolean;
  readonly startTlsAvailable: boolean;
  readonly state: Pop3State;
  /** The name from USER, waiting for PASS. */
  pendingUser: string | undefined;
  /** Logs in (lock, snapshot); the reply says how it went. */
  enter(user: Pop3User): Promise<Pop3Reply>;
  /** A failed login: counted, maybe ending the session. */
  authFailed(reply: Pop3Reply): Pop3Reply;
  readonly user: Pop3User | undefined;
  readonly drop: Pop3Maildrop | undefined;
  /** Message numbers (1-based) marked by DELE. */
  readonly deleted: Set<number>;
  /** RETR's \Seen: marks once per session and message (stored in batches, not waited for). */
  markSeen(n: number): void;
  /** Message n's bytes: at once when they were read ahead already, else a promise. */
  readMessage(n: number): Buffer | Promise<Buffer>;
}

export interface Pop3Command {
  name: string;
  states: readonly Pop3State[];
  minArgs: number;
  maxArgs: number;
  /** The whole rest of the line is one argument (PASS: passwords may hold spaces). */
  restOfLine?: boolean;
  run(ctx: Pop3Context, args: string[]): Promise<CommandResult> | CommandResult;
}

const BOTH: readonly Pop3State[] = ['authorization', 'transaction'];
const AUTHORIZATION: readonly Pop3State[] = ['authorization'];
const TRANSACTION: readonly Pop3State[] = ['transaction'];

const NUMBER = /^[1-9][0-9]{0,9}$/;
const COUNT = /^[0-9]{1,10}$/;

/** A message number that names a message of the maildrop not marked deleted, or the reply saying why not. */
function message(ctx: Pop3Context, arg: string): number | Pop3Reply {
  if (!NUMBER.test(arg)) return err('Invalid message number');
  const n = Number(arg);
  const count = ctx.drop?.messages.length ?? 0;
  if (n > count) return err('No such message');
  if (ctx.deleted.has(n)) return err('Message is deleted');
  return n;
}

/** LIST and UIDL: "n value" for one message, or every message not deleted under `heading`. */
function listing(ctx: Pop3Context, args: string[], value: (m: Pop3Maildrop['messages'][number]) => string | number, heading: string): Pop3Reply {
  if (args.length === 1) {
    const n = message(ctx, args[0]!);
    if (typeof n !== 'number') return n;
    return ok(`${n} ${value(ctx.drop!.messages[n - 1]!)}`);
  }
  const lines: string[] = [];
  ctx.drop!.messages.forEach((m, i) => {
    if (!ctx.deleted.has(i + 1)) lines.push(`${i + 1} ${value(m)}`);
  });
  return { kind: 'multi', text: heading, lines };
}

const bytes = (ctx: Pop3Context): { count: number; size: number } => {
  let count = 0;
  let size = 0;
  ctx.drop?.messages.forEach((m, i) => {
    if (ctx.deleted.has(i + 1)) return;
    count++;
    size += m.size;
  });
  return { count, size };
};

function capabilities(ctx: Pop3Context): string[] {
  const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'EXPIRE NEVER', 'IMPLEMENTATION Postino'];
  if (ctx.state === 'authorization') {
    if (ctx.startTlsAvailable && !ctx.secure) caps.push('STLS');
    if (ctx.authAllowed) caps.push('USER', `SASL ${ctx.backend.saslMechanisms.join(' ')}`);
  }
  return caps;
}

const PLAINTEXT_REFUSED = () => err('Plaintext authentication disallowed on non-secure connections: use STLS first', 'AUTH');

export const COMMANDS: readonly Pop3Command[] = [
  { name: 'CAPA', states: BOTH, minArgs: 0, maxArgs: 0, run: (ctx) => ({ kind: 'multi', text: 'Capability list follows', lines: capabilities(ctx) }) },
  { name: 'NOOP', states: TRANSACTION, minArgs: 0, maxArgs: 0, run: () => ok('') },
  { name: 'QUIT', states: BOTH, minArgs: 0, maxArgs: 0, run: () => ({ kind: 'quit' }) },
  {
    name: 'STLS',
    states: AUTHORIZATION,
    minArgs: 0,
    maxArgs: 0,
    run: (ctx) => {
      if (ctx.secure) return err('TLS is already active');
      if (!ctx.startTlsAvailable) return err('TLS is not available');
      return { kind: 'stls' };
    },
  },
  {
    name: 'USER',
    states: AUTHORIZATION,
    minArgs: 1,
    maxArgs: 1,
    run: (ctx, [name]) => {
      if (!ctx.authAllowed) return PLAINTEXT_REFUSED();
      ctx.pendingUser = name!;
      return ok('Send your password');
    },
  },
  {
    name: 'PASS',
    states: AUTHORIZATION,
    minArgs: 1,
    maxArgs: 1,
    restOfLine: true,
    run: async (ctx, [password]) => {
      if (!ctx.authAllowed) return PLAINTEXT_REFUSED();
      const name = ctx.pendingUser;
      if (name === undefined) return err('Send USER first');
      ctx.pendingUser = undefined;
      let user: Pop3User;
      try {
        user = await ctx.backend.login(Buffer.from(name, 'latin1').toString('utf8'), Buffer.from(password!, 'latin1').toString('utf8'), ctx.ip);
      } catch (e) {
        return ctx.authFailed(authErrorReply(e));
      }
      return ctx.enter(user);
    },
  },
  {
    name: 'AUTH',
    states: AUTHORIZATION,
    minArgs: 0,
    maxArgs: 2,
    run: (ctx, args) => {
      if (!ctx.authAllowed) return PLAINTEXT_REFUSED();
      // Without a mechanism: the list (the older RFC 1734 style some clients probe with).
      if (args.length === 0) return { kind: 'multi', text: 'Supported mechanisms', lines: [...ctx.backend.saslMechanisms] };
      const mechanism = args[0]!.toUpperCase();
      if (!ctx.backend.saslMechanisms.includes(mechanism)) return err('Unsupported authentication mechanism');
      return { kind: 'sasl', mechanism, initial: args[1] };
    },
  },
  {
    name: 'STAT',
    states: TRANSACTION,
    minArgs: 0,
    maxArgs: 0,
    run: (ctx) => {
      const { count, size } = bytes(ctx);
      return ok(`${count} ${size}`);
    },
  },
  {
    name: 'LIST',
    states: TRANSACTION,
    minArgs: 0,
    maxArgs: 1,
    run: (ctx, args) => {
      const { count, size } = bytes(ctx);
      return listing(ctx, args, (m) => m.size, `${count} messages (${size} octets)`);
    },
  },
  {
    name: 'UIDL',
    states: TRANSACTION,
    minArgs: 0,
    maxArgs: 1,
    run: (ctx, args) => listing(ctx, args, (m) => m.uidl, ''),
  },
  {
    name: 'RETR',
    states: TRANSACTION,
    minArgs: 1,
    maxArgs: 1,
    run: (ctx, [arg]) => {
      const n = message(ctx, arg!);
      if (typeof n !== 'number') return n;
      const m = ctx.drop!.messages[n - 1]!;
      const reply = (raw: Buffer): Pop3Reply => {
        ctx.markSeen(n);
        return { kind: 'message', text: `${m.size} octets`, raw, crlf: m.crlf, dotFree: m.dotFree };
      };
      // The hot path of a download: no promise when the message was read ahead.
      const read = ctx.readMessage(n);
      return read instanceof Promise ? read.then(reply, errorReply) : reply(read);
    },
  },
  {
    name: 'TOP',
    states: TRANSACTION,
    minArgs: 2,
    maxArgs: 2,
    run: async (ctx, [arg, lines]) => {
      const n = message(ctx, arg!);
      if (typeof n !== 'number') return n;
      if (!COUNT.test(lines!)) return err('Invalid line count');
      const m = ctx.drop!.messages[n - 1]!;
      try {
        const raw = await ctx.readMessage(n);
        return { kind: 'message', text: '', raw, bodyLines: Math.min(Number(lines), MAX_TOP_LINES) };
      } catch (e) {
        return errorReply(e);
      }
    },
  },
  {
    name: 'DELE',
    states: TRANSACTION,
    minArgs: 1,
    maxArgs: 1,
    run: (ctx, [arg]) => {
      const n = message(ctx, arg!);
      if (typeof n !== 'number') return n;
      ctx.deleted.add(n);
      return ok(`Message ${n} deleted`);
    },
  },
  {
    name: 'RSET',
    states: TRANSACTION,
    minArgs: 0,
    maxArgs: 0,
    run: (ctx) => {
      ctx.deleted.clear();
      const { count, size } = bytes(ctx);
      return ok(`${count} messages (${size} octets)`);
    },
  },
];

export const COMMAND_TABLE: ReadonlyMap<string, Pop3Command> = new Map(COMMANDS.map((c) => [c.name, c]));
