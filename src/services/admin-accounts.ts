// Administrators of the admin port: a superadmin (no domain list) manages
// everything, a domain admin only the domains listed. Made with
// `postino admin add` (the bootstrap) or by a superadmin through the API;
// the same rules and messages for both.
import type { AdminAccountRecord, Storage } from '../../storage/ports.js';
import { MailError } from '../../storage/errors.js';
import { normalizeDomain } from '../addresses.js';
import { checkPassword } from '../auth/password-policy.js';
import { hashPassword } from '../auth/password.js';
import { audit, CLI_ACTOR, type Actor } from './audit.js';

/** Not a mail address (no "@"), so a login name tells an admin from a mail user. */
const ADMIN_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** An administrator as listed (no password hash). */
export interface AdminInfo {
  username: string;
  kind: 'superadmin' | 'domainadmin';
  domains: string[];
  created: string;
}

export function adminInfo(a: AdminAccountRecord): AdminInfo {
  return { username: a.username, kind: a.domains.length === 0 ? 'superadmin' : 'domainadmin', domains: a.domains, created: new Date(a.created).toISOString() };
}

export function validateAdminName(input: string): string {
  const name = input.trim().toLowerCase();
  if (!ADMIN_NAME.test(name)) {
    throw new MailError('BADINPUT', `invalid admin name ${JSON.stringify(input.slice(0, 100))} (letters, digits, '.', '_' and '-', at most 64, no '@')`);
  }
  return name;
}

export class AdminAccountService {
  constructor(
    private readonly stores: Pick<Storage, 'admin' | 'directory' | 'transaction'>,
    private readonly actor: Actor = CLI_ACTOR,
  ) {}

  async add(usernameInput: string, password: string, domainInputs: string[] = []): Promise<AdminInfo> {
    const username = validateAdminName(usernameInput);
    const domains: string[] = [];
    for (const d of domainInputs) {
      const domain = normalizeDomain(d);
      if (!(await this.stores.directory.hasDomain(domain))) throw new MailError('NONEXISTENT', `no such domain: ${domain}`);
      if (!domains.includes(domain)) domains.push(domain);
    }
    if (await this.stores.admin.getAdmin(username)) throw new MailError('ALREADYEXISTS', `admin ${username} exists already`);
    // The policy looks for the name in the password the way it looks for a mailbox's local part.
    checkPassword(password, `${username}@admin`, false);
    const passwordHash = await hashPassword(password);
    return this.stores.transaction(async (tx) => {
      const made = await tx.admin.addAdmin({ username, passwordHash, domains });
      await audit(tx, this.actor, 'admin.add', username, null, { username, domains });
      return adminInfo(made);
    });
  }

  async list(): Promise<AdminInfo[]> {
    return (await this.stores.admin.listAdmins()).map(adminInfo);
  }

  /** Removes the admin and its tokens and sessions; the last superadmin stays (someone must be able to log in). */
  async remove(usernameInput: string): Promise<void> {
    const username = usernameInput.trim().toLowerCase();
    const admin = await this.stores.admin.getAdmin(username);
    if (!admin) throw new MailError('NONEXISTENT', `no such admin: ${username}`);
    if (admin.domains.length === 0) {
      const supers = (await this.stores.admin.listAdmins()).filter((a) => a.domains.length === 0);
      if (supers.length === 1) throw new MailError('REFUSED', `${username} is the last superadmin; add another first`);
    }
    await this.stores.transaction(async (tx) => {
      await tx.admin.removeAdmin(username);
      await audit(tx, this.actor, 'admin.remove', username, { username, domains: admin.domains }, null);
    });
  }
}
