// `postino dns check D`: what DNS says about D against this server, and what
// to publish. Five checks (MX, SPF, one per DKIM selector Postino has a key
// for, DMARC, PTR of each server address), each ok / missing / wrong /
// warning, or tempfail when DNS could not answer (never taken for "missing").
//
// "warning" is for records that work but are weak (SPF ending in ?all or no
// all, DMARC p=none, this server only a backup MX, terms this checker cannot
// evaluate, several PTRs); they do not make the exit code non-zero.
//
// Apart from the checks, `clients` lists the records mail clients use to set
// themselves up (autoconfig, autodiscover, SRV): advice only, see
// dns-doctor-clients.ts; they never change `ok` or the exit code.
import { isIP } from 'node:net';
import { reverseName, type DnsResolver } from '../net/dns.js';
import { readDkimKeys, dkimKeyDir, normalisePublishedKey } from './dns-doctor-keys.js';
import { canonicalName, lookup, lookupAddresses, lookupTxt, parseTagList, shorten, txtLine, type Lookup } from './dns-doctor-records.js';
import {
  analyseSpf,
  evaluateSpf,
  finalAll,
  inNetwork,
  SPF_LOOKUP_LIMIT,
  SPF_VOID_LIMIT,
  withTerms,
  type SpfResult,
} from './dns-doctor-spf.js';
import { checkClientRecords, type ClientPorts, type ClientRecordCheck } from './dns-doctor-clients.js';

export type CheckStatus = 'ok' | 'missing' | 'wrong' | 'warning' | 'tempfail';
export type CheckName = 'mx' | 'spf' | 'dkim' | 'dmarc' | 'ptr';

export interface DnsCheck {
  name: CheckName;
  status: CheckStatus;
  /** One sentence: what was found and why it is (not) right. */
  detail: string;
  /** The record to publish (a zone file line), or null when nothing is to be published or it cannot be known. */
  publish: string | null;
  /** dkim: the selector. */
  selector?: string;
  /** ptr: the address whose reverse name was looked up. */
  address?: string;
}

export interface DnsReport {
  domain: string;
  /** True when every check is ok or a warning. */
  ok: boolean;
  checks: DnsCheck[];
  /** Records for mail client autoconfiguration: advice, not counted in `ok` or the exit code. */
  clients: ClientRecordCheck[];
}

export interface DnsDoctorInput {
  domain: string;
  /** This server's name: the HELO name and what the MX must point at (config.hostname). */
  hostname: string;
  resolver: DnsResolver;
  /** The data directory: DKIM keys are read from DIR/dkim/DOMAIN/. */
  dataDir: string;
  /** The addresses mail leaves from, when known without DNS; otherwise the A/AAAA of hostname. */
  addresses?: string[];
  /** The smarthost, when mail leaves through one: SPF must then authorize it, not this server. */
  smarthost?: string;
  /** The ports clients connect to, for the SRV records; the standard ones when absent. */
  clientPorts?: ClientPorts;
}

/** The exit code for a report: 0 all right (warnings allowed), 2 missing or wrong, 75 only DNS temporary failures. */
export function exitCodeOf(report: DnsReport): number {
  if (report.checks.some((c) => c.status === 'missing' || c.status === 'wrong')) return 2;
  if (report.checks.some((c) => c.status === 'tempfail')) return 75;
  return 0;
}

/** Human lines: one per check, then a summary. */
export function formatReport(report: DnsReport): string {
  const lines = report.checks.map((c) => {
    const label = c.selector ? `${c.name} ${c.selector}` : c.address ? `${c.name} ${c.address}` : c.name;
    const publish = c.publish ? ` -- publish: ${c.publish}` : '';
    return `${c.status.padEnd(8)} ${label}: ${c.detail}${publish}`;
  });
  const bad = report.checks.filter((c) => c.status !== 'ok' && c.status !== 'warning').length;
  const warnings = report.checks.filter((c) => c.status === 'warning').length;
  const note = warnings > 0 ? ` (${warnings} warning${warnings === 1 ? '' : 's'})` : '';
  lines.push(report.ok ? `${report.domain}: all right${note}` : `${report.domain}: ${bad} of ${report.checks.length} checks need attention${note}`);
  if (report.clients.length > 0) {
    lines.push('client setup (optional: Thunderbird autoconfig, Outlook autodiscover, RFC 6186 SRV):');
    for (const c of report.clients) lines.push(`${c.status.padEnd(8)} ${c.record}: ${c.detail}${c.publish ? ` -- publish: ${c.publish}` : ''}`);
  }
  return lines.join('\n');
}

