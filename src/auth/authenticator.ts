// Checks credentials against the directory: the one place that decides
// whether a login succeeds, for every protocol.
import type { AccountRecord, Directory } from '../../storage/ports.js';
import { MailError } from '../../storage/errors.js';
import { createHmac, randomBytes } from 'node:crypto';
import { verifyPassword, dummyPasswordHash, decodeScram, type ScramCredentials } from './password.js';
import { LoginThrottle } from './throttle.js';

export interface LoginContext {
  /** The client's IP address, for throttling. */
  ip?: string;
}

const FAILED = () => new MailError('AUTHFAILED', 'authentication failed');

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

  constructor(
    private readonly directory: Directory,
    readonly throttle: LoginThrottle = new LoginThrottle(),
  ) {}

  /** Resolves to the account, or throws AUTHFAILED / DISABLED / THROTTLED. */
  async login(username: string, password: string, ctx: LoginContext = {}): Promise<AccountRecord> {
    const name = username.trim().toLowerCase();
    if (this.throttle.isBlocked(name, ctx.ip)) throw new MailError('THROTTLED', 'too many failed logins; try again later');
    const account = name.includes('@') ? this.directory.getAccount(name) : undefined;
    const cached = account !== undefined && this.cache.has(name, password, account.passwordHash);
    // Spend the same time whether or not the account exists.
    const ok = cached || (await verifyPassword(password, account?.passwordHash ?? (await dummyPasswordHash())));
    if (!account || !ok) {
      this.throttle.recordFailure(name, ctx.ip);
      throw FAILED();
    }
    if (account.disabled) throw new MailError('DISABLED', 'account is disabled');
    this.throttle.recordSuccess(name);
    if (!cached) this.cache.remember(name, password, account.passwordHash);
    return account;
  }

  /**
   * For SCRAM: the stored credentials to check a proof against. Unknown
   * users get made-up credentials so the exchange fails only at the proof.
   */
  scramCredentials(username: string, ctx: LoginContext = {}): { account: AccountRecord | undefined; credentials: ScramCredentials | undefined } {
    const name = username.trim().toLowerCase();
    if (this.throttle.isBlocked(name, ctx.ip)) throw new MailError('THROTTLED', 'too many failed logins; try again later');
    const account = name.includes('@') ? this.directory.getAccount(name) : undefined;
    return { account, credentials: decodeScram(account?.scramSha256 ?? null) };
  }

  /** Called by SCRAM once the proof is checked. */
  finishScram(username: string, account: AccountRecord | undefined, proofOk: boolean, ctx: LoginContext = {}): AccountRecord {
    const name = username.trim().toLowerCase();
    if (!account || !proofOk) {
      this.throttle.recordFailure(name, ctx.ip);
      throw FAILED();
    }
    if (account.disabled) throw new MailError('DISABLED', 'account is disabled');
    this.throttle.recordSuccess(name);
    return account;
  }
}
