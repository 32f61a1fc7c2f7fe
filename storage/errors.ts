// The one error class of Postino. It lives in the lowest layer (storage) so
// every layer above can throw and catch it; src/errors.ts maps it to replies.

export type MailErrorCode =
  | 'BADINPUT' // the caller's input is malformed; nothing changed
  | 'NONEXISTENT' // the named thing does not exist
  | 'ALREADYEXISTS' // the named thing exists already
  | 'OVERQUOTA' // storing would exceed the account quota
  | 'WEAKPASSWORD' // refused by the password policy
  | 'AUTHFAILED' // wrong credentials (never says which part was wrong)
  | 'DISABLED' // the account is disabled
  | 'THROTTLED' // too many failures; try later
  | 'REFUSED' // a rule refuses the change (e.g. last postmaster@ target)
  | 'LIMIT' // a size/count/time limit was exceeded
  | 'TEMPFAIL' // a transient failure: the caller should retry
  | 'INTERNAL'; // a bug or unexpected state; the message is not for clients

export interface MailErrorOptions {
  cause?: unknown;
  /** SMTP basic reply code, e.g. 550. */
  smtpCode?: number;
  /** RFC 3463 enhanced status code, e.g. "5.1.1". */
  enhanced?: string;
}

export class MailError extends Error {
  readonly code: MailErrorCode;
  readonly smtpCode: number | undefined;
  readonly enhanced: string | undefined;

  /** `message` must be safe to show to a client or a CLI user. */
  constructor(code: MailErrorCode, message: string, options: MailErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MailError';
    this.code = code;
    this.smtpCode = options.smtpCode;
    this.enhanced = options.enhanced;
  }
}

export function isMailError(err: unknown, code?: MailErrorCode): err is MailError {
  return err instanceof MailError && (code === undefined || err.code === code);
}
