// The POP3 UIDL a message may keep as its own (one brought from another
// server: postino import dovecot), checked the same way by every backend.
// RFC 1939 asks for 1 to 70 characters from 0x21 to 0x7E; Dovecot serves
// longer ones (its pop3_uidl_format can yield them), and clients took them,
// so a longer one is kept too, up to a bound that keeps rows and lines small.
import { MailError } from './errors.js';

/** The longest POP3 UIDL a message keeps. */
export const MAX_POP3_UIDL = 512;

/** Why `uidl` cannot be kept (undefined when it can). */
export function pop3UidlProblem(uidl: string): string | undefined {
  if (uidl.length === 0) return 'empty';
  if (uidl.length > MAX_POP3_UIDL) return `longer than ${MAX_POP3_UIDL} characters`;
  if (!/^[\x21-\x7e]+$/.test(uidl)) return 'not printable ASCII without spaces';
  return undefined;
}

/** An append's POP3 UIDL as a row keeps it: null when none; BADINPUT when it cannot be kept. */
export function pop3UidlColumn(uidl: string | undefined): string | null {
  if (uidl === undefined) return null;
  const problem = pop3UidlProblem(uidl);
  if (problem) throw new MailError('BADINPUT', `POP3 UIDL ${problem}`);
  return uidl;
}
