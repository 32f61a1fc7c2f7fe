// AUTHENTICATE with SASL-IR (RFC 4959): the mechanism runs in src/auth; this
// only carries base64 challenges and responses.
import { defineCommand, NOT_AUTHENTICATED, type CommandResult } from '../command.js';
import { astring, expectCount, ImapParseError } from '../parser.js';
import { errorCode, errorResult } from '../errors.js';
import { authenticationFailed } from './login.js';

function decodeBase64(text: string): Buffer {
  const t = text.trim();
  if (t === '=') return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) throw new ImapParseError('Invalid base64');
  return Buffer.from(t, 'base64');
}

export const authenticateCommand = defineCommand({
  name: 'AUTHENTICATE',
  states: NOT_AUTHENTICATED,
  parse: (args) => {
    expectCount(args, 1, 2);
    const mechanism = astring(args[0], 'mechanism').toUpperCase();
    const initial = args[1] === undefined ? undefined : decodeBase64(astring(args[1], 'initial response'));
    return { mechanism, initial };
  },
  run: async (ctx, { mechanism, initial }): Promise<CommandResult> => {
    if (ctx.loginDisabled) return { status: 'NO', code: 'PRIVACYREQUIRED', text: 'Use STARTTLS first' };
    if (!ctx.backend.saslMechanisms.includes(mechanism)) return { status: 'NO', code: 'CANNOT', text: 'Unsupported mechanism' };
    const exchange = ctx.backend.startSasl(mechanism, ctx.remoteAddress);
    let response: Buffer | undefined = initial;
    for (let round = 0; round < 10; round++) {
      const step = await exchange.step(response);
      if (step.kind === 'failure') {
        const code = errorCode(step.error);
        if (code === 'AUTHFAILED' || code === 'BADINPUT') return authenticationFailed(ctx);
        return errorResult(step.error);
      }
      if (step.kind === 'success') {
        if (step.data !== undefined && step.data.length > 0) {
          // Additional data with success goes in a last challenge; the client answers empty.
          const line = (await ctx.continuation(step.data.toString('base64'))).toString('latin1').trim();
          if (line === '*') return { status: 'BAD', text: 'Authentication cancelled' };
        }
        ctx.setUser(step.user);
        return { code: `CAPABILITY ${ctx.capabilities().join(' ')}`, text: 'Authenticated' };
      }
      const line = (await ctx.continuation(step.data.toString('base64'))).toString('latin1');
      if (line.trim() === '*') return { status: 'BAD', text: 'Authentication cancelled' };
      try {
        response = decodeBase64(line);
      } catch {
        return { status: 'BAD', text: 'Invalid base64 in response' };
      }
    }
    return { ...authenticationFailed(ctx), text: 'Too many rounds' };
  },
});
