// SPF for `postino dns check`: parse a v=spf1 record, load the records it
// includes or redirects to (counting the DNS-querying terms as RFC 7208
// 4.6.4 does, refusing loops, bounding depth), then evaluate check_host()
// for this server's addresses over what was loaded.
//
// This is a checker for the domain's owner, not a receiver: it walks every
// include, not only those a receiver would reach for one address, so a
// record that breaks the 10-lookup limit for some senders is flagged even
// when it passes for us. Macros, exists and ptr are not evaluated: reaching
// one before a decision gives "unknown".
import { isIP } from 'node:net';
import { ipv6Groups, type DnsResolver } from '../net/dns.js';
import { canonicalName, lookup, lookupTxt, shorten } from './dns-doctor-records.js';

/** RFC 7208 4.6.4: at most 10 terms that query DNS, at most 2 of them answered with nothing. */
export const SPF_LOOKUP_LIMIT = 10;
export const SPF_VOID_LIMIT = 2;
/** RFC 7208 4.6.4: an mx mechanism may name at most 10 hosts. */
const MX_NAME_LIMIT = 10;
/** The walk stops counting here: enough to say by how much the limit is broken. */
const WALK_CAP = 30;
/** Includes nested deeper than this are not followed (the lookup limit stops receivers sooner). */
const MAX_DEPTH = 10;
/** Longer records are not parsed: a DNS answer with more is a mistake or hostile. */
export const MAX_SPF_LENGTH = 4096;

export type Qualifier = '+' | '-' | '~' | '?';
export type MechanismName = 'all' | 'include' | 'a' | 'mx' | 'ptr' | 'ip4' | 'ip6' | 'exists';

export interface SpfMechanism {
  qualifier: Qualifier;
  name: MechanismName;
  /** The term as written. */
  text: string;
  /** a, mx, ptr (optional), include, exists (required). */
  domain?: string;
  /** ip4, ip6. */
  ip?: string;
  /** CIDR lengths (a, mx, ip4, ip6). */
  prefix4?: number;
  prefix6?: number;
}

export interface SpfRecord {
  mechanisms: SpfMechanism[];
  redirect?: string;
}

const QUERYING = new Set<MechanismName>(['include', 'a', 'mx', 'ptr', 'exists']);
const MECHANISMS = new Set<string>(['all', 'include', 'a', 'mx', 'ptr', 'ip4', 'ip6', 'exists']);

/** Whether a TXT record is an SPF record (RFC 7208 4.5: "v=spf1" then a space or the end). */
export function isSpfRecord(txt: string): boolean {
  return /^v=spf1( |$)/i.test(txt.slice(0, 7));
}

function isDigits(s: string): boolean {
  if (s.length === 0 || s.length > 3) return false;
  for (const ch of s) if (ch < '0' || ch > '9') return false;
  return true;
}

/** A domain-spec as far as this checker needs: DNS name characters, or a macro (kept, not expanded). */
function checkDomainSpec(spec: string): string | undefined {
  if (spec.length === 0) return 'empty domain';
  if (spec.length > 253 && !spec.includes('%')) return 'domain name too long';
  if (spec.includes('%')) return undefined;
  if (!/^[A-Za-z0-9_.-]+$/.test(spec)) return `bad domain ${JSON.stringify(shorten(spec))}`;
  return undefined;
}

/** Splits "domain/24//64" (each part optional) from the end, without regular expressions over the whole. */
function splitCidr(rest: string): { spec: string; prefix4?: number; prefix6?: number } {
  let spec = rest;
  const out: { spec: string; prefix4?: number; prefix6?: number } = { spec };
  const dbl = spec.lastIndexOf('//');
  if (dbl >= 0 && isDigits(spec.slice(dbl + 2))) {
    out.prefix6 = Number(spec.slice(dbl + 2));
    spec = spec.slice(0, dbl);
  }
  const single = spec.lastIndexOf('/');
  if (single >= 0 && isDigits(spec.slice(single + 1))) {
    out.prefix4 = Number(spec.slice(single + 1));
    spec = spec.slice(0, single);
  }
  out.spec = spec;
  return out;
}

