// The ManageSieve commands (RFC 5804 section 2), as data: one entry each,
// dispatched by the session after one generic state and argument check.
import { utf8Text, ArgumentError, type CommandContext, type CommandResult, type CommandSpec } from './command.js';
import { dataLine } from './response.js';
import { errorCode, errorResponse } from './errors.js';
import type { SieveUser } from './backend.js';
import type { Token } from './receiver.js';

const ok = (text: string, code?: string): CommandResult => ({ status: { status: 'OK', code, text } });

function user(ctx: CommandContext): SieveUser {
  return ctx.user!;
}

/** Runs a backend call; its errors become the NO (logged when they are not MailErrors). */
async function attempt(ctx: CommandContext, fn: () => Promise<CommandResult>): Promise<CommandResult> {
  try {
    return await fn();
  } catch (err) {
    return { status: errorResponse(err, (e) => ctx.log({ event: 'managesieve-error', err: String((e as Error)?.stack ?? e) })) };
  }
}

/** A SASL response: one string, or "*" (quoted) to cancel. */
function saslResponse(tokens: Token[] | undefined): Buffer | 'cancel' | 'bad' {
  if (tokens === undefined || tokens.length !== 1 || tokens[0]!.kind !== 'string') return 'bad';
  const text = tokens[0]!.value.toString('latin1').trim();
  if (text === '*') return 'cancel';
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return 'bad';
  return Buffer.from(text, 'base64');
}

const capability: CommandSpec = {
  name: 'CAPABILITY',
  states: ['nonauth', 'auth'],
  args: [],
  run: async (ctx) => ({ lines: ctx.capabilityLines(), status: { status: 'OK', text: 'Capability completed' } }),
};

const logout: CommandSpec = {
  name: 'LOGOUT',
  states: ['nonauth', 'auth'],
  args: [],
  run: async () => ({ status: { status: 'OK', text: 'Logout completed' }, then: 'close' }),
};

const noop: CommandSpec = {
  name: 'NOOP',
  states: ['nonauth', 'auth'],
  args: ['string'],
  optional: 1,
  run: async (_ctx, [tag]) => {
    if (tag === undefined) return ok('NOOP completed');
    // RFC 5804 2.14: the string comes back as a TAG response code.
    const bytes = dataLine(utf8Text(tag, 'tag')).subarray(0, -2).toString('utf8');
    return ok('Done', `TAG ${bytes}`);
  },
};

const starttls: CommandSpec = {
  name: 'STARTTLS',
  states: ['nonauth'],
  args: [],
  run: async (ctx) => {
    if (ctx.secure) return { status: { status: 'NO', text: 'TLS is already active' } };
    return { status: { status: 'OK', text: 'Begin TLS negotiation now' }, then: 'starttls' };
  },
};

const authenticate: CommandSpec = {
  name: 'AUTHENTICATE',
  states: ['nonauth'],
  args: ['string', 'string'],
  optional: 1,
  run: async (ctx, [mechArg, initialArg]) => {
    const mechanism = utf8Text(mechArg!, 'mechanism').toUpperCase();
    if (!ctx.secure) return { status: { status: 'NO', code: 'ENCRYPT-NEEDED', text: 'Use STARTTLS first' } };
    if (!ctx.backend.saslMechanisms.includes(mechanism)) return { status: { status: 'NO', text: `Unsupported mechanism ${mechanism.slice(0, 40)}` } };
    let response: Buffer | undefined;
    if (initialArg !== undefined) {
      const r = saslResponse([{ kind: 'string', value: initialArg as Buffer, literal: false }]);
      if (r === 'bad' || r === 'cancel') return { status: { status: 'NO', text: 'Invalid initial response' } };
      response = r;
    }
    const failed = (text = 'Authentication failed'): CommandResult =>
      ctx.authFailed() ? { status: { status: 'BYE', text: 'Too many failed authentications' }, then: 'close' } : { status: { status: 'NO', text } };
    const exchange = ctx.backend.startSasl(mechanism, ctx.remoteAddress);
    for (let round = 0; round < 10; round++) {
      const step = await exchange.step(response);
      if (step.kind === 'failure') {
        const code = errorCode(step.error);
        if (code === 'AUTHFAILED' || code === 'BADINPUT' || code === 'DISABLED') return failed();
        return { status: errorResponse(step.error, (e) => ctx.log({ event: 'managesieve-error', err: String(e) })) };
      }
      if (step.kind === 'success') {
        ctx.setUser(step.user);
        // RFC 5804 2.1: additional data with success goes in a SASL response code.
        const code = step.data !== undefined && step.data.length > 0 ? `SASL ${dataLine(step.data.toString('base64')).subarray(0, -2).toString()}` : undefined;
        return ok('Authenticated', code);
      }
      const r = saslResponse(await ctx.challenge(step.data));
      if (r === 'cancel') return { status: { status: 'NO', text: 'Authentication cancelled' } };
      if (r === 'bad') return failed('Invalid SASL response');
      response = r;
    }
    return failed('Too many rounds');
  },
};