const DOMAIN = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)+$/;

export function isDomainName(text: string): boolean {
  return text.length <= 253 && DOMAIN.test(text);
}

function sameAddress(a: string, b: string): boolean {
  return isIP(a) !== 0 && isIP(a) === isIP(b) && inNetwork(a, b, undefined);
}

function addressLine(host: string, ip: string | undefined): string {
  if (ip === undefined) return `${host}. IN A <this server's public IPv4 address>`;
  return `${host}. IN ${isIP(ip) === 6 ? 'AAAA' : 'A'} ${ip}`;
}

function tempfail(name: CheckName, what: string, code?: string): DnsCheck {
  const why = code === undefined ? '' : ` (${code})`;
  return { name, status: 'tempfail', detail: `temporary DNS failure${why}: ${what}; try again`, publish: null };
}

interface Context {
  input: DnsDoctorInput;
  domain: string;
  host: string;
  /** A/AAAA of the hostname. */
  hostAddresses: Lookup<string>;
  /** The addresses this server sends from. */
  serverAddresses: Lookup<string>;
  /** Whether the addresses were given (config or --address) rather than taken from DNS. */
  addressesGiven: boolean;
}

export async function checkDomainDns(input: DnsDoctorInput): Promise<DnsReport> {
  const domain = canonicalName(input.domain);
  const host = canonicalName(input.hostname);
  const hostAddresses = await lookupAddresses(input.resolver, host);
  const given = (input.addresses ?? []).filter((a) => isIP(a) !== 0);
  const serverAddresses: Lookup<string> = given.length > 0 ? { kind: 'found', records: given } : hostAddresses;
  const ctx: Context = { input, domain, host, hostAddresses, serverAddresses, addressesGiven: given.length > 0 };

  const hostList = hostAddresses.kind === 'found' ? hostAddresses.records : [];
  const [mx, spf, dkim, dmarc, ptr, clients] = await Promise.all([
    checkMx(ctx),
    checkSpf(ctx),
    checkDkim(ctx),
    checkDmarc(ctx),
    checkPtr(ctx),
    checkClientRecords({ resolver: input.resolver, domain, host, hostAddresses: hostList, ...(input.clientPorts ? { ports: input.clientPorts } : {}) }),
  ]);
  const checks = [mx, spf, ...dkim, dmarc, ...ptr];
  return { domain, ok: checks.every((c) => c.status === 'ok' || c.status === 'warning'), checks, clients };
}

// --- MX ----------------------------------------------------------------------