/** Parses one SPF record. Linear: one split on spaces, constant work per character of each term. */
export function parseSpf(text: string): { record: SpfRecord } | { error: string } {
  if (text.length > MAX_SPF_LENGTH) return { error: `record of ${text.length} characters (more than ${MAX_SPF_LENGTH})` };
  if (!isSpfRecord(text)) return { error: 'not a v=spf1 record' };
  const record: SpfRecord = { mechanisms: [] };
  for (const term of text.slice(6).split(' ')) {
    if (term === '') continue;
    const eq = term.indexOf('=');
    const colon = term.indexOf(':');
    const slash = term.indexOf('/');
    // A modifier's name ends at '=' and contains no ':' or '/' before it.
    if (eq > 0 && (colon < 0 || colon > eq) && (slash < 0 || slash > eq)) {
      const name = term.slice(0, eq).toLowerCase();
      const value = term.slice(eq + 1);
      if (!/^[a-z][a-z0-9_.-]*$/.test(name)) return { error: `bad modifier ${JSON.stringify(shorten(term))}` };
      if (name === 'redirect') {
        if (record.redirect !== undefined) return { error: 'redirect= given twice' };
        const bad = checkDomainSpec(value);
        if (bad) return { error: `redirect=: ${bad}` };
        record.redirect = value;
      }
      // exp= and unknown modifiers are ignored (RFC 7208 6).
      continue;
    }
    let qualifier: Qualifier = '+';
    let body = term;
    const first = term[0];
    if (first === '+' || first === '-' || first === '~' || first === '?') {
      qualifier = first;
      body = term.slice(1);
    }
    const end = [body.indexOf(':'), body.indexOf('/')].filter((i) => i >= 0);
    const nameEnd = end.length > 0 ? Math.min(...end) : body.length;
    const name = body.slice(0, nameEnd).toLowerCase();
    if (!MECHANISMS.has(name)) return { error: `unknown mechanism ${JSON.stringify(shorten(term))}` };
    const mech: SpfMechanism = { qualifier, name: name as MechanismName, text: term };
    const rest = body.slice(nameEnd);
    const hasValue = rest.startsWith(':');
    switch (mech.name) {
      case 'all':
        if (rest !== '') return { error: `bad term ${JSON.stringify(shorten(term))}` };
        break;
      case 'include':
      case 'exists': {
        if (!hasValue) return { error: `${name} needs a domain` };
        const bad = checkDomainSpec(rest.slice(1));
        if (bad) return { error: `${name}: ${bad}` };
        mech.domain = rest.slice(1);
        break;
      }
      case 'a':
      case 'mx':
      case 'ptr': {
        const cidr = name === 'ptr' ? { spec: rest } : splitCidr(rest);
        if (cidr.spec !== '') {
          if (!cidr.spec.startsWith(':')) return { error: `bad term ${JSON.stringify(shorten(term))}` };
          const bad = checkDomainSpec(cidr.spec.slice(1));
          if (bad) return { error: `${name}: ${bad}` };
          mech.domain = cidr.spec.slice(1);
        }
        if ('prefix4' in cidr && cidr.prefix4 !== undefined) {
          if (cidr.prefix4 > 32) return { error: `bad ip4 prefix in ${JSON.stringify(shorten(term))}` };
          mech.prefix4 = cidr.prefix4;
        }
        if ('prefix6' in cidr && cidr.prefix6 !== undefined) {
          if (cidr.prefix6 > 128) return { error: `bad ip6 prefix in ${JSON.stringify(shorten(term))}` };
          mech.prefix6 = cidr.prefix6;
        }
        break;
      }
      case 'ip4':
      case 'ip6': {
        if (!hasValue) return { error: `${name} needs an address` };
        const value = rest.slice(1);
        const slashAt = value.indexOf('/');
        const ip = slashAt >= 0 ? value.slice(0, slashAt) : value;
        const prefix = slashAt >= 0 ? value.slice(slashAt + 1) : undefined;
        const family = name === 'ip4' ? 4 : 6;
        if (isIP(ip) !== family) return { error: `bad address in ${JSON.stringify(shorten(term))}` };
        mech.ip = ip;
        if (prefix !== undefined) {
          if (!isDigits(prefix) || Number(prefix) > (family === 4 ? 32 : 128)) {
            return { error: `bad prefix in ${JSON.stringify(shorten(term))}` };
          }
          if (family === 4) mech.prefix4 = Number(prefix);
          else mech.prefix6 = Number(prefix);
        }
        break;
      }
    }
    record.mechanisms.push(mech);
  }
  return { record };
}

