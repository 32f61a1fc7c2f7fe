import { defineCommand, NOT_AUTHENTICATED } from '../command.js';
import { expectEnd } from '../parser.js';

export const starttlsCommand = defineCommand({
  name: 'STARTTLS',
  states: NOT_AUTHENTICATED,
  parse: (args) => expectEnd(args, 0),
  run: (ctx) => {
    if (ctx.tls) return { status: 'BAD' as const, text: 'TLS is already active' };
    if (!ctx.capabilities().includes('STARTTLS')) return { status: 'NO' as const, text: 'STARTTLS is not available' };
    return { text: 'Begin TLS negotiation now', after: 'starttls' as const };
  },
});
