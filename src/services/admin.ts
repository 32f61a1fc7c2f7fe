// What administrators do to domains, accounts and aliases, with the rules
// that keep a mail system sane (RFC 2142 postmaster@ and abuse@, no alias
// shadowing an account, no dangling local targets). The CLI and the admin
// HTTP API both call this; it changes everything of one request or nothing.
import type { AccountFileStore, AccountRecord, AliasRecord, Directory, Storage, UnitOfWork } from '../../storage/ports.js';
import { MailError } from '../../storage/errors.js';
import { formatAddress, normalizeDomain, parseAddress, parseOwnedAddress, splitSubaddress } from '../addresses.js';
import { checkPassword } from '../auth/password-policy.js';
import { passwordRecords } from '../auth/password.js';
import { audit, CLI_ACTOR, type Actor } from './audit.js';

/** RFC 2142 addresses every domain must have. */
export const ROLE_LOCALPARTS = ['postmaster', 'abuse'] as const;

/** The storage the service changes: its ports, removed accounts' files, and units of work over them. */
export type AdminStores = Pick<Storage, 'directory' | 'files' | 'transaction'>;

export interface RemoveOptions {
  /** Delete the Maildir and scripts at once instead of setting them aside. */
  purge?: boolean;
}

/** What became of a removed account's files. */
export interface RemovedAccount {
  address: string;
  /** The directory under DIR/removed/ now holding its mail and scripts; undefined when purged or when it had none. */
  keptIn: string | undefined;
  purged: boolean;
}

export interface AddedAccount {
  account: AccountRecord;
  /** Files an earlier account of this address left behind, moved here so the new one starts empty. */
  oldFilesMovedTo: string | undefined;
}

export interface NewUser {
  address: string;
  password: string;
  quota?: number | null;
  allowWeak?: boolean;
}

export class AdminService {
  /** `actor`: who the audit log names for the changes made through this service. */
  constructor(
    private readonly stores: AdminStores,
    private readonly actor: Actor = CLI_ACTOR,
  ) {}

  private get directory(): Directory {
    return this.stores.directory;
  }

  private get files(): AccountFileStore {
    return this.stores.files;
  }

  // ---- domains -------------------------------------------------------------

  /**
   * Adds a domain with postmaster@ and abuse@ aliased to `postmaster`: an
   * existing account, a remote address, or (password given) a new account
   * in the new domain.
   */
  async addDomain(
    domainInput: string,
    postmasterInput: string,
    postmasterPassword?: { password: string; allowWeak: boolean },
  ): Promise<{ oldFilesMovedTo: string | undefined }> {
    const domain = normalizeDomain(domainInput);
    if (await this.directory.hasDomain(domain)) throw new MailError('ALREADYEXISTS', `domain ${domain} exists already`);
    const target = parseAddress(postmasterInput);
    const targetAddr = formatAddress({ local: target.local.toLowerCase(), domain: target.domain });
    let records: { passwordHash: string; scramSha256: string } | undefined;
    if (postmasterPassword) {
      if (target.domain !== domain) {
        throw new MailError('BADINPUT', `--password-stdin makes a new account in ${domain}; ${targetAddr} is not in it`);
      }
      parseOwnedAddress(targetAddr);
      checkPassword(postmasterPassword.password, targetAddr, postmasterPassword.allowWeak);
      records = await passwordRecords(postmasterPassword.password);
    } else if (target.domain === domain) {
      throw new MailError('NONEXISTENT', `${targetAddr} does not exist yet; give --password-stdin to create it`);
    } else if ((await this.directory.hasDomain(target.domain)) && !(await this.localTargetExists(targetAddr))) {
      throw new MailError('NONEXISTENT', `no such account or alias: ${targetAddr}`);
    }
    let oldFilesMovedTo: string | undefined;
    await this.stores.transaction(async (tx) => {
      await tx.directory.addDomain(domain);
      const created = records && (await tx.directory.addAccount({ address: targetAddr, ...records, quota: null }));
      for (const role of ROLE_LOCALPARTS) {
        const roleAddr = `${role}@${domain}`;
        if (roleAddr !== targetAddr) await tx.directory.addAliasTargets(roleAddr, [targetAddr]);
      }
      if (created) oldFilesMovedTo = await this.provisionNew(tx, created);
      await audit(tx, this.actor, 'domain.add', domain, null, { domain, postmaster: targetAddr, postmasterAccountMade: created !== undefined });
    });
    return { oldFilesMovedTo };
  }

