// THREAD and UID THREAD (RFC 5256): ORDEREDSUBJECT and REFERENCES over the
// messages the search key selects. The algorithms live in ../threading.ts;
// this reads what they need from the stored index.
import { defineCommand, SELECTED, type CommandResult, type SessionContext } from '../command.js';
import { astring, ImapParseError, type Arg } from '../parser.js';
import { parseSearch, type ParsedSearch } from '../search.js';
import { matchingMessages } from './matching.js';
import { allMessageIds, firstMessageId } from '../message-id.js';
import { searchStringDecoder } from '../search-charset.js';
import { replaceInvalidUtf8 } from '../base-subject.js';
import { renderThreads, threadByOrderedSubject, threadByReferences, type ThreadMessage } from '../threading.js';

interface ThreadArgs {
  byUid: boolean;
  algorithm: 'ORDEREDSUBJECT' | 'REFERENCES';
  search: ParsedSearch | undefined;
}

const parser = (byUid: boolean) => (args: Arg[]): ThreadArgs => {
  const algorithm = astring(args[0], 'threading algorithm').toUpperCase();
  if (algorithm !== 'ORDEREDSUBJECT' && algorithm !== 'REFERENCES') throw new ImapParseError('Unknown thread algorithm');
  const decodeString = searchStringDecoder(astring(args[1], 'charset'));
  if (decodeString === undefined) return { byUid, algorithm, search: undefined };
  return { byUid, algorithm, search: parseSearch(args.slice(2), decodeString) };
};

async function run(ctx: SessionContext, a: ThreadArgs): Promise<CommandResult> {
  if (a.search === undefined) return { status: 'NO', code: 'BADCHARSET (UTF-8 US-ASCII)', text: 'Unknown charset' };
  // 8-bit text that is not UTF-8 reads as U+FFFD, as in Dovecot.
  const decode = (v: string) => ctx.backend.decodeHeader(replaceInvalidUtf8(v));
  const messages: ThreadMessage[] = [];
  for await (const m of matchingMessages(ctx, a.search.key, { withIndex: true })) {
    const rec = m.record;
    const index = m.index();
    const env = index.envelope;
    const s = index.search;
    // References as the index keeps them (each "<...>"), read again the way Dovecot reads Message-IDs.
    let references = s.references.length > 0 ? allMessageIds(s.references.join(' ')) : [];
    if (references.length === 0) {
      const inReplyTo = firstMessageId(env.inReplyTo);
      if (inReplyTo !== null) references = [inReplyTo];
    }
    messages.push({
      id: a.byUid ? rec.uid : m.seq,
      uid: rec.uid,
      date: Math.floor((s.date === null || s.date === 0 ? rec.internalDate : s.date) / 1000),
      subject: env.subject === undefined ? null : decode(env.subject),
      messageId: firstMessageId(env.messageId),
      references,
    });
  }
  const roots = a.algorithm === 'REFERENCES' ? threadByReferences(messages) : threadByOrderedSubject(messages);
  const data = renderThreads(roots);
  return { untagged: [{ type: 'untagged', values: data === '' ? ['THREAD'] : ['THREAD', data] }] };
}

export const threadCommand = defineCommand({ name: 'THREAD', states: SELECTED, parse: parser(false), run, allowExpunge: false });
export const uidThreadCommand = defineCommand({ name: 'UID THREAD', states: SELECTED, parse: parser(true), run });
