// Expands a recipient address through aliases to final destinations:
// local accounts and remote addresses. Nested aliases are followed with
// loop detection; a subaddress (user+tag@) reaches user@ when no alias or
// account has the full name.
import type { AccountRecord, Directory } from '../../storage/ports.js';
import { MailError } from '../../storage/errors.js';
import { splitSubaddress } from '../addresses.js';

export const MAX_ALIAS_DEPTH = 16;
export const MAX_ALIAS_EXPANSION = 1000;

export interface LocalDestination {
  account: AccountRecord;
  /** The subaddress detail, when the address was user+detail@. */
  detail: string | undefined;
  /** The address as it was when it reached this account (for Delivered-To). */
  address: string;
}

/** An alias target in a local domain that names no account or alias (any more). */
export interface DeadTarget {
  /** The missing address. */
  target: string;
  /** The alias that names it. */
  alias: string;
}

export interface Expansion {
  local: LocalDestination[];
  remote: string[];
  /** Targets that no longer exist: the live ones still get the mail. */
  dead: DeadTarget[];
}

/**
 * Addresses in a local domain that stand for another address without a
 * directory entry: a valid SRS address stands for the sender it was made
 * from (mx/hooks/srs-recipient.ts). Undefined for any other address.
 */
export type VirtualAlias = (address: string) => string | undefined;

export class AliasResolver {
  constructor(
    private readonly directory: Directory,
    private readonly virtual?: VirtualAlias,
  ) {}

  /** Whether the address is ours at all (an account, an alias, or a subaddress of one). */
  isLocalDomain(domain: string): Promise<boolean> {
    return this.directory.hasDomain(domain.toLowerCase());
  }

  /**
   * Expands the address. Throws NONEXISTENT for an unknown address in a local
   * domain or an alias none of whose targets exist any more, REFUSED (5.4.6)
   * when aliases only loop back on themselves. A missing target beside live
   * ones is listed in `dead`, not thrown: one removed account must not cost
   * the others their mail.
   */
  async expand(address: string): Promise<Expansion> {
    // Most recipients are an account or a remote address: answered without
    // the bookkeeping an alias tree needs (this runs twice per recipient, at
    // RCPT and at delivery). Anything else takes the full walk below.
    const top = address.toLowerCase();
    if (!(await this.directory.hasDomain(top.slice(top.lastIndexOf('@') + 1)))) return { local: [], remote: [address], dead: [] };
    const first = (await this.lookup(top)) ?? this.virtualAlias(address);
    if (!first) throw new MailError('NONEXISTENT', `no such user: ${address}`, { smtpCode: 550, enhanced: '5.1.1' });
    if (first.kind === 'account') return { local: [{ account: first.account, detail: first.detail, address: top }], remote: [], dead: [] };

    const out: Expansion = { local: [], remote: [], dead: [] };
    const seenAccounts = new Set<number>();
    const seenRemote = new Set<string>();
    const seenDead = new Set<string>();
    const visiting = new Set<string>([top]);
    let count = 1;

    const walk = async (addr: string, depth: number, via: string | undefined): Promise<void> => {
      const lower = addr.toLowerCase();
      if (++count > MAX_ALIAS_EXPANSION) throw new MailError('LIMIT', 'alias expansion is too large', { smtpCode: 554, enhanced: '5.4.6' });
      if (depth > MAX_ALIAS_DEPTH) throw new MailError('REFUSED', 'alias nesting is too deep', { smtpCode: 554, enhanced: '5.4.6' });
      if (visiting.has(lower)) return; // a loop: this branch adds nothing new
      const at = lower.lastIndexOf('@');
      const domain = lower.slice(at + 1);
      if (!(await this.directory.hasDomain(domain))) {
        if (!seenRemote.has(lower)) {
          seenRemote.add(lower);
          out.remote.push(addr);
        }
        return;
      }
      visiting.add(lower);
      try {
        const hit = (await this.lookup(lower)) ?? this.virtualAlias(addr);
        if (!hit) {
          if (via === undefined) throw new MailError('NONEXISTENT', `no such user: ${addr}`, { smtpCode: 550, enhanced: '5.1.1' });
          if (!seenDead.has(lower)) {
            seenDead.add(lower);
            out.dead.push({ target: lower, alias: via });
          }
          return;
        }
        if (hit.kind === 'account') {
          if (!seenAccounts.has(hit.account.id)) {
            seenAccounts.add(hit.account.id);
            out.local.push({ account: hit.account, detail: hit.detail, address: lower });
          }
          return;
        }
        for (const t of hit.targets) await walk(t, depth + 1, lower);
      } finally {
        visiting.delete(lower);
      }
    };

    for (const t of first.targets) await walk(t, 1, top);
    if (out.local.length === 0 && out.remote.length === 0) {
      if (out.dead.length > 0) throw new MailError('NONEXISTENT', `no target of ${address} exists any more`, { smtpCode: 550, enhanced: '5.1.1' });
      throw new MailError('REFUSED', `alias loop at ${address}`, { smtpCode: 554, enhanced: '5.4.6' });
    }
    return out;
  }

  private virtualAlias(address: string): { kind: 'alias'; targets: string[] } | undefined {
    const target = this.virtual?.(address);
    return target === undefined ? undefined : { kind: 'alias', targets: [target] };
  }

  private async lookup(
    address: string,
  ): Promise<{ kind: 'account'; account: AccountRecord; detail: string | undefined } | { kind: 'alias'; targets: string[] } | undefined> {
    const exact = await this.exact(address);
    if (exact) return exact.kind === 'account' ? { kind: 'account', account: exact.account, detail: undefined } : exact;
    const at = address.lastIndexOf('@');
    const { user, detail } = splitSubaddress(address.slice(0, at));
    if (detail === undefined) return undefined;
    const base = await this.exact(`${user}${address.slice(at)}`);
    if (!base) return undefined;
    return base.kind === 'account' ? { kind: 'account', account: base.account, detail } : base;
  }

  private async exact(address: string): Promise<{ kind: 'account'; account: AccountRecord } | { kind: 'alias'; targets: string[] } | undefined> {
    const account = await this.directory.getAccount(address);
    if (account) return { kind: 'account', account };
    const alias = await this.directory.getAlias(address);
    return alias ? { kind: 'alias', targets: alias.targets } : undefined;
  }
}
