// The DNS records mail clients use to find their settings on their own:
// autoconfig.D (Thunderbird) and autodiscover.D (Outlook) pointing at this
// server's admin port, and the RFC 6186 / RFC 8314 SRV records naming the
// IMAP, POP3 and submission ports. They are advice: mail flows without them,
// so a missing or different record is a warning and never changes the exit
// code of `postino dns check`.
import type { DnsResolver } from '../net/dns.js';
import { canonicalName, lookup, lookupAddresses, shorten } from './dns-doctor-records.js';

/** The ports clients are told about (the configured ones; production uses the standard ones). */
export interface ClientPorts {
  imap: number;
  imaps: number;
  pop3: number;
  pop3s: number;
  submission: number;
  submissions: number;
}

export const STANDARD_CLIENT_PORTS: ClientPorts = { imap: 143, imaps: 993, pop3: 110, pop3s: 995, submission: 587, submissions: 465 };

export interface ClientRecordCheck {
  /** "autoconfig", "autodiscover" or the SRV owner's service label ("_imaps._tcp"). */
  record: string;
  /** Only ok or warning: these records are advice. */
  status: 'ok' | 'warning';
  detail: string;
  /** The zone file line to publish, or null. */
  publish: string | null;
}

interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** Implicit TLS preferred (RFC 8314 section 5.1): a lower priority number than the STARTTLS form. */
function srvWanted(ports: ClientPorts): Array<{ label: string; port: number; priority: number }> {
  return [
    { label: '_imaps._tcp', port: ports.imaps, priority: 0 },
    { label: '_imap._tcp', port: ports.imap, priority: 10 },
    { label: '_submissions._tcp', port: ports.submissions, priority: 0 },
    { label: '_submission._tcp', port: ports.submission, priority: 10 },
    { label: '_pop3s._tcp', port: ports.pop3s, priority: 0 },
    { label: '_pop3._tcp', port: ports.pop3, priority: 10 },
  ];
}

async function checkAlias(resolver: DnsResolver, domain: string, host: string, label: 'autoconfig' | 'autodiscover', hostAddresses: string[]): Promise<ClientRecordCheck> {
  const owner = `${label}.${domain}`;
  const publish = `${owner}. IN CNAME ${host}.`;
  const use = label === 'autoconfig' ? 'Thunderbird finds its settings there' : 'Outlook finds its settings there';
  const cname = await lookup<string>(resolver, owner, 'CNAME');
  if (cname.kind === 'found') {
    const target = canonicalName(cname.records[0]!);
    if (target === host) return { record: label, status: 'ok', detail: `${owner} is a CNAME for ${host}`, publish: null };
    return { record: label, status: 'warning', detail: `${owner} is a CNAME for ${shorten(target, 100)}, not ${host}; ${use}`, publish };
  }
  const addrs = await lookupAddresses(resolver, owner);
  if (addrs.kind === 'tempfail') return { record: label, status: 'warning', detail: `temporary DNS failure (${addrs.code}) looking up ${owner}; try again`, publish: null };
  if (addrs.kind === 'none') return { record: label, status: 'warning', detail: `no record at ${owner} (optional; ${use})`, publish };
  if (addrs.records.some((a) => hostAddresses.includes(a))) return { record: label, status: 'ok', detail: `${owner} is ${addrs.records.join(', ')}, like ${host}`, publish: null };
  return { record: label, status: 'warning', detail: `${owner} is ${addrs.records.slice(0, 4).join(', ')}, not an address of ${host}; ${use}`, publish };
}

async function checkSrv(resolver: DnsResolver, domain: string, host: string, want: { label: string; port: number; priority: number }): Promise<ClientRecordCheck> {
  const owner = `${want.label}.${domain}`;
  const publish = `${owner}. IN SRV ${want.priority} 1 ${want.port} ${host}.`;
  const r = await lookup<SrvRecord>(resolver, owner, 'SRV');
  if (r.kind === 'tempfail') return { record: want.label, status: 'warning', detail: `temporary DNS failure (${r.code}) looking up SRV ${owner}; try again`, publish: null };
  if (r.kind === 'none') return { record: want.label, status: 'warning', detail: `no SRV record at ${owner} (optional; RFC 6186 clients use it)`, publish };
  // A target of "." says the service is not offered (RFC 6186 section 3.4).
  const ours = r.records.find((s) => canonicalName(s.name) === host && s.port === want.port);
  if (ours) return { record: want.label, status: 'ok', detail: `${owner} names ${host} port ${want.port}`, publish: null };
  const listed = r.records
    .slice(0, 3)
    .map((s) => `${s.priority} ${s.weight} ${s.port} ${shorten(s.name, 100) || '.'}`)
    .join(', ');
  return { record: want.label, status: 'warning', detail: `${owner} is ${listed}, not ${host} port ${want.port}`, publish };
}

/** The client setup records to publish for a domain, for a DNS page: [{type, name, value, purpose}]. */
export function clientRecordsToPublish(domain: string, hostname: string, ports: ClientPorts = STANDARD_CLIENT_PORTS): Array<{ type: 'CNAME' | 'SRV'; name: string; value: string; purpose: string }> {
  const host = canonicalName(hostname);
  const d = canonicalName(domain);
  return [
    { type: 'CNAME', name: `autoconfig.${d}`, value: `${host}.`, purpose: 'Thunderbird autoconfig' },
    { type: 'CNAME', name: `autodiscover.${d}`, value: `${host}.`, purpose: 'Outlook autodiscover' },
    ...srvWanted(ports).map((w) => ({ type: 'SRV' as const, name: `${w.label}.${d}`, value: `${w.priority} 1 ${w.port} ${host}.`, purpose: 'RFC 6186 client setup' })),
  ];
}

export async function checkClientRecords(input: { resolver: DnsResolver; domain: string; host: string; hostAddresses: string[]; ports?: ClientPorts }): Promise<ClientRecordCheck[]> {
  const { resolver, domain, host, hostAddresses } = input;
  const ports = input.ports ?? STANDARD_CLIENT_PORTS;
  return Promise.all([
    checkAlias(resolver, domain, host, 'autoconfig', hostAddresses),
    checkAlias(resolver, domain, host, 'autodiscover', hostAddresses),
    ...srvWanted(ports).map((w) => checkSrv(resolver, domain, host, w)),
  ]);
}