const unauthenticate: CommandSpec = {
  name: 'UNAUTHENTICATE',
  states: ['auth'],
  args: [],
  run: async () => ({ status: { status: 'OK', text: 'Unauthenticate completed' }, then: 'unauthenticate' }),
};

const putscript: CommandSpec = {
  name: 'PUTSCRIPT',
  states: ['auth'],
  args: ['string', 'string'],
  run: (ctx, [name, script]) => {
    const n = utf8Text(name!, 'script name');
    const text = utf8Text(script!, 'script');
    return attempt(ctx, async () => {
      await ctx.backend.put(user(ctx), n, text);
      return ok('PUTSCRIPT completed');
    });
  },
};

const checkscript: CommandSpec = {
  name: 'CHECKSCRIPT',
  states: ['auth'],
  args: ['string'],
  run: (ctx, [script]) => {
    const text = utf8Text(script!, 'script');
    return attempt(ctx, async () => {
      await ctx.backend.check(user(ctx), text);
      return ok('Script is valid');
    });
  },
};

const listscripts: CommandSpec = {
  name: 'LISTSCRIPTS',
  states: ['auth'],
  args: [],
  run: (ctx) =>
    attempt(ctx, async () => {
      const scripts = await ctx.backend.list(user(ctx));
      const lines = scripts.map((s) => (s.active ? dataLine(s.name, { atom: 'ACTIVE' }) : dataLine(s.name)));
      return { lines, status: { status: 'OK', text: 'LISTSCRIPTS completed' } };
    }),
};

const setactive: CommandSpec = {
  name: 'SETACTIVE',
  states: ['auth'],
  args: ['string'],
  run: (ctx, [name]) => {
    const n = utf8Text(name!, 'script name');
    return attempt(ctx, async () => {
      await ctx.backend.activate(user(ctx), n === '' ? undefined : n);
      return ok(n === '' ? 'No script is active now' : 'SETACTIVE completed');
    });
  },
};

const getscript: CommandSpec = {
  name: 'GETSCRIPT',
  states: ['auth'],
  args: ['string'],
  run: (ctx, [name]) => {
    const n = utf8Text(name!, 'script name');
    return attempt(ctx, async () => {
      const text = Buffer.from(await ctx.backend.get(user(ctx), n), 'utf8');
      // Always a literal: scripts have line breaks, and clients expect one.
      return { lines: [Buffer.concat([Buffer.from(`{${text.length}}\r\n`), text, Buffer.from('\r\n')])], status: { status: 'OK', text: 'GETSCRIPT completed' } };
    });
  },
};

const deletescript: CommandSpec = {
  name: 'DELETESCRIPT',
  states: ['auth'],
  args: ['string'],
  run: (ctx, [name]) => {
    const n = utf8Text(name!, 'script name');
    return attempt(ctx, async () => {
      await ctx.backend.remove(user(ctx), n);
      return ok('DELETESCRIPT completed');
    });
  },
};

const renamescript: CommandSpec = {
  name: 'RENAMESCRIPT',
  states: ['auth'],
  args: ['string', 'string'],
  run: (ctx, [from, to]) => {
    const a = utf8Text(from!, 'script name');
    const b = utf8Text(to!, 'new script name');
    return attempt(ctx, async () => {
      await ctx.backend.rename(user(ctx), a, b);
      return ok('RENAMESCRIPT completed');
    });
  },
};

const havespace: CommandSpec = {
  name: 'HAVESPACE',
  states: ['auth'],
  args: ['string', 'number'],
  run: (ctx, [name, size]) => {
    const n = utf8Text(name!, 'script name');
    if (typeof size !== 'number') throw new ArgumentError('HAVESPACE expects a size');
    return attempt(ctx, async () => {
      await ctx.backend.haveSpace(user(ctx), n, size);
      return ok('Putscript would succeed');
    });
  },
};

export const COMMANDS: ReadonlyMap<string, CommandSpec> = new Map(
  [capability, logout, noop, starttls, authenticate, unauthenticate, putscript, checkscript, listscripts, setactive, getscript, deletescript, renamescript, havespace].map(
    (c) => [c.name, c],
  ),
);
