// CANCELUPDATE "tag" ... (RFC 5267 4.3): ends the updates of searches made
// with RETURN (UPDATE). Tags are quoted strings; an unknown tag is NO and
// ends none of them (as Dovecot 2.3).
import { defineCommand, SELECTED } from '../command.js';
import { ImapParseError, type Arg } from '../parser.js';
import { searchUpdatesOf } from './search-updates.js';

function parseTags(args: Arg[]): string[] {
  if (args.length === 0) throw new ImapParseError('CANCELUPDATE needs tags');
  return args.map((a) => {
    if (a.type !== 'string' || a.literal) throw new ImapParseError('CANCELUPDATE tags are quoted strings');
    return a.value.toString('utf8');
  });
}

export const cancelUpdateCommand = defineCommand({
  name: 'CANCELUPDATE',
  states: SELECTED,
  parse: parseTags,
  run: (ctx, tags) => (searchUpdatesOf(ctx).cancel(tags) ? {} : { status: 'NO', text: 'Unknown search update tag' }),
});
