// Domains, accounts and aliases in memory, as storage/index/directory.ts
// keeps them in SQLite: addresses and domains compared without ASCII case,
// account ids never reused, records handed out frozen.
import type { AccountRecord, AliasRecord, Directory, DomainRecord, NewAccount } from '../ports.js';
import { MailError } from '../errors.js';
import type { MemAccount, MemoryState } from './state.js';
import type { Either } from '../unit-of-work.js';
import { byteOrder, foldCase } from './names.js';

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

function record(a: MemAccount): AccountRecord {
  return Object.freeze({ ...a });
}

export class MemoryDirectory implements Either<Directory> {
  constructor(private readonly state: MemoryState) {}

  addDomain(name: string): void {
    if (this.hasDomain(name)) throw new MailError('ALREADYEXISTS', `domain ${name} exists already`);
    this.state.domains.add(foldCase(name));
  }

  removeDomain(name: string): void {
    const domain = foldCase(name);
    const accounts = [...this.state.accounts.values()].filter((a) => foldCase(a.domain) === domain).length;
    if (accounts > 0) throw new MailError('REFUSED', `domain ${name} still has ${accounts} account(s); remove them first`);
    if (!this.state.domains.has(domain)) throw new MailError('NONEXISTENT', `no such domain: ${name}`);
    for (const alias of [...this.state.aliases.keys()]) if (domainOf(alias) === domain) this.state.aliases.delete(alias);
    this.state.domains.delete(domain);
  }

  hasDomain(name: string): boolean {
    return this.state.domains.has(foldCase(name));
  }

  listDomains(): DomainRecord[] {
    return [...this.state.domains].sort(byteOrder).map((name) => ({ name }));
  }

  addAccount(account: NewAccount): AccountRecord {
    const address = account.address.toLowerCase();
    const domain = domainOf(address);
    if (!this.hasDomain(domain)) throw new MailError('NONEXISTENT', `no such domain: ${domain}`);
    if (this.getAccount(address)) throw new MailError('ALREADYEXISTS', `account ${address} exists already`);
    if (this.getAlias(address)) throw new MailError('ALREADYEXISTS', `${address} is an alias already`);
    const created: MemAccount = {
      id: ++this.state.lastAccountId,
      address,
      domain,
      localpart: address.slice(0, address.lastIndexOf('@')),
      passwordHash: account.passwordHash,
      scramSha256: account.scramSha256,
      quota: account.quota,
      disabled: false,
    };
    this.state.accounts.set(created.id, created);
    return record(created);
  }

  private find(address: string): MemAccount | undefined {
    const key = foldCase(address);
    for (const a of this.state.accounts.values()) if (foldCase(a.address) === key) return a;
    return undefined;
  }

  getAccount(address: string): AccountRecord | undefined {
    const a = this.find(address);
    return a && record(a);
  }

  getAccountById(id: number): AccountRecord | undefined {
    const a = this.state.accounts.get(id);
    return a && record(a);
  }

  listAccounts(): AccountRecord[] {
    return [...this.state.accounts.values()]
      .sort((x, y) => byteOrder(foldCase(x.domain), foldCase(y.domain)) || byteOrder(x.localpart, y.localpart))
      .map(record);
  }

  private existing(address: string): MemAccount {
    const a = this.find(address);
    if (!a) throw new MailError('NONEXISTENT', `no such account: ${address}`);
    return a;
  }

  setPassword(address: string, passwordHash: string, scramSha256: string | null): void {
    const a = this.existing(address);
    a.passwordHash = passwordHash;
    a.scramSha256 = scramSha256;
  }

  setDisabled(address: string, disabled: boolean): void {
    this.existing(address).disabled = disabled;
  }

  setQuota(address: string, quota: number | null): void {
    this.existing(address).quota = quota;
  }

  removeAccount(address: string): void {
    const a = this.existing(address);
    // SQLite's foreign keys refuse it too: the mail index goes first (MailStore.deleteAccountMail).
    if ([...this.state.mailboxes.values()].some((m) => m.accountId === a.id)) {
      throw new MailError('INTERNAL', `account ${a.address} still has mailboxes in the index`);
    }
    this.state.scripts.delete(a.id);
    for (const map of [this.state.vacations, this.state.duplicates]) {
      for (const key of [...map.keys()]) if (key.startsWith(`${a.id}\0`)) map.delete(key);
    }
    this.state.accounts.delete(a.id);
  }

  addAliasTargets(address: string, targets: string[]): void {
    const alias = address.toLowerCase();
    const domain = domainOf(alias);
    if (!this.hasDomain(domain)) throw new MailError('NONEXISTENT', `no such domain: ${domain}`);
    if (this.getAccount(alias)) throw new MailError('ALREADYEXISTS', `${alias} is an account; an alias cannot shadow it`);
    if (targets.length === 0) return;
    const key = foldCase(alias);
    const set = this.state.aliases.get(key) ?? new Set<string>();
    for (const t of targets) set.add(foldCase(t.toLowerCase()));
    this.state.aliases.set(key, set);
  }

  removeAliasTargets(address: string, targets?: string[]): void {
    const key = foldCase(address);
    const set = this.state.aliases.get(key);
    if (!set) throw new MailError('NONEXISTENT', `no such alias: ${address}`);
    if (targets === undefined) {
      this.state.aliases.delete(key);
      return;
    }
    // One by one, as the SQLite backend: the targets before a missing one are gone.
    for (const t of targets) {
      if (!set.delete(foldCase(t))) {
        if (set.size === 0) this.state.aliases.delete(key);
        throw new MailError('NONEXISTENT', `${t} is not a target of ${address}`);
      }
    }
    if (set.size === 0) this.state.aliases.delete(key);
  }

  getAlias(address: string): AliasRecord | undefined {
    const key = foldCase(address);
    const set = this.state.aliases.get(key);
    if (!set) return undefined;
    return Object.freeze({ address: key, targets: Object.freeze([...set].sort(byteOrder)) as string[] });
  }

  listAliases(): AliasRecord[] {
    return [...this.state.aliases]
      .sort(([a], [b]) => byteOrder(domainOf(a), domainOf(b)) || byteOrder(a, b))
      .map(([address, set]) => ({ address, targets: [...set].sort(byteOrder) }));
  }
}