  /**
   * Removes the domain with its aliases and accounts; each account's files
   * are set aside (or purged), as `removeUser` does. Refused while an alias
   * of another domain points into it: once the domain is not local, that
   * target would become a forward to wherever the domain's MX is.
   */
  async removeDomain(domainInput: string, options: RemoveOptions = {}): Promise<RemovedAccount[]> {
    const domain = normalizeDomain(domainInput);
    if (!(await this.directory.hasDomain(domain))) throw new MailError('NONEXISTENT', `no such domain: ${domain}`);
    const inDomain = (address: string) => address.slice(address.lastIndexOf('@') + 1) === domain;
    const pointing = (await this.directory.listAliases()).filter((a) => !inDomain(a.address) && a.targets.some(inDomain));
    if (pointing.length > 0) {
      const first = pointing[0]!;
      const more = pointing.length > 1 ? ` (and ${pointing.length - 1} more alias(es))` : '';
      throw new MailError('REFUSED', `${first.address} points to ${first.targets.find(inDomain)}${more}; change or remove it first`);
    }
    const accounts = (await this.directory.listAccounts()).filter((a) => a.domain === domain);
    await this.stores.transaction(async (tx) => {
      for (const account of accounts) await this.forgetAccount(tx, account);
      await tx.directory.removeDomain(domain);
      await audit(tx, this.actor, 'domain.remove', domain, { domain, accounts: accounts.map((a) => a.address) }, null);
    });
    return this.disposeFiles(accounts, options.purge === true);
  }

  async listDomains(): Promise<Array<{ domain: string }>> {
    return (await this.directory.listDomains()).map((d) => ({ domain: d.name }));
  }

  // ---- accounts --------------------------------------------------------------

  async addUser(user: NewUser): Promise<AddedAccount> {
    const a = parseOwnedAddress(user.address);
    const address = formatAddress(a);
    if (!(await this.directory.hasDomain(a.domain))) throw new MailError('NONEXISTENT', `no such domain: ${a.domain}`);
    if (await this.directory.getAccount(address)) throw new MailError('ALREADYEXISTS', `account ${address} exists already`);
    if (await this.directory.getAlias(address)) throw new MailError('ALREADYEXISTS', `${address} is an alias already`);
    checkPassword(user.password, address, user.allowWeak === true);
    const records = await passwordRecords(user.password);
    return this.stores.transaction(async (tx) => {
      const account = await tx.directory.addAccount({ address, ...records, quota: user.quota ?? null });
      const oldFilesMovedTo = await this.provisionNew(tx, account);
      await audit(tx, this.actor, 'account.add', address, null, { address, quota: account.quota, disabled: false });
      return { account, oldFilesMovedTo };
    });
  }

  /** Makes a new account's Maildir; whatever an earlier account of the address left there is moved aside first. */
  private async provisionNew(tx: UnitOfWork, account: AccountRecord): Promise<string | undefined> {
    const movedTo = await this.files.setAside(account);
    await tx.mail.provisionAccount(account.id);
    return movedTo;
  }

  async setPassword(addressInput: string, password: string, allowWeak: boolean): Promise<void> {
    const address = (await this.existingAccount(addressInput)).address;
    checkPassword(password, address, allowWeak);
    const records = await passwordRecords(password);
    await this.stores.transaction(async (tx) => {
      await tx.directory.setPassword(address, records.passwordHash, records.scramSha256);
      // Browser sessions of the old password end with it.
      await tx.admin.removeCredentialsOf({ kind: 'user', name: address });
      await audit(tx, this.actor, 'account.password', address, null, null);
    });
  }

  async setDisabled(addressInput: string, disabled: boolean): Promise<void> {
    const account = await this.existingAccount(addressInput);
    await this.stores.transaction(async (tx) => {
      await tx.directory.setDisabled(account.address, disabled);
      if (disabled) await tx.admin.removeCredentialsOf({ kind: 'user', name: account.address });
      await audit(tx, this.actor, disabled ? 'account.disable' : 'account.enable', account.address, { disabled: account.disabled }, { disabled });
    });
  }

  async setQuota(addressInput: string, quota: number | null): Promise<void> {
    if (quota !== null && (!Number.isSafeInteger(quota) || quota < 0)) throw new MailError('BADINPUT', `invalid quota ${quota} (bytes, or none)`);
    const account = await this.existingAccount(addressInput);
    await this.stores.transaction(async (tx) => {
      await tx.directory.setQuota(account.address, quota);
      await audit(tx, this.actor, 'account.quota', account.address, { quota: account.quota }, { quota });
    });
  }

