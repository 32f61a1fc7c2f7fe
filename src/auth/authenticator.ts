// Checks credentials against the directory: the one place that decides
// whether a login succeeds, for every protocol.
import type { AccountRecord, Directory } from '../../storage/ports.js';
import { MailError } from '../../storage/errors.js';
import { verifyPassword, dummyPasswordHash, decodeScram, type ScramCredentials } from './password.js';
import { LoginThrottle } from './throttle.js';

export interface LoginContext {
  /** The client's IP address, for throttling. */
  ip?: string;
}

const FAILED = () => new MailError('AUTHFAILED', 'authentication failed');

export class Authenticator {
  constructor(
    private readonly directory: Directory,
    readonly throttle: LoginThrottle = new LoginThrottle(),
  ) {}

  /** Resolves to the account, or throws AUTHFAILED / DISABLED / THROTTLED. */
  async login(username: string, password: string, ctx: LoginContext = {}): Promise<AccountRecord> {
    const name = username.trim().toLowerCase();
    if (this.throttle.isBlocked(name, ctx.ip)) throw new MailError('THROTTLED', 'too many failed logins; try again later');
    const account = name.includes('@') ? this.directory.getAccount(name) : undefined;
    // Spend the same time whether or not the account exists.
    const ok = await verifyPassword(password, account?.passwordHash ?? (await dummyPasswordHash()));
    if (!account || !ok) {
      this.throttle.recordFailure(name, ctx.ip);
      throw FAILED();
    }
    if (account.disabled) throw new MailError('DISABLED', 'account is disabled');
    this.throttle.recordSuccess(name);
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
