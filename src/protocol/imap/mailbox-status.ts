// STATUS items, shared by STATUS and LIST ... RETURN (STATUS (...)).
// DELETED is RFC 9051's (Dovecot offers it to every client); RECENT counts
// the messages no read-write session has claimed yet, or this session's own
// when the mailbox is the selected one.
import { ImapParseError, isAtom, type Arg } from './parser.js';
import type { ImapValue } from './response.js';
import type { MailboxInfo } from './backend.js';
import type { SessionContext } from './command.js';

const ITEMS = new Set(['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'HIGHESTMODSEQ', 'SIZE', 'APPENDLIMIT', 'DELETED']);

export function parseStatusItems(items: Arg[]): string[] {
  if (items.length === 0) throw new ImapParseError('Missing status items');
  return items.map((a) => {
    if (!isAtom(a) || !ITEMS.has(a.value.toUpperCase())) throw new ImapParseError('Unknown status item');
    return a.value.toUpperCase();
  });
}

async function recent(ctx: SessionContext, info: MailboxInfo): Promise<number> {
  if (ctx.rev2) return 0;
  if (ctx.selected?.mailboxId === info.id) return ctx.selected.recentCount;
  return await ctx.backend.unclaimedRecent(ctx.user!, info.id);
}

export async function statusValues(ctx: SessionContext, info: MailboxInfo, items: string[]): Promise<ImapValue[]> {
  const out: ImapValue[] = [];
  for (const item of items) {
    let v: number;
    switch (item) {
      case 'MESSAGES': v = info.messages; break;
      case 'RECENT': v = await recent(ctx, info); break;
      case 'UIDNEXT': v = info.uidNext; break;
      case 'UIDVALIDITY': v = info.uidValidity; break;
      case 'UNSEEN': v = info.unseen; break;
      case 'HIGHESTMODSEQ': v = info.highestModseq; break;
      case 'SIZE': v = info.size; break;
      case 'DELETED': v = await ctx.backend.deletedCount(ctx.user!, info.id); break;
      default: v = ctx.backend.appendLimit;
    }
    out.push(item, v);
  }
  return out;
}