async function checkMx(ctx: Context): Promise<DnsCheck> {
  const { domain, host } = ctx;
  const publish = `${domain}. IN MX 10 ${host}.`;
  const localName = !host.includes('.') || host === 'localhost' || host.endsWith('.localhost');
  const hint = localName ? ` (the config's hostname is "${host}": set "hostname" to this server's public name)` : '';
  const r = await lookup<{ exchange: string; priority: number }>(ctx.input.resolver, domain, 'MX');
  if (r.kind === 'tempfail') return tempfail('mx', `MX ${domain}`, r.code);
  if (r.kind === 'none') {
    const why = r.code === 'ENOTFOUND' ? `${domain} does not exist in DNS` : `no MX record for ${domain}`;
    return { name: 'mx', status: 'missing', detail: `${why}${hint}`, publish };
  }
  const records = [...r.records].sort((a, b) => a.priority - b.priority);
  if (records.some((m) => m.exchange === '' || m.exchange === '.')) {
    return { name: 'mx', status: 'wrong', detail: `null MX (RFC 7505): ${domain} says it receives no mail; replace it`, publish };
  }
  const ours = records.filter((m) => canonicalName(m.exchange) === host);
  const listed = records
    .slice(0, 5)
    .map((m) => `${m.priority} ${shorten(m.exchange, 100)}`)
    .join(', ');
  if (ours.length === 0) {
    return { name: 'mx', status: 'wrong', detail: `MX is ${listed}, not this server (${host})${hint}`, publish };
  }
  const addrs = ctx.hostAddresses;
  const given = ctx.addressesGiven && ctx.serverAddresses.kind === 'found' ? ctx.serverAddresses.records : [];
  if (addrs.kind === 'tempfail') return tempfail('mx', `A/AAAA ${host}`, addrs.code);
  if (addrs.kind === 'none') {
    return { name: 'mx', status: 'wrong', detail: `MX points at ${host}, which has no A or AAAA record`, publish: addressLine(host, given[0]) };
  }
  const missingGiven = given.filter((ip) => !addrs.records.some((a) => sameAddress(a, ip)));
  if (missingGiven.length > 0) {
    return {
      name: 'mx',
      status: 'wrong',
      detail: `${host} resolves to ${addrs.records.join(', ')}, not to this server's ${missingGiven.join(', ')}`,
      publish: addressLine(host, missingGiven[0]),
    };
  }
  const best = records[0]!;
  if (ours[0]!.priority > best.priority) {
    return {
      name: 'mx',
      status: 'warning',
      detail: `${host} is a backup MX (preference ${ours[0]!.priority}); ${shorten(best.exchange, 100)} (preference ${best.priority}) receives first`,
      publish: null,
    };
  }
  return { name: 'mx', status: 'ok', detail: `MX ${listed} (${host} is ${addrs.records.join(', ')})`, publish: null };
}

// --- SPF ---------------------------------------------------------------------

function spfTerm(ip: string): string {
  return `${isIP(ip) === 6 ? 'ip6' : 'ip4'}:${ip}`;
}

