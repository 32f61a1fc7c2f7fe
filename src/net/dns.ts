// The one DNS resolver of the server. Everything that asks DNS (SPF, DKIM,
// DMARC, ARC via mailauth; MX lookups for outbound; `postino dns check`)
// takes a DnsResolver so tests can point it at the in-process fixture server
// (test/support/dns-fixture.ts) instead of the network.
//
// A DnsResolver has the shape mailauth expects for its `resolver` option and
// behaves like node's dns.promises.resolve(name, rrtype): the same result
// shapes (A/AAAA: string[]; MX: {exchange, priority}[]; TXT: string[][];
// PTR/CNAME/NS: string[]) and the same error codes (ENOTFOUND for NXDOMAIN,
// ENODATA for an empty answer, ETIMEOUT, ESERVFAIL, ECONNREFUSED, ...).
import { promises as dnsPromises } from 'node:dns';
import { isIP } from 'node:net';
import { TtlCache } from '../ttl-cache.js';

export type DnsResolver = (name: string, rrtype: string) => Promise<any[]>;

export interface DnsResolverOptions {
  /** Time allowed for one query, all retries included (ms). Default 5000. */
  timeoutMs?: number;
  /**
   * How long answers (positive, NXDOMAIN and NODATA) are reused (ms).
   * Temporary errors are never cached. Default 60000; 0 disables the cache.
   * This is a cap, not the record's TTL: node's resolver does not report TTLs
   * for most types, and a short cap keeps the server honest to zone changes.
   */
  cacheTtlMs?: number;
  /** Entries kept in the cache before the oldest are dropped. Default 2000. */
  cacheMaxEntries?: number;
}

/** Codes that mean "the answer is: nothing there", which may be cached. */
const NEGATIVE_CODES = new Set(['ENOTFOUND', 'ENODATA']);

const SUPPORTED_TYPES = new Set(['A', 'AAAA', 'ANY', 'CAA', 'CNAME', 'MX', 'NAPTR', 'NS', 'PTR', 'SOA', 'SRV', 'TXT']);

export class DnsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DnsConfigError';
  }
}

/** An error shaped like node's DNS errors (code, syscall, hostname). */
function dnsError(code: string, name: string, syscall: string): NodeJS.ErrnoException & { hostname: string } {
  const err = new Error(`${syscall} ${code} ${name}`) as NodeJS.ErrnoException & { hostname: string };
  err.code = code;
  err.syscall = syscall;
  err.hostname = name;
  return err;
}

function copyError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const e = err as NodeJS.ErrnoException & { hostname?: string };
  const copy = new Error(e.message) as NodeJS.ErrnoException & { hostname?: string };
  if (e.code !== undefined) copy.code = e.code;
  if (e.syscall !== undefined) copy.syscall = e.syscall;
  if (e.hostname !== undefined) copy.hostname = e.hostname;
  return copy;
}

/**
 * Normalises configured servers to the forms Resolver.setServers accepts:
 * 'IP', 'IP:PORT', '[IPv6]' and '[IPv6]:PORT'. Host names are refused: a
 * resolver cannot need DNS to find itself.
 */
export function normaliseServers(servers: readonly string[]): string[] {
  return servers.map((raw) => {
    const s = raw.trim();
    const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(s);
    if (bracketed) {
      const ip = bracketed[1] ?? '';
      if (isIP(ip) !== 6) throw new DnsConfigError(`dns server ${JSON.stringify(raw)}: not an IPv6 address`);
      checkPort(raw, bracketed[2]);
      return s;
    }
    if (isIP(s) !== 0) return s; // a bare IPv4 or IPv6 address
    const hostPort = /^([^:]+):(\d{1,5})$/.exec(s);
    if (hostPort && isIP(hostPort[1] ?? '') === 4) {
      checkPort(raw, hostPort[2]);
      return s;
    }
    if (hostPort?.[1] === 'localhost') {
      checkPort(raw, hostPort[2]);
      return `127.0.0.1:${hostPort[2]}`;
    }
    if (s === 'localhost') return '127.0.0.1';
    throw new DnsConfigError(`dns server ${JSON.stringify(raw)}: expected IP or IP:PORT ([IPv6]:PORT)`);
  });
}

function checkPort(raw: string, port: string | undefined): void {
  if (port === undefined) return;
  const n = Number(port);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new DnsConfigError(`dns server ${JSON.stringify(raw)}: bad port`);
}

