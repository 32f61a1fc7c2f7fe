// The one place that turns errors into ManageSieve replies: MailError codes
// map to RFC 5804 response codes with their safe message; anything else is
// a bug and the client learns nothing of it.
import type { MailErrorCode } from '../../../storage/errors.js';
import type { StatusResponse } from './response.js';

interface CodedError {
  code: MailErrorCode;
  message: string;
  quota?: unknown;
}

function isCoded(err: unknown): err is CodedError {
  return err instanceof Error && err.name === 'MailError' && typeof (err as { code?: unknown }).code === 'string';
}

const RESPONSE_CODES: Record<MailErrorCode, string | undefined> = {
  BADINPUT: undefined,
  NONEXISTENT: 'NONEXISTENT',
  ALREADYEXISTS: 'ALREADYEXISTS',
  OVERQUOTA: 'QUOTA',
  WEAKPASSWORD: undefined,
  AUTHFAILED: undefined,
  DISABLED: undefined,
  THROTTLED: 'TRYLATER',
  // The store refuses one thing by rule: deleting the active script.
  REFUSED: 'ACTIVE',
  LIMIT: 'QUOTA',
  TEMPFAIL: 'TRYLATER',
  NOSPACE: 'QUOTA',
  INTERNAL: undefined,
};

export function errorCode(err: unknown): MailErrorCode | undefined {
  return isCoded(err) ? err.code : undefined;
}

/** The NO for an error; `onUnknown` sees errors that are not MailErrors (to log them). */
export function errorResponse(err: unknown, onUnknown?: (err: unknown) => void): StatusResponse {
  if (isCoded(err) && err.code !== 'INTERNAL') {
    const quota = err.quota === 'MAXSCRIPTS' || err.quota === 'MAXSIZE' ? `QUOTA/${err.quota}` : undefined;
    return { status: 'NO', code: quota ?? RESPONSE_CODES[err.code], text: err.message };
  }
  onUnknown?.(err);
  return { status: 'NO', code: 'TRYLATER', text: 'Internal error occurred. Refer to server log for more information.' };
}
