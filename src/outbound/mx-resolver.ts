// Where a recipient domain's mail goes: its MX hosts by preference
// (RFC 5321 5.1), the domain itself when it has no MX (the implicit MX),
// nowhere when it publishes a null MX (RFC 7505), and the addresses of a host.
// Everything is asked through the one DnsResolver, so tests use the fixture.
import { isIP } from 'node:net';
import type { DnsResolver } from '../net/dns.js';

/** MX hosts tried per destination at most (a hostile zone may list thousands). */
export const MAX_MX_HOSTS = 10;
/** Addresses kept per host. */
export const MAX_ADDRESSES_PER_HOST = 4;

export type MxRoute =
  /** Host names in the order to try them; `implicit` when the domain had no MX and stands for itself. */
  | { kind: 'hosts'; hosts: string[]; implicit: boolean }
  /** RFC 7505: the domain accepts no mail. */
  | { kind: 'null-mx' }
  /** The domain does not exist, or has neither MX nor address. */
  | { kind: 'no-such-domain'; detail: string }
  /** SERVFAIL, timeout, refused...: ask again later. */
  | { kind: 'tempfail'; detail: string };

export type AddressLookup =
  | { kind: 'addresses'; addresses: string[] }
  /** The name has no A/AAAA record or does not exist. */
  | { kind: 'none'; detail: string }
  | { kind: 'tempfail'; detail: string };

/** "No such name" and "no record of that type": answers, not failures. */
function isNegative(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOTFOUND' || code === 'ENODATA';
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'error';
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/** A host name as an MX record gives it: lower case, no trailing dot ("" for the root, i.e. a null MX). */
function normaliseHost(exchange: unknown): string {
  return String(exchange ?? '').trim().replace(/\.$/, '').toLowerCase();
}

/**
 * The route of a domain. Hosts of the same preference are shuffled (RFC 5321
 * 5.1 asks to spread the load among them); lower preference first.
 */
export async function lookupMx(domain: string, resolver: DnsResolver): Promise<MxRoute> {
  const name = domain.toLowerCase();
  let records: Array<{ exchange: unknown; priority: unknown }>;
  try {
    records = await resolver(name, 'MX');
  } catch (err) {
    if (codeOf(err) === 'ENOTFOUND') return { kind: 'no-such-domain', detail: `${name}: no such domain (NXDOMAIN)` };
    if (codeOf(err) !== 'ENODATA') return { kind: 'tempfail', detail: `MX lookup for ${name}: ${codeOf(err)}` };
    records = [];
  }
  if (records.length === 0) {
    // RFC 5321 5.1: no MX, so the domain itself is the host, if it has an address.
    const own = await lookupAddresses(name, resolver);
    if (own.kind === 'tempfail') return { kind: 'tempfail', detail: own.detail };
    if (own.kind === 'none') return { kind: 'no-such-domain', detail: `${name}: no MX and no address record` };
    return { kind: 'hosts', hosts: [name], implicit: true };
  }
  // RFC 7505: "MX 0 ." (the root as the exchange). A domain that mixes it
  // with real hosts is misconfigured; the null MX still says "no mail here".
  if (records.some((r) => normaliseHost(r.exchange) === '')) return { kind: 'null-mx' };

  const byPreference = new Map<number, string[]>();
  for (const r of records) {
    const pref = Number.isInteger(r.priority) ? (r.priority as number) : 65535;
    const list = byPreference.get(pref) ?? [];
    list.push(normaliseHost(r.exchange));
    byPreference.set(pref, list);
  }
  const hosts: string[] = [];
  for (const pref of [...byPreference.keys()].sort((a, b) => a - b)) {
    for (const host of shuffle(byPreference.get(pref) ?? [])) if (!hosts.includes(host)) hosts.push(host);
  }
  return { kind: 'hosts', hosts: hosts.slice(0, MAX_MX_HOSTS), implicit: false };
}

/**
 * The addresses of a host: IPv4 first, then IPv6 (a machine without IPv6
 * routes fails fast on those, and most MX hosts answer on both).
 */
export async function lookupAddresses(host: string, resolver: DnsResolver): Promise<AddressLookup> {
  if (isIP(host)) return { kind: 'addresses', addresses: [host] };
  const results = await Promise.allSettled([resolver(host, 'A'), resolver(host, 'AAAA')]);
  const addresses: string[] = [];
  let temporary: string | undefined;
  for (const [i, r] of results.entries()) {
    const type = i === 0 ? 'A' : 'AAAA';
    if (r.status === 'fulfilled') {
      for (const a of r.value) if (typeof a === 'string' && isIP(a) && addresses.length < MAX_ADDRESSES_PER_HOST * 2) addresses.push(a);
    } else if (!isNegative(r.reason)) {
      temporary ??= `${type} lookup for ${host}: ${codeOf(r.reason)}`;
    }
  }
  if (addresses.length > 0) {
    const v4 = addresses.filter((a) => isIP(a) === 4);
    const v6 = addresses.filter((a) => isIP(a) === 6);
    return { kind: 'addresses', addresses: [...v4, ...v6].slice(0, MAX_ADDRESSES_PER_HOST) };
  }
  if (temporary) return { kind: 'tempfail', detail: temporary };
  return { kind: 'none', detail: `${host}: no address record` };
}

/** The domain of an address (after the last @), lower case; undefined when there is none. */
export function domainOf(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return undefined;
  return address.slice(at + 1).toLowerCase();
}

/** "[192.0.2.1]" or "[IPv6:2001:db8::1]" (a domain literal, RFC 5321 4.1.3) as the bare address. */
export function domainLiteral(domain: string): string | undefined {
  const m = /^\[(?:ipv6:)?([0-9a-f:.]{2,45})\]$/i.exec(domain);
  return m?.[1] && isIP(m[1]) ? m[1] : undefined;
}
