// COMPRESS DEFLATE (RFC 4978): the tagged OK goes out uncompressed, then both directions are DEFLATE.
import { defineCommand, AUTHENTICATED, type CommandResult } from '../command.js';
import { astring, expectCount } from '../parser.js';

export const compressCommand = defineCommand({
  name: 'COMPRESS',
  states: AUTHENTICATED,
  parse: (args) => {
    expectCount(args, 1);
    return astring(args[0], 'mechanism').toUpperCase();
  },
  run: (ctx, mechanism): CommandResult => {
    if (mechanism !== 'DEFLATE') return { status: 'BAD', text: 'Unknown compression mechanism' };
    if (!ctx.compressionAvailable) return { status: 'NO', code: 'CANNOT', text: 'Compression is not available' };
    if (ctx.compressionActive) return { status: 'NO', code: 'COMPRESSIONACTIVE', text: 'DEFLATE is active already' };
    return { text: 'DEFLATE active', after: 'compress' };
  },
});
