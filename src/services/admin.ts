// What administrators do to domains, accounts and aliases, with the rules
// that keep a mail system sane (RFC 2142 postmaster@ and abuse@, no alias
// shadowing an account, no dangling local targets). The CLI and the admin
// HTTP API both call this; it changes everything of one request or nothing.
import type { AccountRecord, AliasRecord, Directory } from '../../storage/ports.js';
import type { MailStore } from '../../storage/ports.js';
import type { AccountFiles } from '../../storage/account-files.js';
import { MailError } from '../../storage/errors.js';
import { formatAddress, normalizeDomain, parseAddress, parseOwnedAddress, splitSubaddress } from '../addresses.js';
import { checkPassword } from '../auth/password-policy.js';
import { passwordRecords } from '../auth/password.js';

/** RFC 2142 addresses every domain must have. */
export const ROLE_LOCALPARTS = ['postmaster', 'abuse'] as const;

export interface AdminStores {
  directory: Directory;
  mail: MailStore;
  /** Removed accounts' Maildirs and scripts (set aside or purged). */
  files: AccountFiles;
}

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
  constructor(private readonly stores: AdminStores) {}

  private get directory(): Directory {
    return this.stores.directory;
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
    if (this.directory.hasDomain(domain)) throw new MailError('ALREADYEXISTS', `domain ${domain} exists already`);
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
    } else if (this.directory.hasDomain(target.domain) && !this.localTargetExists(targetAddr)) {
      throw new MailError('NONEXISTENT', `no such account or alias: ${targetAddr}`);
    }
    let oldFilesMovedTo: string | undefined;
    this.directory.transaction(() => {
      this.directory.addDomain(domain);
      const created = records && this.directory.addAccount({ address: targetAddr, ...records, quota: null });
      for (const role of ROLE_LOCALPARTS) {
        const roleAddr = `${role}@${domain}`;
        if (roleAddr !== targetAddr) this.directory.addAliasTargets(roleAddr, [targetAddr]);
      }
      if (created) oldFilesMovedTo = this.provisionNew(created);
    });
    return { oldFilesMovedTo };
  }

  /**
   * Removes the domain with its aliases and accounts; each account's files
   * are set aside (or purged), as `removeUser` does. Refused while an alias
   * of another domain points into it: once the domain is not local, that
   * target would become a forward to wherever the domain's MX is.
   */
  removeDomain(domainInput: string, options: RemoveOptions = {}): RemovedAccount[] {
    const domain = normalizeDomain(domainInput);
    if (!this.directory.hasDomain(domain)) throw new MailError('NONEXISTENT', `no such domain: ${domain}`);
    const inDomain = (address: string) => address.slice(address.lastIndexOf('@') + 1) === domain;
    const pointing = this.directory.listAliases().filter((a) => !inDomain(a.address) && a.targets.some(inDomain));
    if (pointing.length > 0) {
      const first = pointing[0]!;
      const more = pointing.length > 1 ? ` (and ${pointing.length - 1} more alias(es))` : '';
      throw new MailError('REFUSED', `${first.address} points to ${first.targets.find(inDomain)}${more}; change or remove it first`);
    }
    const accounts = this.directory.listAccounts().filter((a) => a.domain === domain);
    this.directory.transaction(() => {
      for (const account of accounts) this.forgetAccount(account);
      this.directory.removeDomain(domain);
    });
    return this.disposeFiles(accounts, options.purge === true);
  }

  listDomains(): Array<{ domain: string }> {
    return this.directory.listDomains().map((d) => ({ domain: d.name }));
  }

  // ---- accounts --------------------------------------------------------------

  async addUser(user: NewUser): Promise<AddedAccount> {
    const a = parseOwnedAddress(user.address);
    const address = formatAddress(a);
    if (!this.directory.hasDomain(a.domain)) throw new MailError('NONEXISTENT', `no such domain: ${a.domain}`);
    if (this.directory.getAccount(address)) throw new MailError('ALREADYEXISTS', `account ${address} exists already`);
    if (this.directory.getAlias(address)) throw new MailError('ALREADYEXISTS', `${address} is an alias already`);
    checkPassword(user.password, address, user.allowWeak === true);
    const records = await passwordRecords(user.password);
    return this.directory.transaction(() => {
      const account = this.directory.addAccount({ address, ...records, quota: user.quota ?? null });
      return { account, oldFilesMovedTo: this.provisionNew(account) };
    });
  }

  /** Makes a new account's Maildir; whatever an earlier account of the address left there is moved aside first. */
  private provisionNew(account: AccountRecord): string | undefined {
    const movedTo = this.stores.files.setAside(account);
    this.stores.mail.provisionAccount(account.id);
    return movedTo;
  }

  async setPassword(addressInput: string, password: string, allowWeak: boolean): Promise<void> {
    const address = this.existingAccount(addressInput).address;
    checkPassword(password, address, allowWeak);
    const records = await passwordRecords(password);
    this.directory.setPassword(address, records.passwordHash, records.scramSha256);
  }

  setDisabled(addressInput: string, disabled: boolean): void {
    this.directory.setDisabled(this.existingAccount(addressInput).address, disabled);
  }

  setQuota(addressInput: string, quota: number | null): void {
    this.directory.setQuota(this.existingAccount(addressInput).address, quota);
  }

  /**
   * Removes the account. Its Maildir and Sieve scripts are set aside under
   * DIR/removed/ (see storage/account-files.ts) unless `purge`; either way
   * only after the index no longer knows the account, so nothing delivers
   * into them any more.
   */
  removeUser(addressInput: string, options: RemoveOptions = {}): RemovedAccount {
    const account = this.existingAccount(addressInput);
    const orphaned = this.aliasesLeftEmpty(account.address, () => true);
    const role = orphaned.find((a) => this.isRoleAddress(a.address));
    if (role) {
      throw new MailError('REFUSED', `${account.address} is the last target of ${role.address}; point it elsewhere first`);
    }
    this.directory.transaction(() => this.forgetAccount(account));
    return this.disposeFiles([account], options.purge === true)[0]!;
  }

  /** Inside a transaction: the account and its mail leave the index (the files stay). */
  private forgetAccount(account: AccountRecord): void {
    this.stores.mail.deleteAccountMail(account.id);
    this.directory.removeAccount(account.address);
  }

  /** After the removal committed: every account's files set aside or purged, as far as possible. */
  private disposeFiles(accounts: AccountRecord[], purge: boolean): RemovedAccount[] {
    const done: RemovedAccount[] = [];
    const failed: string[] = [];
    for (const account of accounts) {
      try {
        let keptIn: string | undefined;
        if (purge) this.stores.files.purge(account);
        else keptIn = this.stores.files.setAside(account);
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
  aliasesTargeting(addressInput: string): Array<{ alias: string; otherTargets: number }> {
    const address = this.existingAccount(addressInput).address;
    const at = address.lastIndexOf('@');
    const names = (t: string) => {
      const tat = t.lastIndexOf('@');
      return t === address || (t.slice(tat) === address.slice(at) && splitSubaddress(t.slice(0, tat)).user === address.slice(0, at));
    };
    return this.directory
      .listAliases()
      .filter((a) => a.targets.some(names))
      .map((a) => ({ alias: a.address, otherTargets: a.targets.filter((t) => !names(t) && this.targetReachable(t)).length }));
  }

  listUsers(): Array<{ address: string; quota: number | null; disabled: boolean }> {
    return this.directory.listAccounts().map((a) => ({ address: a.address, quota: a.quota, disabled: a.disabled }));
  }

  private existingAccount(addressInput: string): AccountRecord {
    const a = parseAddress(addressInput);
    const address = formatAddress({ local: a.local.toLowerCase(), domain: a.domain });
    const account = this.directory.getAccount(address);
    if (!account) throw new MailError('NONEXISTENT', `no such account: ${address}`);
    return account;
  }

  // ---- aliases -----------------------------------------------------------------

  addAlias(addressInput: string, targetInputs: string[]): void {
    if (targetInputs.length === 0) throw new MailError('BADINPUT', 'an alias needs at least one target');
    const a = parseOwnedAddress(addressInput);
    const address = formatAddress(a);
    if (!this.directory.hasDomain(a.domain)) throw new MailError('NONEXISTENT', `no such domain: ${a.domain}`);
    if (this.directory.getAccount(address)) throw new MailError('ALREADYEXISTS', `${address} is an account; an alias cannot shadow it`);
    const targets = targetInputs.map((t) => {
      const p = parseAddress(t);
      const target = formatAddress({ local: p.local.toLowerCase(), domain: p.domain });
      if (target === address) throw new MailError('BADINPUT', `${address} cannot be its own target`);
      if (this.directory.hasDomain(p.domain) && !this.localTargetExists(target)) {
        throw new MailError('NONEXISTENT', `no such local account or alias: ${target}`);
      }
      return target;
    });
    this.directory.transaction(() => this.directory.addAliasTargets(address, targets));
  }

  /** Removes the alias, or only the given targets; never leaves postmaster@/abuse@ without one. */
  removeAlias(addressInput: string, targetInputs: string[] = []): void {
    const a = parseAddress(addressInput);
    const address = formatAddress({ local: a.local.toLowerCase(), domain: a.domain });
    const alias = this.directory.getAlias(address);
    if (!alias) throw new MailError('NONEXISTENT', `no such alias: ${address}`);
    const targets = targetInputs.map((t) => t.toLowerCase());
    const remaining = targets.length === 0 ? [] : alias.targets.filter((t) => !targets.includes(t));
    if (remaining.length === 0 && this.isRoleAddress(address)) {
      throw new MailError('REFUSED', `${address} is required (RFC 2142) and must keep at least one target`);
    }
    this.directory.transaction(() => this.directory.removeAliasTargets(address, targets.length === 0 ? undefined : targets));
  }

  listAliases(): Array<{ address: string; targets: string[] }> {
    return this.directory.listAliases().map((a) => ({ address: a.address, targets: a.targets }));
  }

  // ---- rules -----------------------------------------------------------------------

  private isRoleAddress(address: string): boolean {
    const at = address.lastIndexOf('@');
    return (ROLE_LOCALPARTS as readonly string[]).includes(address.slice(0, at)) && this.directory.hasDomain(address.slice(at + 1));
  }

  /** A remote target, or a local one that exists. */
  private targetReachable(address: string): boolean {
    return !this.directory.hasDomain(address.slice(address.lastIndexOf('@') + 1)) || this.localTargetExists(address);
  }

  private localTargetExists(address: string): boolean {
    if (this.directory.getAccount(address) || this.directory.getAlias(address)) return true;
    const at = address.lastIndexOf('@');
    const { user, detail } = splitSubaddress(address.slice(0, at));
    if (detail === undefined) return false;
    const base = `${user}${address.slice(at)}`;
    return this.directory.getAccount(base) !== undefined || this.directory.getAlias(base) !== undefined;
  }

  /** Aliases that would have no target left if targets matching `gone` disappeared. */
  private aliasesLeftEmpty(target: string, gone: (t: string) => boolean): AliasRecord[] {
    return this.directory.listAliases().filter((a) => a.targets.includes(target) && a.targets.every((t) => t === target && gone(t)));
  }
}
