// Checks credentials against the directory: the one place that decides
// whether a login succeeds, for every protocol.
import type { AccountRecord, Directory } from '../../storage/ports.js';
import { MailError } from '../../storage/errors.js';
import { createHmac, randomBytes } from 'node:crypto';
import { verifyPassword, dummyPasswordHash, decodeScram, passwordRecords, type ScramCredentials } from './password.js';
import { isLegacyHash } from './legacy-password.js';
import { AuthPenalty } from './penalty.js';
import type { Metrics } from '../metrics.js';

export interface LoginContext {
  /** The client's IP address: failures slow down this address (see penalty.ts) and are logged with it. */
  ip?: string;
  /** The protocol asking ("imap", "pop3", "managesieve", "submission"), for the log. */
  service?: string;
  /** The SASL mechanism; a protocol's own plain-text login (IMAP LOGIN, POP3 USER/PASS) counts as PLAIN, as in Dovecot. */
  mechanism?: string;
}

/** Where failed logins are reported: a pino logger fits. */
export interface AuthLog {
  warn(event: Record<string, unknown>): void;
}

export interface AuthenticatorOptions {
  penalty?: AuthPenalty;
  log?: AuthLog;
  metrics?: Pick<Metrics, 'auth'> | undefined;
}

/** Why a login failed, for the log only: the client always hears "authentication failed". */
export type FailureReason = 'unknown user' | 'wrong password' | 'malformed' | 'authorization identity differs';

const FAILED = () => new MailError('AUTHFAILED', 'authentication failed');

/** Logged user names are cut here: a client may send kilobytes. */
const MAX_LOGGED_NAME = 256;
const loggedName = (name: string) => (name.length > MAX_LOGGED_NAME ? `${name.slice(0, MAX_LOGGED_NAME)}...` : name);

/** How long a verified password is remembered (like Dovecot's auth_cache_ttl). */
const LOGIN_CACHE_TTL_MS = 10 * 60 * 1000;
const LOGIN_CACHE_MAX = 10_000;

/**
 * Remembers successful logins so clients that open many connections (mbsync,
 * Thunderbird) do not pay a scrypt each time. Keys are an HMAC with a key
 * that never leaves this process; an entry only counts while the stored
 * password hash is unchanged, so a new password or `passwd` ends it at once.
 */
class LoginCache {
  private readonly key = randomBytes(32);
  private readonly entries = new Map<string, { passwordHash: string; expires: number }>();

  private id(address: string, password: string): string {
    return createHmac('sha256', this.key).update(address).update('\0').update(password).digest('base64');
  }

  has(address: string, password: string, passwordHash: string, now = Date.now()): boolean {
    const e = this.entries.get(this.id(address, password));
    return e !== undefined && e.expires > now && e.passwordHash === passwordHash;
  }

  remember(address: string, password: string, passwordHash: string, now = Date.now()): void {
    if (this.entries.size >= LOGIN_CACHE_MAX) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(this.id(address, password), { passwordHash, expires: now + LOGIN_CACHE_TTL_MS });
  }
}

export class Authenticator {
  private readonly cache = new LoginCache();
  readonly penalty: AuthPenalty;
  private readonly log: AuthLog | undefined;
  private readonly metrics: Pick<Metrics, 'auth'> | undefined;

  constructor(
    private readonly directory: Directory,
    options: AuthenticatorOptions = {},
  ) {
    this.penalty = options.penalty ?? new AuthPenalty();
    this.log = options.log;
    this.metrics = options.metrics;
  }

