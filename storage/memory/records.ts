// What the memory mail store hands out: copies in the ports' shapes, never its own objects.
import type { MailboxSummary, MessageRecord } from '../ports.js';
import type { MemMailbox, MemMessage } from './state.js';

export { DEFAULT_FOLDERS } from '../names.js';

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
  return {
    mailboxId,
    uid: m.uid,
    modseq: m.modseq,
    flags: [...m.flags],
    internalDate: m.internalDate,
    size: m.size,
    mime: m.mime,
    ...(m.pop3Uidl !== undefined ? { pop3Uidl: m.pop3Uidl } : {}),
  };
}