  /**
   * Removes the account. Its Maildir and Sieve scripts are set aside under
   * DIR/removed/ (see storage/account-files.ts) unless `purge`; either way
   * only after the index no longer knows the account, so nothing delivers
   * into them any more.
   */
  async removeUser(addressInput: string, options: RemoveOptions = {}): Promise<RemovedAccount> {
    const account = await this.existingAccount(addressInput);
    const orphaned = await this.aliasesLeftEmpty(account.address, () => true);
    let role: AliasRecord | undefined;
    for (const a of orphaned) if (!role && (await this.isRoleAddress(a.address))) role = a;
    if (role) {
      throw new MailError('REFUSED', `${account.address} is the last target of ${role.address}; point it elsewhere first`);
    }
    await this.stores.transaction(async (tx) => {
      await this.forgetAccount(tx, account);
      await audit(tx, this.actor, 'account.remove', account.address, { address: account.address, quota: account.quota, disabled: account.disabled }, null);
    });
    return (await this.disposeFiles([account], options.purge === true))[0]!;
  }

  /** Inside a unit of work: the account and its mail leave the index (the files stay). */
  private async forgetAccount(tx: UnitOfWork, account: AccountRecord): Promise<void> {
    await tx.mail.deleteAccountMail(account.id);
    await tx.directory.removeAccount(account.address);
    await tx.admin.removeCredentialsOf({ kind: 'user', name: account.address });
  }

  /** After the removal committed: every account's files set aside or purged, as far as possible. */
  private async disposeFiles(accounts: AccountRecord[], purge: boolean): Promise<RemovedAccount[]> {
    const done: RemovedAccount[] = [];
    const failed: string[] = [];
    for (const account of accounts) {
      try {
        let keptIn: string | undefined;
        if (purge) await this.files.purge(account);
        else keptIn = await this.files.setAside(account);
        done.push({ address: account.address, keptIn, purged: purge });
      } catch (err) {
        failed.push(`${account.address}: ${(err as Error).message}`);
      }
    }
    if (failed.length > 0) {
      const who = failed.length === 1 ? 'the account is' : 'the accounts are';
      throw new MailError('TEMPFAIL', `${who} removed, but ${failed.join('; ')} (a later user add of the address moves them aside)`);
    }
    return done;
  }

  /**
   * Aliases that name the account as a target (also as user+detail@), with
   * how many other reachable targets each has: for `user remove` to warn about. Such an
   * alias keeps working for its other targets, and the senders of its mail
   * get a DSN for this one once the account is gone.
   */
  async aliasesTargeting(addressInput: string): Promise<Array<{ alias: string; otherTargets: number }>> {
    const address = (await this.existingAccount(addressInput)).address;
    const at = address.lastIndexOf('@');
    const names = (t: string) => {
      const tat = t.lastIndexOf('@');
      return t === address || (t.slice(tat) === address.slice(at) && splitSubaddress(t.slice(0, tat)).user === address.slice(0, at));
    };
    const out: Array<{ alias: string; otherTargets: number }> = [];
    for (const a of await this.directory.listAliases()) {
      if (!a.targets.some(names)) continue;
      let otherTargets = 0;
      for (const t of a.targets) if (!names(t) && (await this.targetReachable(t))) otherTargets++;
      out.push({ alias: a.address, otherTargets });
    }
    return out;
  }

  async listUsers(): Promise<Array<{ address: string; quota: number | null; disabled: boolean }>> {
    return (await this.directory.listAccounts()).map((a) => ({ address: a.address, quota: a.quota, disabled: a.disabled }));
  }

  /** The account of an address (any case of the local part); NONEXISTENT when there is none. */
  account(addressInput: string): Promise<AccountRecord> {
    return this.existingAccount(addressInput);
  }

  private async existingAccount(addressInput: string): Promise<AccountRecord> {
    const a = parseAddress(addressInput);
    const address = formatAddress({ local: a.local.toLowerCase(), domain: a.domain });
    const account = await this.directory.getAccount(address);
    if (!account) throw new MailError('NONEXISTENT', `no such account: ${address}`);
    return account;
  }

  // ---- aliases -----------------------------------------------------------------

  async addAlias(addressInput: string, targetInputs: string[]): Promise<void> {
    const { address, targets } = await this.checkedAlias(addressInput, targetInputs);
    const before = await this.directory.getAlias(address);
    await this.stores.transaction(async (tx) => {
      await tx.directory.addAliasTargets(address, targets);
      const after = await tx.directory.getAlias(address);
      await audit(tx, this.actor, 'alias.add', address, before ? { targets: before.targets } : null, after ? { targets: after.targets } : null);
    });
  }

