// STATUS items, shared by STATUS and LIST ... RETURN (STATUS (...)).
import { ImapParseError, isAtom, type Arg } from './parser.js';
import type { ImapValue } from './response.js';
import type { MailboxInfo } from './backend.js';

const ITEMS = new Set(['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'HIGHESTMODSEQ', 'SIZE', 'APPENDLIMIT']);

export function parseStatusItems(items: Arg[]): string[] {
  if (items.length === 0) throw new ImapParseError('Missing status items');
  return items.map((a) => {
    if (!isAtom(a) || !ITEMS.has(a.value.toUpperCase())) throw new ImapParseError('Unknown status item');
    return a.value.toUpperCase();
  });
}

export function statusValues(info: MailboxInfo, items: string[], appendLimit: number): ImapValue[] {
  const out: ImapValue[] = [];
  for (const item of items) {
    let v: number;
    switch (item) {
      case 'MESSAGES': v = info.messages; break;
      case 'RECENT': v = 0; break;
      case 'UIDNEXT': v = info.uidNext; break;
      case 'UIDVALIDITY': v = info.uidValidity; break;
      case 'UNSEEN': v = info.unseen; break;
      case 'HIGHESTMODSEQ': v = info.highestModseq; break;
      case 'SIZE': v = info.size; break;
      default: v = appendLimit;
    }
    out.push(item, v);
  }
  return out;
}
