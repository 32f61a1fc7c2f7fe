// What the memory mail store hands out: copies in the ports' shapes, never its own objects.
import type { MailboxSummary, MessageRecord, SpecialUse } from '../ports.js';
import type { MemMailbox, MemMessage } from './state.js';

/** The folders every account gets, as the SQLite store makes them. */
export const DEFAULT_FOLDERS: Array<{ name: string; specialUse: SpecialUse | null }> = [
  { name: 'INBOX', specialUse: null },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' },
];

export function summary(mb: MemMailbox): MailboxSummary {
  return {
    id: mb.id,
    accountId: mb.accountId,
    name: mb.name,
    uidValidity: mb.uidValidity,
    uidNext: mb.uidNext,
    highestModseq: mb.highestModseq,
    specialUse: mb.specialUse,
  };
}

export function toRecord(mailboxId: number, m: MemMessage): MessageRecord {
  return { mailboxId, uid: m.uid, modseq: m.modseq, flags: [...m.flags], internalDate: m.internalDate, size: m.size, mime: m.mime };
}
