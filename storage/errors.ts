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
  | 'NOSPACE' // the disk (or a filesystem quota) is full: nothing was changed; retry when there is room
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

/**
 * Error codes that say the disk or a filesystem quota is full: errno codes,
 * SQLite's (SQLITE_FULL; SQLITE_IOERR_SHMSIZE when its shared-memory file
 * cannot grow, which on a full disk is what opening the index meets first).
 */
const NO_SPACE_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', 'SQLITE_IOERR_SHMSIZE']);

/** Whether an error, or one of its causes, says the disk is full. */
export function isNoSpace(err: unknown): boolean {
  let e = err;
  for (let depth = 0; depth < 8 && e instanceof Error; depth++) {
    if (e instanceof MailError ? e.code === 'NOSPACE' : NO_SPACE_CODES.has(String((e as { code?: unknown }).code))) return true;
    e = e.cause;
  }
  return false;
}

/** The one text for a full disk (Dovecot says the same). */
export const NO_SPACE_TEXT = 'Not enough disk space';

/**
 * What a failed read or write of stored data means to the caller: a
 * MailError stays as it is; a full disk becomes NOSPACE; any other error of
 * the file system or of SQLite becomes TEMPFAIL (retry later). Anything else
 * is a bug and is returned unchanged.
 */
export function storageFailure(err: unknown): unknown {
  if (err instanceof MailError) return err;
  if (isNoSpace(err)) return new MailError('NOSPACE', NO_SPACE_TEXT, { cause: err });
  const code = (err as { code?: unknown } | undefined)?.code;
  const io = err instanceof Error && (typeof (err as NodeJS.ErrnoException).syscall === 'string' || (err.name === 'SqliteError' && typeof code === 'string'));
  return io ? new MailError('TEMPFAIL', 'the mail store is unavailable', { cause: err }) : err;
}