  /**
   * Resolves to the account, or throws AUTHFAILED / DISABLED. An address
   * that has been failing waits before its attempt is checked, and every
   * failure waits before it is answered (see penalty.ts); nothing is refused
   * because of failures from elsewhere.
   */
  async login(username: string, password: string, ctx: LoginContext = {}): Promise<AccountRecord> {
    await this.penalty.beforeAttempt(ctx.ip);
    const name = username.trim().toLowerCase();
    const account = name.includes('@') ? await this.directory.getAccount(name) : undefined;
    const cached = account !== undefined && this.cache.has(name, password, account.passwordHash);
    // Spend the same time whether or not the account exists.
    const ok = cached || (await verifyPassword(password, account?.passwordHash ?? (await dummyPasswordHash())));
    if (!account || !ok) throw await this.fail(username, account ? 'wrong password' : 'unknown user', ctx);
    if (account.disabled) throw this.refused(username, ctx);
    if (!cached) this.cache.remember(name, password, account.passwordHash);
    this.metrics?.auth(ctx.service ?? 'unknown', true);
    if (isLegacyHash(account.passwordHash)) await this.rehash(account, password);
    return account;
  }

  /**
   * A hash imported from Dovecot is replaced by Postino's own (and SCRAM
   * credentials made) once the password is known to be right. A failure
   * leaves the old hash, which still works: the login goes on.
   */
  private async rehash(account: AccountRecord, password: string): Promise<void> {
    try {
      const records = await passwordRecords(password);
      await this.directory.setPassword(account.address, records.passwordHash, records.scramSha256);
    } catch (err) {
      this.log?.warn({ event: 'rehash-failed', user: loggedName(account.address), error: err instanceof Error ? err.message : String(err) });
    }
  }

  /**
   * For SCRAM: the stored credentials to check a proof against. Unknown
   * users get made-up credentials so the exchange fails only at the proof.
   * Waits first, like login(), when the address has been failing.
   */
  async scramCredentials(username: string, ctx: LoginContext = {}): Promise<{ account: AccountRecord | undefined; credentials: ScramCredentials | undefined }> {
    await this.penalty.beforeAttempt(ctx.ip);
    const name = username.trim().toLowerCase();
    const account = name.includes('@') ? await this.directory.getAccount(name) : undefined;
    return { account, credentials: decodeScram(account?.scramSha256 ?? null) };
  }

  /** Called by SCRAM once the proof is checked. */
  async finishScram(username: string, account: AccountRecord | undefined, proofOk: boolean, ctx: LoginContext = {}): Promise<AccountRecord> {
    if (!account || !proofOk) throw await this.fail(username, account ? 'wrong password' : 'unknown user', ctx);
    if (account.disabled) throw this.refused(username, ctx);
    this.metrics?.auth(ctx.service ?? 'unknown', true);
    return account;
  }

  /**
   * The right password for a disabled account: logged apart from failures
   * (no guessing here, so no penalty, and a fail2ban filter on auth-failed
   * does not ban the address of a client that still holds a disabled login).
   */
  private refused(username: string, ctx: LoginContext): MailError {
    this.log?.warn({ event: 'auth-refused', service: ctx.service ?? 'unknown', ip: ctx.ip ?? 'unknown', user: loggedName(username), mechanism: ctx.mechanism ?? 'PLAIN', reason: 'account disabled' });
    return new MailError('DISABLED', 'account is disabled');
  }

  /**
   * Every failed authentication ends here, from any protocol or mechanism:
   * it is logged (for fail2ban, see the README), counted against the client
   * address, and answered only after the penalty delay. Returns the error to
   * give the client (AUTHFAILED, or `error` when a mechanism has a more exact one).
   */
  async fail(username: string, reason: FailureReason, ctx: LoginContext, error: MailError = FAILED()): Promise<MailError> {
    // Key order matters: the documented fail2ban filter matches event, service, ip in this order.
    this.log?.warn({
      event: 'auth-failed',
      service: ctx.service ?? 'unknown',
      ip: ctx.ip ?? 'unknown',
      user: loggedName(username),
      mechanism: ctx.mechanism ?? 'PLAIN',
      reason,
    });
    this.metrics?.auth(ctx.service ?? 'unknown', false);
    await this.penalty.afterFailure(ctx.ip);
    return error;
  }
}
