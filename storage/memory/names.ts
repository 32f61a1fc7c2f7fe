// Names as the SQLite backend compares and checks them. The checks repeat
// storage/store.ts's and storage/scripts.ts's (importing those would load
// SQLite and the file system into the memory backend); the contract suite
// (test/contract/) keeps the two in step.
import { MailError } from '../errors.js';

const MAX_MAILBOX_NAME = 255;
const MAX_MAILBOX_DEPTH = 16;
export const MAX_SCRIPT_NAME = 128;
export const MAX_SCRIPTS_PER_ACCOUNT = 64;
/** Subscribed names per account. */
export const MAX_SUBSCRIPTIONS = 10_000;
/** Keywords a mailbox keeps a letter for (Maildir's a-z). */
export const MAX_KEYWORDS = 26;

/** A valid mailbox name with "INBOX" spelt in capitals at its first level; BADINPUT otherwise. */
export function validateMailboxName(name: string): string {
  if (name.length === 0) throw new MailError('BADINPUT', 'mailbox name is empty');
  if (name.length > MAX_MAILBOX_NAME) throw new MailError('BADINPUT', 'mailbox name is too long');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) throw new MailError('BADINPUT', 'mailbox name has control characters');
  const parts = name.split('/');
  if (parts.some((p) => p === '')) throw new MailError('BADINPUT', 'mailbox name has an empty level');
  if (parts.length > MAX_MAILBOX_DEPTH) throw new MailError('BADINPUT', 'mailbox name is nested too deeply');
  return canonicalMailboxName(name);
}

/** "inbox/x" -> "INBOX/x"; other names as they are (lookups without validation). */
export function canonicalMailboxName(name: string): string {
  const slash = name.indexOf('/');
  const first = slash < 0 ? name : name.slice(0, slash);
  return first.toUpperCase() === 'INBOX' ? 'INBOX' + name.slice(first.length) : name;
}

/** Script names are Unicode text without controls, "/", "\" or a leading "."; NFC. */
export function validateScriptName(name: string): string {
  if (name.length === 0 || name.length > MAX_SCRIPT_NAME) throw new MailError('BADINPUT', 'invalid script name: empty or too long');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f/\\]/.test(name) || name.startsWith('.')) throw new MailError('BADINPUT', `invalid script name '${name}'`);
  return name.normalize('NFC');
}

/** SQLite's NOCASE: ASCII letters only. */
export function foldCase(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** SQLite's BINARY order: by UTF-8 bytes (not JavaScript's UTF-16 units). */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