/** What an include or redirect target gave: a record, nothing, a temporary failure or a problem. */
export type SpfTarget =
  | { kind: 'record'; node: SpfNode }
  | { kind: 'none' }
  | { kind: 'tempfail'; detail: string }
  | { kind: 'broken'; detail: string };

export interface SpfNode {
  domain: string;
  text: string;
  record: SpfRecord;
  /** Loaded targets of include mechanisms, by index into record.mechanisms. */
  includes: Map<number, SpfTarget>;
  redirect?: SpfTarget;
}

export interface SpfAnalysis {
  /** The domain's own record (absent when the domain has none or it could not be read). */
  root: SpfTarget;
  /** DNS-querying terms met in the whole tree (stops counting past WALK_CAP). */
  lookups: number;
  /** Include/redirect targets answered with nothing. */
  voidLookups: number;
  /** Things a receiver would answer with permerror: loops, bad includes, syntax... */
  problems: string[];
  /** Temporary failures met while loading. */
  tempfails: string[];
  /** Terms that cannot be evaluated here (macros, exists, ptr). */
  unevaluated: string[];
}

interface WalkState {
  resolver: DnsResolver;
  lookups: number;
  voidLookups: number;
  problems: string[];
  tempfails: string[];
  unevaluated: string[];
}

async function loadRecord(state: WalkState, domain: string, stack: readonly string[]): Promise<SpfTarget> {
  const txt = await lookupTxt(state.resolver, domain);
  if (txt.kind === 'tempfail') {
    state.tempfails.push(`TXT ${domain}: ${txt.code}`);
    return { kind: 'tempfail', detail: `TXT ${domain}: ${txt.code}` };
  }
  const spf = txt.kind === 'found' ? txt.records.filter(isSpfRecord) : [];
  if (spf.length === 0) return { kind: 'none' };
  if (spf.length > 1) return { kind: 'broken', detail: `${domain} has ${spf.length} SPF records` };
  const text = spf[0]!;
  const parsed = parseSpf(text);
  if ('error' in parsed) return { kind: 'broken', detail: `${domain}: ${parsed.error}` };
  const node: SpfNode = { domain, text, record: parsed.record, includes: new Map() };
  const hasAll = parsed.record.mechanisms.some((m) => m.name === 'all');

  const follow = async (target: string, what: string): Promise<SpfTarget | undefined> => {
    if (target.includes('%')) {
      state.unevaluated.push(`${what} with a macro in ${domain}`);
      return undefined;
    }
    const key = canonicalName(target);
    if (stack.includes(key)) {
      state.problems.push(`loop: ${[...stack, key].join(' -> ')}`);
      return { kind: 'broken', detail: 'loop' };
    }
    if (stack.length >= MAX_DEPTH) {
      state.problems.push(`${what} nested more than ${MAX_DEPTH} deep at ${domain}`);
      return { kind: 'broken', detail: 'too deep' };
    }
    if (state.lookups > WALK_CAP) return undefined;
    const child = await loadRecord(state, key, [...stack, key]);
    if (child.kind === 'none') {
      state.voidLookups++;
      state.problems.push(`${what} of ${key} (from ${domain}): no SPF record there`);
    } else if (child.kind === 'broken' && child.detail !== 'loop' && child.detail !== 'too deep') {
      state.problems.push(child.detail);
    }
    return child;
  };

  for (const [i, mech] of parsed.record.mechanisms.entries()) {
    if (!QUERYING.has(mech.name)) continue;
    state.lookups++;
    if (mech.name === 'exists' || mech.name === 'ptr') state.unevaluated.push(`${mech.text} in ${domain}`);
    else if (mech.domain?.includes('%')) state.unevaluated.push(`${mech.text} in ${domain}`);
    if (mech.name === 'include') {
      const child = await follow(mech.domain!, 'include');
      if (child) node.includes.set(i, child);
    }
  }
  // A redirect is ignored when the record has an "all" (RFC 7208 6.1).
  if (parsed.record.redirect !== undefined && !hasAll) {
    state.lookups++;
    const child = await follow(parsed.record.redirect, 'redirect');
    if (child) node.redirect = child;
  }
  return { kind: 'record', node };
}

