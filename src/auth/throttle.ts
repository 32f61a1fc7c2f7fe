// Failed-login throttling, per account and per client IP, in a sliding
// window. In-memory: every process that authenticates keeps its own.
export interface ThrottleLimits {
  windowMs: number;
  maxFailuresPerAccount: number;
  maxFailuresPerIp: number;
}

export const DEFAULT_THROTTLE: ThrottleLimits = {
  windowMs: 15 * 60 * 1000,
  maxFailuresPerAccount: 10,
  maxFailuresPerIp: 30,
};

const MAX_TRACKED_KEYS = 100_000;

export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limits: ThrottleLimits = DEFAULT_THROTTLE,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when another attempt for this account or from this IP must be refused now. */
  isBlocked(account: string, ip: string | undefined): boolean {
    return (
      this.count(`a:${account.toLowerCase()}`) >= this.limits.maxFailuresPerAccount ||
      (ip !== undefined && this.count(`i:${ip}`) >= this.limits.maxFailuresPerIp)
    );
  }

  recordFailure(account: string, ip: string | undefined): void {
    this.push(`a:${account.toLowerCase()}`);
    if (ip !== undefined) this.push(`i:${ip}`);
  }

  recordSuccess(account: string): void {
    this.failures.delete(`a:${account.toLowerCase()}`);
  }

  private count(key: string): number {
    const list = this.failures.get(key);
    if (!list) return 0;
    const cutoff = this.now() - this.limits.windowMs;
    while (list.length > 0 && list[0]! < cutoff) list.shift();
    if (list.length === 0) this.failures.delete(key);
    return list.length;
  }

  private push(key: string): void {
    if (this.failures.size >= MAX_TRACKED_KEYS && !this.failures.has(key)) {
      // Bounded memory under a spray of usernames: forget the oldest key.
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    const list = this.failures.get(key) ?? [];
    list.push(this.now());
    this.failures.set(key, list);
  }
}
