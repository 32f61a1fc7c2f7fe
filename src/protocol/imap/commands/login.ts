import { defineCommand, NOT_AUTHENTICATED, type CommandResult, type SessionContext } from '../command.js';
import { astring, expectCount } from '../parser.js';
import { errorCode, errorResult } from '../errors.js';
import { statusResponse } from '../response.js';

/**
 * The answer to a failed LOGIN or AUTHENTICATE (the backend has already
 * waited out the penalty delay); after the last allowed attempt the session
 * says BYE and closes, so a guesser has to reconnect.
 */
export function authenticationFailed(ctx: SessionContext): CommandResult {
  const result: CommandResult = { status: 'NO', code: 'AUTHENTICATIONFAILED', text: 'Authentication failed' };
  if (!ctx.authFailed()) return result;
  return { ...result, untagged: [statusResponse('BYE', 'Too many failed authentication attempts')], after: 'logout' };
}

export const loginCommand = defineCommand({
  name: 'LOGIN',
  states: NOT_AUTHENTICATED,
  parse: (args) => {
    expectCount(args, 2);
    return { user: astring(args[0], 'user name'), password: astring(args[1], 'password') };
  },
  run: async (ctx, { user, password }): Promise<CommandResult> => {
    if (ctx.loginDisabled) return { status: 'NO', code: 'PRIVACYREQUIRED', text: 'Use STARTTLS first' };
    try {
      ctx.setUser(await ctx.backend.login(user, password, ctx.remoteAddress));
    } catch (err) {
      if (errorCode(err) === 'AUTHFAILED') return authenticationFailed(ctx);
      return errorResult(err);
    }
    return { code: `CAPABILITY ${ctx.capabilities().join(' ')}`, text: 'Logged in' };
  },
});