/** Loads D's SPF record and everything it includes, counting lookups. */
export async function analyseSpf(resolver: DnsResolver, domain: string): Promise<SpfAnalysis> {
  const state: WalkState = { resolver, lookups: 0, voidLookups: 0, problems: [], tempfails: [], unevaluated: [] };
  const key = canonicalName(domain);
  const root = await loadRecord(state, key, [key]);
  return {
    root,
    lookups: state.lookups,
    voidLookups: state.voidLookups,
    problems: state.problems,
    tempfails: state.tempfails,
    unevaluated: state.unevaluated,
  };
}

// --- evaluation ----------------------------------------------------------------

export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'permerror' | 'temperror' | 'unknown';

const QUALIFIER_RESULT: Record<Qualifier, SpfResult> = { '+': 'pass', '-': 'fail', '~': 'softfail', '?': 'neutral' };

/** An address as a bigint with its bit width, for prefix comparison. */
function addressBits(ip: string): { bits: bigint; width: number } | undefined {
  const family = isIP(ip);
  if (family === 4) {
    return { bits: ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n), width: 32 };
  }
  if (family === 6) {
    return { bits: ipv6Groups(ip).reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n), width: 128 };
  }
  return undefined;
}

/** Whether ip lies in network/prefix (both of one family). */
export function inNetwork(ip: string, network: string, prefix: number | undefined): boolean {
  const a = addressBits(ip);
  const b = addressBits(network);
  if (!a || !b || a.width !== b.width) return false;
  const len = BigInt(Math.min(prefix ?? a.width, a.width));
  const shift = BigInt(a.width) - len;
  return a.bits >> shift === b.bits >> shift;
}

type Match = 'match' | 'no' | 'temperror' | 'permerror' | 'unknown';

async function matchAddresses(resolver: DnsResolver, name: string, ip: string, mech: SpfMechanism): Promise<Match> {
  const v6 = isIP(ip) === 6;
  const r = await lookup<string>(resolver, name, v6 ? 'AAAA' : 'A');
  if (r.kind === 'tempfail') return 'temperror';
  if (r.kind === 'none') return 'no';
  const prefix = v6 ? mech.prefix6 : mech.prefix4;
  return r.records.some((addr) => inNetwork(ip, addr, prefix)) ? 'match' : 'no';
}

/** DNS-querying terms evaluated so far for one address: past the limit, check_host() is a permerror (RFC 7208 4.6.4). */
interface Budget {
  used: number;
}

function spend(budget: Budget): boolean {
  budget.used++;
  return budget.used <= SPF_LOOKUP_LIMIT;
}

