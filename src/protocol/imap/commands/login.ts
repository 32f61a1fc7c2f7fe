import { defineCommand, NOT_AUTHENTICATED } from '../command.js';
import { astring, expectCount } from '../parser.js';
import { errorCode, errorResult } from '../errors.js';

export const loginCommand = defineCommand({
  name: 'LOGIN',
  states: NOT_AUTHENTICATED,
  parse: (args) => {
    expectCount(args, 2);
    return { user: astring(args[0], 'user name'), password: astring(args[1], 'password') };
  },
  run: async (ctx, { user, password }) => {
    if (ctx.loginDisabled) return { status: 'NO' as const, code: 'PRIVACYREQUIRED', text: 'Use STARTTLS first' };
    try {
      ctx.setUser(await ctx.backend.login(user, password, ctx.remoteAddress));
    } catch (err) {
      if (errorCode(err) === 'AUTHFAILED') return { status: 'NO' as const, code: 'AUTHENTICATIONFAILED', text: 'Authentication failed' };
      return errorResult(err);
    }
    return { code: `CAPABILITY ${ctx.capabilities().join(' ')}`, text: 'Logged in' };
  },
});
