// The rows of the mail index (mailboxes, messages) as SQLite returns them,
// how they become port records, and the rules for mailbox names.
import type { MailboxSummary, MessageRecord, ParsedForIndex, SpecialUse } from '../ports.js';
import { MailError } from '../errors.js';
import { baseOfPath } from '../maildir/names.js';

/**
 * Turns a message into the cached structure stored with it (JSON), once, at
 * append: from its model when the caller parsed it already (IMAP APPEND),
 * else from the raw bytes.
 */
export type MessageIndexer = (raw: Buffer, parsed?: ParsedForIndex) => string | null;

export { DEFAULT_FOLDERS, MAX_SUBSCRIPTIONS, validateMailboxName } from '../names.js';

export interface MailboxRow {
  id: number;
  account_id: number;
  name: string;
  dir: string;
  uidvalidity: number;
  uidnext: number;
  highestmodseq: number;
  special_use: string | null;
  keywords: string;
}

/** What a delivery needs of a mailbox to write into it. */
export type MailboxRef = Pick<MailboxRow, 'id' | 'account_id' | 'dir'>;

export interface MessageRow {
  mailbox_id: number;
  uid: number;
  modseq: number;
  flags: string;
  internal_date: number;
  size: number;
  /** The body's ref in the BlobStore: the Maildir file relative to its folder ("cur/<name>"). */
  path: string;
  mime: string | null;
  /** The message's own POP3 UIDL (migration 12), NULL when POP3 derives it. */
  pop3_uidl: string | null;
}

export function summary(row: MailboxRow): MailboxSummary {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    uidValidity: row.uidvalidity,
    uidNext: row.uidnext,
    highestModseq: row.highestmodseq,
    specialUse: row.special_use as SpecialUse | null,
  };
}

/** A mailbox's keyword list as stored (JSON); an unreadable one is empty. */
export function parseKeywords(json: string): string[] {
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? v.filter((k): k is string => typeof k === 'string') : [];
  } catch {
    return [];
  }
}

/** A message's flags as stored (space separated). */
export function splitFlags(flags: string): string[] {
  return flags === '' ? [] : flags.split(' ');
}

export function toRecord(row: MessageRow): MessageRecord {
  return {
    mailboxId: row.mailbox_id,
    uid: row.uid,
    modseq: row.modseq,
    flags: splitFlags(row.flags),
    internalDate: row.internal_date,
    size: row.size,
    mime: row.mime,
    bodyId: baseOfPath(row.path),
    ...(row.pop3_uidl ? { pop3Uidl: row.pop3_uidl } : {}),
  };
}

/** The name as stored: a first level of any case that spells INBOX is INBOX. */
export function canonicalInbox(name: string): string {
  const slash = name.indexOf('/');
  const first = slash < 0 ? name : name.slice(0, slash);
  return first.toUpperCase() === 'INBOX' ? 'INBOX' + name.slice(first.length) : name;
}
