// The one place that turns errors into IMAP replies. MailError codes map to
// RFC 5530 response codes with their safe message; anything else is a bug
// and the client learns nothing of it.
import type { MailErrorCode } from '../../../storage/errors.js';
import type { CommandResult } from './command.js';

interface CodedError {
  code: MailErrorCode;
  message: string;
}

function isCoded(err: unknown): err is CodedError {
  return err instanceof Error && err.name === 'MailError' && typeof (err as { code?: unknown }).code === 'string';
}

const RESPONSE_CODES: Record<MailErrorCode, string | undefined> = {
  BADINPUT: 'CANNOT',
  NONEXISTENT: 'NONEXISTENT',
  ALREADYEXISTS: 'ALREADYEXISTS',
  OVERQUOTA: 'OVERQUOTA',
  WEAKPASSWORD: 'CANNOT',
  AUTHFAILED: 'AUTHENTICATIONFAILED',
  DISABLED: 'AUTHORIZATIONFAILED',
  THROTTLED: 'UNAVAILABLE',
  REFUSED: 'CANNOT',
  LIMIT: 'LIMIT',
  TEMPFAIL: 'UNAVAILABLE',
  // As Dovecot answers a full disk: the client learns that storing failed for lack of room.
  NOSPACE: 'OVERQUOTA',
  INTERNAL: 'SERVERBUG',
};

/** The tagged NO for an error; `onUnknown` sees errors that are not MailErrors (to log them). */
export function errorResult(err: unknown, onUnknown?: (err: unknown) => void): CommandResult {
  if (isCoded(err) && err.code !== 'INTERNAL') {
    return { status: 'NO', code: RESPONSE_CODES[err.code], text: err.message };
  }
  onUnknown?.(err);
  return { status: 'NO', code: 'SERVERBUG', text: 'Internal error occurred. Refer to server log for more information.' };
}

export function errorCode(err: unknown): MailErrorCode | undefined {
  return isCoded(err) ? err.code : undefined;
}
