// The password strength rule applied when an account is made or its
// password changed (skipped with --allow-weak).
import { MailError } from '../../storage/errors.js';
import { COMMON_PASSWORDS } from './common-passwords.js';

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 1024;

/** Returns why the password is weak, or undefined when it is acceptable. */
export function passwordWeakness(password: string, address?: string): string | undefined {
  if ([...password].length < MIN_PASSWORD_LENGTH) return `password is shorter than ${MIN_PASSWORD_LENGTH} characters`;
  const lower = password.toLowerCase();
  const core = lower.replace(/[\d\W_]+$/u, '').replace(/^[\d\W_]+/u, '');
  if (COMMON_PASSWORDS.has(lower) || (core.length > 0 && COMMON_PASSWORDS.has(core))) return 'password is too common';
  if (new Set(password).size < 4) return 'password has too few different characters';
  if (address) {
    const local = address.slice(0, address.lastIndexOf('@')).toLowerCase();
    if (local.length >= 3 && lower.includes(local)) return 'password contains the account name';
  }
  return undefined;
}

/** Throws BADINPUT for unusable passwords, WEAKPASSWORD for weak ones unless allowed. */
export function checkPassword(password: string, address: string, allowWeak: boolean): void {
  if (password.length === 0) throw new MailError('BADINPUT', 'empty password');
  if (password.length > MAX_PASSWORD_LENGTH) throw new MailError('BADINPUT', 'password is too long');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(password)) throw new MailError('BADINPUT', 'password has control characters');
  if (allowWeak) return;
  const why = passwordWeakness(password, address);
  if (why) throw new MailError('WEAKPASSWORD', `${why} (use --allow-weak to accept it anyway)`);
}
