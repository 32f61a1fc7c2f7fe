// ENABLE (RFC 5161): CONDSTORE and UTF8=ACCEPT.
import { defineCommand, AUTHENTICATED } from '../command.js';
import { astring, ImapParseError } from '../parser.js';
import { untagged } from '../response.js';

const SUPPORTED = new Set(['CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT']);

export const enableCommand = defineCommand({
  name: 'ENABLE',
  states: AUTHENTICATED,
  parse: (args) => {
    if (args.length === 0) throw new ImapParseError('Missing extensions');
    return args.map((a) => astring(a, 'extension').toUpperCase());
  },
  run: (ctx, names) => {
    const now: string[] = [];
    for (const n of names) {
      if (SUPPORTED.has(n) && !ctx.enabled.has(n)) {
        ctx.enable(n);
        now.push(n);
        // QRESYNC implies CONDSTORE (RFC 7162 3.2.3).
        if (n === 'QRESYNC' && !ctx.enabled.has('CONDSTORE')) ctx.enable('CONDSTORE');
      }
    }
    return { untagged: [untagged('ENABLED', ...now)] };
  },
});