async function matchMechanism(resolver: DnsResolver, node: SpfNode, index: number, ip: string, budget: Budget): Promise<Match> {
  const mech = node.record.mechanisms[index]!;
  const target = mech.domain ?? node.domain;
  if (QUERYING.has(mech.name) && !spend(budget)) return 'permerror';
  switch (mech.name) {
    case 'all':
      return 'match';
    case 'ip4':
    case 'ip6':
      return inNetwork(ip, mech.ip!, mech.name === 'ip4' ? mech.prefix4 : mech.prefix6) ? 'match' : 'no';
    case 'a':
      if (target.includes('%')) return 'unknown';
      return matchAddresses(resolver, target, ip, mech);
    case 'mx': {
      if (target.includes('%')) return 'unknown';
      const mx = await lookup<{ exchange: string }>(resolver, target, 'MX');
      if (mx.kind === 'tempfail') return 'temperror';
      if (mx.kind === 'none') return 'no';
      if (mx.records.length > MX_NAME_LIMIT) return 'permerror';
      let sawTemp = false;
      for (const { exchange } of mx.records) {
        if (!exchange || exchange === '.') continue;
        const m = await matchAddresses(resolver, exchange, ip, mech);
        if (m === 'match') return 'match';
        if (m === 'temperror') sawTemp = true;
      }
      return sawTemp ? 'temperror' : 'no';
    }
    case 'include': {
      const child = node.includes.get(index);
      if (!child) return 'unknown';
      const r = await evaluateTarget(resolver, child, ip, budget);
      if (r === 'pass') return 'match';
      if (r === 'fail' || r === 'softfail' || r === 'neutral') return 'no';
      if (r === 'temperror' || r === 'unknown') return r;
      return 'permerror'; // none or permerror (RFC 7208 5.2)
    }
    case 'exists':
    case 'ptr':
      return 'unknown';
  }
}

async function evaluateTarget(resolver: DnsResolver, target: SpfTarget, ip: string, budget: Budget): Promise<SpfResult> {
  switch (target.kind) {
    case 'none':
      return 'none';
    case 'tempfail':
      return 'temperror';
    case 'broken':
      return 'permerror';
    case 'record':
      return evaluateNode(resolver, target.node, ip, budget);
  }
}

async function evaluateNode(resolver: DnsResolver, node: SpfNode, ip: string, budget: Budget): Promise<SpfResult> {
  for (let i = 0; i < node.record.mechanisms.length; i++) {
    const m = await matchMechanism(resolver, node, i, ip, budget);
    if (m === 'match') return QUALIFIER_RESULT[node.record.mechanisms[i]!.qualifier];
    if (m === 'temperror' || m === 'permerror' || m === 'unknown') return m;
  }
  if (node.redirect) {
    if (!spend(budget)) return 'permerror';
    const r = await evaluateTarget(resolver, node.redirect, ip, budget);
    return r === 'none' ? 'permerror' : r;
  }
  if (node.record.redirect !== undefined && !node.record.mechanisms.some((m) => m.name === 'all')) return 'unknown';
  return 'neutral';
}

/** check_host() for one address over the loaded tree (RFC 7208 4), or "unknown" where this checker cannot tell. */
export function evaluateSpf(resolver: DnsResolver, analysis: SpfAnalysis, ip: string): Promise<SpfResult> {
  return evaluateTarget(resolver, analysis.root, ip, { used: 0 });
}

/** The qualifier of the "all" that ends the record (following redirects), or undefined when none does. */
export function finalAll(target: SpfTarget): Qualifier | undefined {
  for (let t: SpfTarget | undefined = target, hops = 0; t && t.kind === 'record' && hops <= MAX_DEPTH; hops++) {
    const all = t.node.record.mechanisms.find((m) => m.name === 'all');
    if (all) return all.qualifier;
    t = t.node.redirect;
  }
  return undefined;
}

/**
 * The record with terms added just before its "all" (or redirect, or at the end):
 * what to publish so that it covers this server too.
 */
export function withTerms(text: string, terms: string[]): string {
  const words = text.split(' ').filter((w) => w !== '');
  const at = words.findIndex((w, i) => i > 0 && (/^[+\-~?]?all$/i.test(w) || /^redirect=/i.test(w)));
  const pos = at < 0 ? words.length : at;
  return [...words.slice(0, pos), ...terms, ...words.slice(pos)].join(' ');
}