/** A cached answer: the records, or the NXDOMAIN/NODATA error. */
interface CacheEntry {
  value?: any[];
  error?: NodeJS.ErrnoException;
}

/**
 * Makes a resolver. With no servers it uses the system's (resolv.conf);
 * otherwise only the given ones, e.g. ['127.0.0.1:5353'].
 */
export function createDnsResolver(servers: readonly string[], options: DnsResolverOptions = {}): DnsResolver {
  const timeoutMs = options.timeoutMs ?? 5000;
  const cacheTtlMs = options.cacheTtlMs ?? 60_000;
  const cacheMax = options.cacheMaxEntries ?? 2000;

  // c-ares retries with a growing timeout; two tries of timeout/3 fit in the
  // hard bound below with room for the second server's attempt.
  const perTry = Math.max(200, Math.floor(timeoutMs / 3));
  const resolver = new dnsPromises.Resolver({ timeout: perTry, tries: 2 });
  if (servers.length > 0) resolver.setServers(normaliseServers(servers));

  const cache = new TtlCache<CacheEntry>(cacheTtlMs, cacheMax);
  const inflight = new Map<string, Promise<unknown[]>>();

  async function query(name: string, rrtype: string): Promise<any[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(dnsError('ETIMEOUT', name, `query${rrtype}`)), timeoutMs);
    });
    try {
      return (await Promise.race([resolver.resolve(name, rrtype) as Promise<any[]>, timeout])) as any[];
    } finally {
      clearTimeout(timer);
    }
  }

  return async function resolve(name: string, rrtype: string): Promise<any[]> {
    const type = String(rrtype || 'A').toUpperCase();
    if (!SUPPORTED_TYPES.has(type)) {
      const err = new TypeError(`unsupported DNS record type ${JSON.stringify(rrtype)}`) as TypeError & { code: string };
      err.code = 'ERR_INVALID_ARG_VALUE';
      throw err;
    }
    const host = String(name).replace(/\.$/, '');
    if (host.length === 0 || host.length > 253) throw dnsError('EBADNAME', host, `query${type}`);
    const key = `${type} ${host.toLowerCase()}`;

    const hit = cache.get(key);
    if (hit) {
      if (hit.error) throw copyError(hit.error);
      return structuredClone(hit.value ?? []);
    }

    // Concurrent identical questions (mailauth asks A and AAAA in parallel,
    // DMARC and SPF may both look at the same TXT) share one query.
    let pending = inflight.get(key);
    if (!pending) {
      pending = query(host, type).then(
        (value) => {
          cache.set(key, { value });
          return value;
        },
        (err: NodeJS.ErrnoException) => {
          if (err && typeof err.code === 'string' && NEGATIVE_CODES.has(err.code)) {
            cache.set(key, { error: err });
          }
          throw err;
        },
      );
      const p = pending;
      inflight.set(key, p);
      p.then(
        () => inflight.delete(key),
        () => inflight.delete(key),
      );
    }
    // Each caller gets its own copy of the answer and of the error: mailauth
    // writes onto errors (err.spfResult), and a cached or shared object must
    // never carry one check's verdict into another.
    try {
      return structuredClone(await pending) as any[];
    } catch (err) {
      throw copyError(err);
    }
  };
}

/** The eight 16-bit groups of an IPv6 address, in hex, with "::" and a trailing IPv4 part expanded. */
export function ipv6Groups(ip: string): string[] {
  let addr = ip.toLowerCase();
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  if (v4) {
    const o = (v4[2] ?? '').split('.').map(Number);
    const hex = (a = 0, b = 0): string => ((a << 8) | b).toString(16);
    addr = `${v4[1]}${hex(o[0], o[1])}:${hex(o[2], o[3])}`;
  }
  const [head = '', tail = ''] = addr.includes('::') ? addr.split('::') : [addr, ''];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  return [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
}

/** The name to ask for the PTR of an IP address (in-addr.arpa / ip6.arpa). */
export function reverseName(ip: string): string {
  const family = isIP(ip);
  if (family === 4) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  if (family === 6) {
    const groups = ipv6Groups(ip);
    const nibbles = groups.map((g) => g.padStart(4, '0')).join('');
    return `${nibbles.split('').reverse().join('.')}.ip6.arpa`;
  }
  throw new DnsConfigError(`not an IP address: ${ip}`);
}
