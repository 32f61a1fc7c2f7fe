// Where the listeners bind: every service binds every configured address.
import { isIP } from 'node:net';

export interface ListenAddress {
  host: string;
  /**
   * Bind `::` to IPv6 only. Linux's `::` takes IPv4 as well by default, so
   * `["0.0.0.0", "::"]` would fail with EADDRINUSE on the second one; alone,
   * `::` keeps serving both families, as an administrator expects.
   */
  ipv6Only: boolean;
}

export function listenAddresses(hosts: readonly string[]): ListenAddress[] {
  return hosts.map((host) => ({ host, ipv6Only: hosts.length > 1 && isIP(host) === 6 && isUnspecifiedV6(host) }));
}

/** The first configured address: for code that binds once (tests, single-address helpers). */
export function firstListenAddress(hosts: readonly string[]): ListenAddress {
  return listenAddresses(hosts)[0] ?? { host: '127.0.0.1', ipv6Only: false };
}

function isUnspecifiedV6(host: string): boolean {
  return /^[0:]+$/.test(host);
}