  /** Creates the alias or replaces all its targets (the admin API's PUT), by addAlias's rules. */
  async setAlias(addressInput: string, targetInputs: string[]): Promise<{ address: string; targets: string[] }> {
    const { address, targets } = await this.checkedAlias(addressInput, targetInputs);
    const before = await this.directory.getAlias(address);
    return this.stores.transaction(async (tx) => {
      if (before) await tx.directory.removeAliasTargets(address);
      await tx.directory.addAliasTargets(address, targets);
      const after = (await tx.directory.getAlias(address))!;
      await audit(tx, this.actor, 'alias.put', address, before ? { targets: before.targets } : null, { targets: after.targets });
      return { address: after.address, targets: after.targets };
    });
  }

  /** The alias address and its targets, normalized, when addAlias's rules take them. */
  private async checkedAlias(addressInput: string, targetInputs: string[]): Promise<{ address: string; targets: string[] }> {
    if (targetInputs.length === 0) throw new MailError('BADINPUT', 'an alias needs at least one target');
    const a = parseOwnedAddress(addressInput);
    const address = formatAddress(a);
    if (!(await this.directory.hasDomain(a.domain))) throw new MailError('NONEXISTENT', `no such domain: ${a.domain}`);
    if (await this.directory.getAccount(address)) throw new MailError('ALREADYEXISTS', `${address} is an account; an alias cannot shadow it`);
    const targets: string[] = [];
    for (const t of targetInputs) {
      const p = parseAddress(t);
      const target = formatAddress({ local: p.local.toLowerCase(), domain: p.domain });
      if (target === address) throw new MailError('BADINPUT', `${address} cannot be its own target`);
      if ((await this.directory.hasDomain(p.domain)) && !(await this.localTargetExists(target))) {
        throw new MailError('NONEXISTENT', `no such local account or alias: ${target}`);
      }
      targets.push(target);
    }
    return { address, targets };
  }

  /** Removes the alias, or only the given targets; never leaves postmaster@/abuse@ without one. */
  async removeAlias(addressInput: string, targetInputs: string[] = []): Promise<void> {
    const a = parseAddress(addressInput);
    const address = formatAddress({ local: a.local.toLowerCase(), domain: a.domain });
    const alias = await this.directory.getAlias(address);
    if (!alias) throw new MailError('NONEXISTENT', `no such alias: ${address}`);
    const targets = targetInputs.map((t) => t.toLowerCase());
    const remaining = targets.length === 0 ? [] : alias.targets.filter((t) => !targets.includes(t));
    if (remaining.length === 0 && (await this.isRoleAddress(address))) {
      throw new MailError('REFUSED', `${address} is required (RFC 2142) and must keep at least one target`);
    }
    await this.stores.transaction(async (tx) => {
      await tx.directory.removeAliasTargets(address, targets.length === 0 ? undefined : targets);
      const after = await tx.directory.getAlias(address);
      await audit(tx, this.actor, 'alias.remove', address, { targets: alias.targets }, after ? { targets: after.targets } : null);
    });
  }

  async listAliases(): Promise<Array<{ address: string; targets: string[] }>> {
    return (await this.directory.listAliases()).map((a) => ({ address: a.address, targets: a.targets }));
  }

  // ---- rules -----------------------------------------------------------------------

  private async isRoleAddress(address: string): Promise<boolean> {
    const at = address.lastIndexOf('@');
    return (ROLE_LOCALPARTS as readonly string[]).includes(address.slice(0, at)) && (await this.directory.hasDomain(address.slice(at + 1)));
  }

  /** A remote target, or a local one that exists. */
  private async targetReachable(address: string): Promise<boolean> {
    return !(await this.directory.hasDomain(address.slice(address.lastIndexOf('@') + 1))) || (await this.localTargetExists(address));
  }

  private async localTargetExists(address: string): Promise<boolean> {
    if ((await this.directory.getAccount(address)) || (await this.directory.getAlias(address))) return true;
    const at = address.lastIndexOf('@');
    const { user, detail } = splitSubaddress(address.slice(0, at));
    if (detail === undefined) return false;
    const base = `${user}${address.slice(at)}`;
    return (await this.directory.getAccount(base)) !== undefined || (await this.directory.getAlias(base)) !== undefined;
  }

  /** Aliases that would have no target left if targets matching `gone` disappeared. */
  private async aliasesLeftEmpty(target: string, gone: (t: string) => boolean): Promise<AliasRecord[]> {
    return (await this.directory.listAliases()).filter((a) => a.targets.includes(target) && a.targets.every((t) => t === target && gone(t)));
  }
}