async function checkSpf(ctx: Context): Promise<DnsCheck> {
  const { domain, host, input } = ctx;
  const relay = input.smarthost;
  // Who must be authorized: the smarthost when mail leaves through one, this server otherwise.
  const senders: Lookup<string> = relay ? await lookupAddresses(input.resolver, relay) : ctx.serverAddresses;
  const senderTerms = senders.kind === 'found' ? senders.records.map(spfTerm) : [`a:${host}`];
  // Through a smarthost, the provider's own SPF include is what to add: only its operator knows the name.
  const suggested = txtLine(domain, `v=spf1 ${relay ? "include:<your mail provider's SPF domain>" : senderTerms.join(' ')} -all`);

  const spf = await analyseSpf(input.resolver, domain);
  const root = spf.root;
  if (root.kind === 'tempfail') return tempfail('spf', root.detail);
  if (root.kind === 'none') return { name: 'spf', status: 'missing', detail: `no v=spf1 TXT record at ${domain}`, publish: suggested };
  if (root.kind === 'broken') {
    return { name: 'spf', status: 'wrong', detail: `${root.detail}: receivers answer permerror; publish exactly one record`, publish: suggested };
  }
  const text = root.node.text;
  const problems: string[] = [];
  if (spf.lookups > SPF_LOOKUP_LIMIT) {
    const count = spf.lookups > 30 ? 'more than 30' : String(spf.lookups);
    problems.push(`${count} DNS lookups (RFC 7208 allows ${SPF_LOOKUP_LIMIT}): receivers answer permerror; replace includes with ip4:/ip6: ranges`);
  }
  if (spf.voidLookups > SPF_VOID_LIMIT) problems.push(`${spf.voidLookups} lookups answered with nothing (at most ${SPF_VOID_LIMIT})`);
  problems.push(...spf.problems);
  const all = finalAll(root);
  if (all === '+') problems.push('+all authorizes every host on the Internet');

  let notCovered: string[] = [];
  const unsure: string[] = [];
  const temp: string[] = [...spf.tempfails];
  if (senders.kind === 'tempfail') temp.push(`A/AAAA ${relay ?? host}: ${senders.code}`);
  else if (senders.kind === 'none') problems.push(`cannot tell the sending address: ${relay ?? host} has no A or AAAA record`);
  else {
    const results: Array<[string, SpfResult]> = [];
    for (const ip of senders.records) results.push([ip, await evaluateSpf(input.resolver, spf, ip)]);
    notCovered = results.filter(([, r]) => r !== 'pass' && r !== 'temperror' && r !== 'unknown').map(([ip, r]) => `${ip} (${r})`);
    unsure.push(...results.filter(([, r]) => r === 'unknown').map(([ip]) => ip));
    temp.push(...results.filter(([, r]) => r === 'temperror').map(([ip]) => `${ip}: temperror`));
  }

  const fixedAll = all === '+' ? text.replace(/(^| )\+?all( |$)/i, '$1-all$2') : text;
  // With +all gone, this server needs terms of its own: all of its addresses then (a duplicate costs nothing).
  const missingTerms =
    senders.kind !== 'found' || relay
      ? []
      : senders.records.filter((ip) => all === '+' || notCovered.some((n) => n.startsWith(`${ip} `))).map(spfTerm);
  const changed = missingTerms.length > 0 || all === '+';
  const fixed = txtLine(domain, withTerms(fixedAll, missingTerms));

  if (notCovered.length > 0 && relay && problems.length === 0) {
    return {
      name: 'spf',
      status: 'warning',
      detail: `"${shorten(text, 200)}" does not authorize the smarthost ${relay} (${notCovered.join(', ')}); add your provider's include: mechanism`,
      publish: null,
    };
  }
  if (notCovered.length > 0) problems.unshift(`does not authorize ${relay ? `the smarthost ${relay}` : 'this server'}: ${notCovered.join(', ')}`);
  if (problems.length > 0) {
    // Loops, lookup counts and broken includes have no one right record: the detail says what to change.
    return { name: 'spf', status: 'wrong', detail: `"${shorten(text, 200)}": ${problems.slice(0, 4).join('; ')}`, publish: changed ? fixed : null };
  }
  if (temp.length > 0) return tempfail('spf', temp.slice(0, 3).join(', '));
  const warnings: string[] = [];
  if (unsure.length > 0) warnings.push(`cannot tell whether it authorizes ${unsure.join(', ')} (${shorten(spf.unevaluated.join(', '), 120)} not evaluated)`);
  if (all === '?' || all === undefined) warnings.push(`ends with ${all === '?' ? '?all' : 'no all'}: mail from other hosts is not refused; end it with -all or ~all`);
  if (warnings.length > 0) {
    const publish = all === '?' || all === undefined ? txtLine(domain, withTerms(text.replace(/ \?all$/i, ''), ['-all'])) : null;
    return { name: 'spf', status: 'warning', detail: `"${shorten(text, 200)}": ${warnings.join('; ')}`, publish };
  }
  const who = relay ? `the smarthost ${relay}` : senders.kind === 'found' ? senders.records.join(', ') : host;
  return { name: 'spf', status: 'ok', detail: `"${shorten(text, 200)}" authorizes ${who} (${spf.lookups} DNS lookup${spf.lookups === 1 ? '' : 's'})`, publish: null };
}

// --- DKIM --------------------------------------------------------------------

