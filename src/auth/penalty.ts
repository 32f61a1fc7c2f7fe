// The auth penalty (after Dovecot's auth_failure_delay and anvil penalty):
// a client address that keeps failing gets slower answers, growing from 2 s
// and doubling per failure up to 15 s. Nothing is ever refused, so failures
// from one address never lock an account for anyone else, and a right
// password from an address that has not been failing is checked at once.
//
// Two waits, both timers (never a blocking sleep):
// - the failure reply waits out the delay, so one session guesses slowly;
// - any attempt from that address is checked only once the delay is over,
//   even a right password: otherwise a client could send a guess, drop the
//   connection when no answer came quickly, and learn "wrong" for free.
//
// A success does not clear an address's count: whoever holds one account
// could otherwise reset it between guesses at others. The count only sizes
// the next delay; it never refuses anything.
//
// In-memory and per process; every protocol that authenticates shares the
// one Authenticator (and so the one table) of its process.
import { isIPv4, isIPv6 } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PenaltyOptions {
  /** Delay after the first failure from an address; doubles with each further one. */
  firstDelayMs: number;
  /** The most any reply waits. */
  maxDelayMs: number;
  /** An address that has not failed for this long starts again from the first delay. */
  forgetAfterMs: number;
  /** Addresses remembered at most (the least recently failing are forgotten first). */
  maxSources: number;
}

export const DEFAULT_PENALTY: PenaltyOptions = {
  firstDelayMs: 2_000,
  maxDelayMs: 15_000,
  // Dovecot's anvil keeps a penalty for an hour.
  forgetAfterMs: 60 * 60_000,
  // About 100 bytes each: some 10 MB when an attacker sprays many addresses.
  maxSources: 100_000,
};

/** Failed logins a session may make before it is closed (Dovecot closes after 3). */
export const MAX_AUTH_FAILURES_PER_SESSION = 3;

interface Source {
  failures: number;
  lastFailure: number;
  /** Attempts from this source are not checked before this time. */
  until: number;
}

/**
 * The key a client address is counted under: an IPv4 address itself, an
 * IPv6 address by its /64 (one subscriber usually holds a whole /64), an
 * IPv4-mapped IPv6 address as the IPv4 address.
 */
export function penaltySource(ip: string | undefined): string {
  if (ip === undefined || ip === '') return 'unknown';
  const zoneless = ip.split('%', 1)[0]!;
  if (isIPv4(zoneless)) return zoneless;
  if (!isIPv6(zoneless)) return zoneless.slice(0, 64);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(zoneless);
  if (mapped) return mapped[1]!;
  return `${ipv6Groups(zoneless).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, as lowercase hex without leading zeros. */
function ipv6Groups(ip: string): string[] {
  const split = (part: string | undefined): string[] => {
    if (part === undefined || part === '') return [];
    const groups = part.split(':');
    const last = groups[groups.length - 1]!;
    if (last.includes('.')) {
      // An embedded IPv4 address is the last two groups.
      const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
      groups.splice(-1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
    }
    return groups;
  };
  const [head, tail] = ip.split('::', 2);
  const front = split(head);
  const back = split(tail);
  const zeros = tail === undefined ? [] : new Array<string>(8 - front.length - back.length).fill('0');
  return [...front, ...zeros, ...back].map((g) => parseInt(g, 16).toString(16));
}

export class AuthPenalty {
  private readonly options: PenaltyOptions;
  // Map order is the order of last failure: re-inserted on each one.
  private readonly sources = new Map<string, Source>();

  constructor(
    options: Partial<PenaltyOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...DEFAULT_PENALTY, ...options };
  }

  /** How long an attempt from this address must wait before it is checked (0: at once). */
  waitBefore(ip: string | undefined): number {
    const source = this.lookup(penaltySource(ip));
    // Bounded even if the clock stepped back.
    return source === undefined ? 0 : Math.min(Math.max(0, source.until - this.now()), this.options.maxDelayMs);
  }

  /** Counts a failure; returns how long its reply must wait. */
  recordFailure(ip: string | undefined): number {
    const key = penaltySource(ip);
    const now = this.now();
    const previous = this.lookup(key);
    const failures = (previous?.failures ?? 0) + 1;
    const delay = Math.min(this.options.firstDelayMs * 2 ** Math.min(failures - 1, 30), this.options.maxDelayMs);
    const until = Math.max(previous?.until ?? 0, now + delay);
    this.sources.delete(key);
    this.forgetOld(now);
    this.sources.set(key, { failures, lastFailure: now, until });
    return Math.min(until - now, this.options.maxDelayMs);
  }

  /** Failures counted for this address (for tests and diagnostics). */
  failures(ip: string | undefined): number {
    return this.lookup(penaltySource(ip))?.failures ?? 0;
  }

  get size(): number {
    return this.sources.size;
  }

  /** Waits before an attempt from this address may be checked: a timer, other sessions go on. */
  async beforeAttempt(ip: string | undefined): Promise<void> {
    const ms = this.waitBefore(ip);
    if (ms > 0) await sleep(ms, undefined, { ref: false });
  }

  /** Counts a failure and waits out its delay before the reply is sent. */
  async afterFailure(ip: string | undefined): Promise<void> {
    const ms = this.recordFailure(ip);
    if (ms > 0) await sleep(ms, undefined, { ref: false });
  }

  private lookup(key: string): Source | undefined {
    const source = this.sources.get(key);
    if (source !== undefined && this.now() - source.lastFailure > this.options.forgetAfterMs) {
      this.sources.delete(key);
      return undefined;
    }
    return source;
  }

  /** Drops expired sources from the front (the oldest), then the oldest while over the bound. */
  private forgetOld(now: number): void {
    for (const [key, source] of this.sources) {
      const expired = now - source.lastFailure > this.options.forgetAfterMs;
      if (!expired && this.sources.size < this.options.maxSources) break;
      this.sources.delete(key);
    }
  }
}
