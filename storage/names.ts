// The rules for the names the storage ports take (mailboxes, Sieve scripts)
// and the folders every account gets: one copy, pure, shared by every
// backend (the SQLite one and storage/memory/).
import type { SpecialUse } from './ports.js';
import { MailError } from './errors.js';

const MAX_MAILBOX_NAME = 255;
const MAX_MAILBOX_DEPTH = 16;
export const MAX_SCRIPT_NAME = 128;
export const MAX_SCRIPTS_PER_ACCOUNT = 64;
/** Subscribed names per account: the list is read whole by LSUB and LIST (SUBSCRIBED). */
export const MAX_SUBSCRIPTIONS = 10_000;

export const DEFAULT_FOLDERS: Array<{ name: string; specialUse: SpecialUse | null }> = [
  { name: 'INBOX', specialUse: null },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' },
];

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

/**
 * The valid new name for renaming the mailbox `from` (canonical) to `to`.
 * REFUSED when it lies under `from`: a mailbox cannot become its own child
 * (Dovecot refuses it too). INBOX can: its messages move and it stays.
 */
export function validateRenameTarget(from: string, to: string): string {
  const target = validateMailboxName(to);
  if (from !== 'INBOX' && target.startsWith(from + '/')) throw new MailError('REFUSED', 'a mailbox cannot be renamed under itself');
  return target;
}

/** What `name` (`from` or a mailbox under it) is called once `from` is `target`; BADINPUT when that is too long or too deep. */
export function renamedMailboxName(name: string, from: string, target: string): string {
  return validateMailboxName(target + name.slice(from.length));
}

/** "inbox/x" -> "INBOX/x"; other names as they are (lookups without validation). */
export function canonicalMailboxName(name: string): string {
  const slash = name.indexOf('/');
  const first = slash < 0 ? name : name.slice(0, slash);
  return first.toUpperCase() === 'INBOX' ? 'INBOX' + name.slice(first.length) : name;
}

/** Half of a UTF-16 pair without its other half: not a character at all. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Script names are Unicode text without controls, "/", "\" or a leading "."; they map to one file; NFC.
 * Net-Unicode (RFC 5198, as ManageSieve asks): no C0 or C1 controls, no line or paragraph separators.
 */
export function validateScriptName(name: string): string {
  if (name.length === 0 || name.length > MAX_SCRIPT_NAME) throw new MailError('BADINPUT', 'invalid script name: empty or too long');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f-\x9f/\\\u2028\u2029]/.test(name) || name.startsWith('.') || LONE_SURROGATE.test(name)) throw new MailError('BADINPUT', `invalid script name '${name}'`);
  return name.normalize('NFC');
}