async function checkDkim(ctx: Context): Promise<DnsCheck[]> {
  const { domain, input } = ctx;
  const keys = readDkimKeys(input.dataDir, domain);
  if (keys.length === 0) {
    return [
      {
        name: 'dkim',
        status: 'missing',
        detail: `Postino has no DKIM key for ${domain} (${dkimKeyDir(input.dataDir, domain)}): run "postino dkim keygen ${domain}" and publish the record it prints`,
        publish: null,
      },
    ];
  }
  return Promise.all(
    keys.map(async (key): Promise<DnsCheck> => {
      const base = { name: 'dkim' as const, selector: key.selector };
      if ('error' in key) return { ...base, status: 'wrong', detail: key.error, publish: null };
      const owner = `${key.selector}._domainkey.${domain}`;
      const role = key.active ? ' (the active key)' : '';
      const publish = txtLine(owner, `v=DKIM1; k=${key.type}; p=${key.publicKey}`);
      const weak =
        key.type === 'rsa' && key.bits < 2048
          ? `the key is ${key.bits}-bit RSA (2048 at least): make a new one with "postino dkim keygen ${domain} --selector NEW", publish its record, then switch`
          : undefined;
      const weakCheck = (found: string): DnsCheck => ({ ...base, status: 'wrong', detail: `${found}; ${weak}`, publish: null });

      const r = await lookupTxt(input.resolver, owner);
      if (r.kind === 'tempfail') return { ...tempfail('dkim', `TXT ${owner}`, r.code), selector: key.selector };
      if (r.kind === 'none') {
        if (weak) return weakCheck(`no record at ${owner}`);
        // A key not signing yet is a rotation in progress: its record is the step before `postino dkim activate`.
        const next = key.active ? '' : `; publish it, then "postino dkim activate ${domain} ${key.selector}"`;
        return { ...base, status: 'missing', detail: `no TXT record at ${owner}${role}${next}`, publish };
      }
      const candidates = r.records.filter((t) => /^\s*v\s*=\s*DKIM1\s*(;|$)/i.test(t.slice(0, 32)) || /(^|;)\s*p\s*=/i.test(t.slice(0, 8192)));
      if (candidates.length === 0) {
        return { ...base, status: 'missing', detail: `the TXT at ${owner} is not a DKIM key record`, publish };
      }
      if (candidates.length > 1) {
        return { ...base, status: 'wrong', detail: `${candidates.length} DKIM records at ${owner}: verifiers may take either; keep one`, publish };
      }
      const text = candidates[0]!;
      const parsed = parseTagList(text);
      if ('error' in parsed) return { ...base, status: 'wrong', detail: `${owner}: ${parsed.error}`, publish };
      const tags = parsed.tags;
      const v = tags.get('v');
      if (v !== undefined && (v !== 'DKIM1' || parsed.order[0] !== 'v')) {
        return { ...base, status: 'wrong', detail: `${owner}: v= must be "DKIM1" and first`, publish };
      }
      const k = (tags.get('k') ?? 'rsa').toLowerCase();
      if (k !== key.type) return { ...base, status: 'wrong', detail: `${owner} says k=${shorten(k, 20)}, the key is ${key.type}`, publish };
      const p = tags.get('p');
      if (p === undefined) return { ...base, status: 'wrong', detail: `${owner} has no p= tag`, publish };
      if (p === '') return { ...base, status: 'wrong', detail: `${owner} has an empty p=: the key is revoked`, publish };
      const published = normalisePublishedKey(p, key.type);
      if (!published) return { ...base, status: 'wrong', detail: `${owner}: p= is not a valid ${key.type} public key`, publish };
      if (published.value !== key.publicKey) {
        return {
          ...base,
          status: 'wrong',
          detail: `${owner}: p= is not the public half of ${dkimKeyDir(input.dataDir, domain)}/${key.selector}.key: signatures will fail`,
          publish,
        };
      }
      if (weak) return weakCheck(`${owner} matches the key`);
      if (/(^|:)\s*y\s*(:|$)/i.test(tags.get('t')?.slice(0, 64) ?? '')) {
        return { ...base, status: 'warning', detail: `${owner} has t=y (testing): verifiers may ignore failures`, publish };
      }
      return { ...base, status: 'ok', detail: `${owner} publishes the ${key.type === 'rsa' ? `${key.bits}-bit RSA` : 'Ed25519'} key${role}`, publish: null };
    }),
  );
}

// --- DMARC -------------------------------------------------------------------

