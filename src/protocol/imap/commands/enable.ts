// ENABLE (RFC 5161): CONDSTORE, QRESYNC, UTF8=ACCEPT and IMAP4rev2 (RFC 9051).
import { defineCommand, AUTHENTICATED } from '../command.js';
import { astring, ImapParseError } from '../parser.js';
import { untagged } from '../response.js';

const SUPPORTED = new Map([
  ['CONDSTORE', 'CONDSTORE'],
  ['QRESYNC', 'QRESYNC'],
  ['UTF8=ACCEPT', 'UTF8=ACCEPT'],
  ['IMAP4REV2', 'IMAP4rev2'],
]);

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
      const spelled = SUPPORTED.get(n);
      if (spelled !== undefined && !ctx.enabled.has(n)) {
        ctx.enable(n);
        now.push(spelled);
        // QRESYNC implies CONDSTORE (RFC 7162 3.2.3).
        if (n === 'QRESYNC' && !ctx.enabled.has('CONDSTORE')) ctx.enable('CONDSTORE');
      }
    }
    return { untagged: [untagged('ENABLED', ...now)] };
  },
});
