// The one mapping from a backend error to a POP3 reply. Only the codes are
// read; the text of an unknown error never reaches the client.
import { err, type Pop3Reply } from './responses.js';

function codeOf(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string') return (e as { code: string }).code;
  return undefined;
}

export function authErrorReply(e: unknown): Pop3Reply {
  switch (codeOf(e)) {
    case 'AUTHFAILED':
      return err('Authentication failed', 'AUTH');
    case 'DISABLED':
      return err('Account disabled', 'AUTH');
    case 'BADINPUT':
      return err('Malformed authentication data', 'AUTH');
    default:
      return err('Authentication temporarily unavailable', 'SYS/TEMP');
  }
}

export function errorReply(e: unknown): Pop3Reply {
  switch (codeOf(e)) {
    case 'NONEXISTENT':
      return err('Message was removed meanwhile by another client');
    case 'TEMPFAIL':
    case 'BUSY':
      return err('Temporary failure, try again', 'SYS/TEMP');
    default:
      return err('Internal error', 'SYS/TEMP');
  }
}

/** True for errors worth an error-level log line (not a client's mistake or a vanished message). */
export function isUnexpected(e: unknown): boolean {
  const c = codeOf(e);
  return c !== 'NONEXISTENT' && c !== 'AUTHFAILED' && c !== 'DISABLED' && c !== 'BADINPUT';
}