async function checkDmarc(ctx: Context): Promise<DnsCheck> {
  const { domain, input } = ctx;
  const owner = `_dmarc.${domain}`;
  const publish = txtLine(owner, `v=DMARC1; p=quarantine; rua=mailto:postmaster@${domain}`);
  const r = await lookupTxt(input.resolver, owner);
  if (r.kind === 'tempfail') return tempfail('dmarc', `TXT ${owner}`, r.code);
  if (r.kind === 'none') return { name: 'dmarc', status: 'missing', detail: `no TXT record at ${owner}`, publish };
  const records = r.records.filter((t) => /^v\s*=\s*DMARC1\s*(;|$)/i.test(t.slice(0, 32)));
  if (records.length === 0) return { name: 'dmarc', status: 'missing', detail: `no v=DMARC1 record at ${owner}`, publish };
  if (records.length > 1) {
    return { name: 'dmarc', status: 'wrong', detail: `${records.length} DMARC records at ${owner}: receivers ignore them all; keep one`, publish };
  }
  const text = records[0]!;
  const parsed = parseTagList(text);
  if ('error' in parsed) return { name: 'dmarc', status: 'wrong', detail: `${owner}: ${parsed.error}`, publish };
  const p = parsed.tags.get('p')?.toLowerCase();
  if (p === undefined) return { name: 'dmarc', status: 'wrong', detail: `"${shorten(text, 200)}" has no p= tag`, publish };
  if (p !== 'none' && p !== 'quarantine' && p !== 'reject') {
    return { name: 'dmarc', status: 'wrong', detail: `"${shorten(text, 200)}": p= must be none, quarantine or reject`, publish };
  }
  if (p === 'none') {
    return { name: 'dmarc', status: 'warning', detail: `"${shorten(text, 200)}": p=none only monitors; move to quarantine or reject when reports look clean`, publish: null };
  }
  return { name: 'dmarc', status: 'ok', detail: `"${shorten(text, 200)}"`, publish: null };
}

// --- PTR ---------------------------------------------------------------------

async function checkPtr(ctx: Context): Promise<DnsCheck[]> {
  const { host, input } = ctx;
  const addrs = ctx.serverAddresses;
  if (addrs.kind === 'tempfail') return [tempfail('ptr', `A/AAAA ${host}`, addrs.code)];
  if (addrs.kind === 'none') {
    return [
      {
        name: 'ptr',
        status: 'missing',
        detail: `this server's address is unknown: ${host} has no A or AAAA record (or give it with --address)`,
        publish: addressLine(host, undefined),
      },
    ];
  }
  return Promise.all(
    addrs.records.map(async (ip): Promise<DnsCheck> => {
      const base = { name: 'ptr' as const, address: ip };
      const rev = reverseName(ip);
      const publish = `${rev}. IN PTR ${host}.`;
      const ask = 'the owner of the address (usually the hosting provider) sets it';
      const r = await lookup<string>(input.resolver, rev, 'PTR');
      if (r.kind === 'tempfail') return { ...tempfail('ptr', `PTR ${rev}`, r.code), address: ip };
      if (r.kind === 'none') return { ...base, status: 'missing', detail: `no PTR for ${ip}; ${ask}`, publish };
      const names = r.records.map(canonicalName);
      if (!names.includes(host)) {
        return {
          ...base,
          status: 'wrong',
          detail: `PTR of ${ip} is ${r.records.slice(0, 3).map((n) => shorten(n, 100)).join(', ')}, not the HELO name ${host}; ${ask}`,
          publish,
        };
      }
      const forward = ctx.hostAddresses;
      if (forward.kind === 'tempfail') return { ...tempfail('ptr', `A/AAAA ${host}`, forward.code), address: ip };
      if (forward.kind === 'none' || !forward.records.some((a) => sameAddress(a, ip))) {
        return {
          ...base,
          status: 'wrong',
          detail: `PTR of ${ip} is ${host}, but ${host} does not resolve back to ${ip} (no forward confirmation)`,
          publish: addressLine(host, ip),
        };
      }
      if (names.length > 1) {
        return { ...base, status: 'warning', detail: `${ip} has ${names.length} PTR records; some receivers look at the first only`, publish: null };
      }
      return { ...base, status: 'ok', detail: `${ip} -> ${host} -> ${ip}`, publish: null };
    }),
  );
}
