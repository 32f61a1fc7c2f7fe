// Sender authentication on the MX path: SPF (RFC 7208), DKIM verification
// (RFC 6376), ARC (RFC 8617, verification only) and DMARC (RFC 7489), all
// through mailauth, written into one Authentication-Results field (RFC 8601).
//
// This step only reports. What to do with a DMARC p=reject failure (550 5.7.1
// or delivery to Junk) is the policy chain's decision, made from the returned
// `dmarc.policy`, never from the header text.
//
// It never throws and never takes longer than its time bound: a DNS failure
// or a timeout becomes temperror for the check it hit.
import { arc as arcVerify, dkimVerify, dmarc as dmarcVerify, spf as spfVerify } from 'mailauth';
import type { ARCResult, DKIMResult, DKIMVerifyResult, DMARCResult, SPFResult } from 'mailauth';
import verifierModule from 'mailauth/lib/dkim/dkim-verifier.js';
import mailauthTools from 'mailauth/lib/tools.js';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import type { DnsResolver } from '../net/dns.js';
import { toCrlf, type HeaderField, type ParsedMessage } from '../../mime/index.js';
import { TtlCache } from '../ttl-cache.js';

export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror';
export type DmarcResult = 'pass' | 'fail' | 'none' | 'temperror' | 'permerror';
export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

export interface DkimSignatureResult {
  /** pass | fail | neutral | policy | temperror | permerror | none */
  result: string;
  /** d= of the signature ('' when the message has no signature). */
  domain: string;
  /** s= of the signature. */
  selector: string;
  /** The d= domain aligns (relaxed) with the From domain. */
  aligned?: boolean;
}

export interface SenderAuthResult {
  /** One complete 'Authentication-Results: ...' field, folded, ending in CRLF. */
  header: string;
  spf: SpfResult;
  /** One entry per DKIM-Signature; one entry with result 'none' when there is none. */
  dkim: DkimSignatureResult[];
  dmarc: {
    result: DmarcResult;
    /** The policy that applies to the From domain (sp= for subdomains), when a record was found. */
    policy: DmarcPolicy | null;
    /** The RFC5322.From domain, null when the message has not exactly one From address. */
    domain: string | null;
  };
  /** ARC chain validation; absent when the message carries no ARC headers. */
  arc?: { result: 'pass' | 'fail'; instance: number | null };
}

export interface SenderAuthInput {
  /** The message as received, parsed once at the end of DATA. */
  message: ParsedMessage;
  /** The SMTP client's address (IPv4-mapped IPv6 is accepted). */
  ip: string;
  /** The EHLO/HELO argument as given. */
  helo: string;
  /** The MAIL FROM address without brackets; '' for the null sender. */
  mailFrom: string;
  /** Our host name, the authserv-id of the header. */
  hostname: string;
  resolver: DnsResolver;
  /** Upper bound on the whole check (ms). Default 10000. */
  timeoutMs?: number;
  /** Smallest RSA key accepted for DKIM/ARC (bits). Default 1024. */
  minBitLength?: number;
  /** Where SPF and DMARC verdicts are remembered between messages (see VerdictCache). */
  cache?: VerdictCache;
}

/**
 * SPF and DMARC verdicts of recent messages. An SPF verdict depends only on
 * the client address, the HELO name, the MAIL FROM address and DNS; a DMARC
 * verdict only on the From domain, the domains that passed SPF and DKIM, and
 * DNS. A busy MX sees the same few senders again and again, so within the
 * DNS cache's lifetime the answer would be the same: it is kept that long
 * (temporary errors never are).
 */
export class VerdictCache extends TtlCache<object> {
  constructor(ttlMs = 60_000, maxEntries = 10_000) {
    super(ttlMs, maxEntries);
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** The step's own temporary failure: a DNS-style code mailauth maps to temperror. */
function timeoutError(name: string): Error & { code: string } {
  const err = new Error(`sender checks: time is up before ${name} could be resolved`) as Error & { code: string };
  err.code = 'ETIMEOUT';
  return err;
}

/** Wraps the resolver so that no answer arrives after the deadline. */
function deadlineResolver(resolver: DnsResolver, deadline: number): DnsResolver {
  return async (name, rrtype) => {
    const left = deadline - Date.now();
    if (left <= 0) throw timeoutError(name);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        resolver(name, rrtype),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(timeoutError(name)), left);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
}

async function within<T>(work: Promise<T>, deadline: number, fallback: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work.catch(() => fallback()),
      new Promise<T>((resolve) => {
        timer = setTimeout(() => resolve(fallback()), Math.max(0, deadline - Date.now()));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// --- header text (RFC 8601 section 2.2) --------------------------------------

/** A ptype.property value: a token when it can be, else a quoted-string. */
function propValue(value: string): string {
  const v = value
    .replace(/[\x00-\x1f\x7f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    // An SMTP path is at most 256 octets (RFC 5321 4.5.3.1.3); anything longer
    // is junk from the client and must not make a line past 998 octets.
    .slice(0, 320);
  if (v !== '' && !/[\s()<>,;:\\"/[\]?=\x80-\uffff]/.test(v)) return v;
  return `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** A comment: control characters dropped, parentheses and backslashes escaped. */
function comment(text: string): string {
  const v = text
    .replace(/[\x00-\x1f\x7f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
  return `(${v.replace(/[\\()]/g, (c) => `\\${c}`)})`;
}

function resinfo(method: string, result: string, note: string | undefined, props: Array<[string, string | undefined | null]>): string {
  const parts = [`${method}=${result}`];
  if (note) parts.push(comment(note));
  for (const [name, value] of props) if (value) parts.push(`${name}=${propValue(value)}`);
  return parts.join(' ');
}

/**
 * One resinfo as folded lines, each starting with a space, under 78
 * characters where a space allows. Only existing spaces become folding
 * points, so unfolding (removing CRLF) gives back the exact text, comments
 * and quoted strings included.
 */
function fold(text: string, width = 78): string {
  const words = text.split(' ');
  const lines: string[] = [];
  let current = ` ${words[0] ?? ''}`;
  for (const word of words.slice(1)) {
    if (current.length + 1 + word.length > width) {
      lines.push(current);
      current = ` ${word}`;
    } else current += ` ${word}`;
  }
  lines.push(current);
  return lines.join('\r\n');
}

/**
 * Texts made again for every message from the same few verdicts (a busy MX
 * sees the same senders again and again): the folded resinfos, and the
 * authserv-id. Bounded: emptied when full.
 */
const foldedTexts = new Map<string, string>();
const MAX_FOLDED_TEXTS = 1000;
let authservIdMemo: { hostname: string; id: string } | undefined;

function foldedOnce(text: string): string {
  let folded = foldedTexts.get(text);
  if (folded === undefined) {
    folded = fold(text);
    if (foldedTexts.size >= MAX_FOLDED_TEXTS) foldedTexts.clear();
    foldedTexts.set(text, folded);
  }
  return folded;
}

function buildHeader(hostname: string, resinfos: string[]): string {
  if (authservIdMemo?.hostname !== hostname) authservIdMemo = { hostname, id: propValue(hostname.replace(/\.$/, '') || 'localhost') };
  const body = resinfos.map(foldedOnce).join(';\r\n');
  return `Authentication-Results: ${authservIdMemo.id};\r\n${body}\r\n`;
}

/** A resinfo made once per verdict object (SPF outcomes and DMARC answers are kept in the VerdictCache and come back). */
const resinfoOf = new WeakMap<object, string>();
function resinfoOnce(verdict: object, make: () => string): string {
  let text = resinfoOf.get(verdict);
  if (text === undefined) {
    text = make();
    resinfoOf.set(verdict, text);
  }
  return text;
}

// --- the checks --------------------------------------------------------------

const SPF_RESULTS = new Set<SpfResult>(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror']);

interface SpfOutcome {
  result: SpfResult;
  comment: string | undefined;
  /** The domain whose policy was checked (MAIL FROM's, or HELO's for the null sender). */
  domain: string | null;
  props: Array<[string, string | undefined]>;
}

async function checkSpf(input: SenderAuthInput, resolver: DnsResolver, deadline: number): Promise<SpfOutcome> {
  const key = `spf ${input.ip} ${input.helo} ${input.mailFrom}`;
  const cached = input.cache?.get(key) as SpfOutcome | undefined;
  if (cached) return cached;
  const outcome = await evaluateSpf(input, resolver, deadline);
  if (outcome.result !== 'temperror') input.cache?.set(key, outcome);
  return outcome;
}

async function evaluateSpf(input: SenderAuthInput, resolver: DnsResolver, deadline: number): Promise<SpfOutcome> {
  const helo = input.helo.trim();
  const mailFrom = input.mailFrom.trim();
  const props: Array<[string, string | undefined]> = mailFrom ? [['smtp.mailfrom', mailFrom], ['smtp.helo', helo]] : [['smtp.helo', helo]];
  // RFC 7208 2.4: with the null sender, the HELO identity is checked as
  // postmaster@HELO; an address literal or an empty HELO has no policy.
  const heloIsDomain = helo !== '' && isIP(helo.replace(/^\[(?:ipv6:)?|\]$/gi, '')) === 0 && helo.includes('.');
  if (!mailFrom && !heloIsDomain) {
    return { result: 'none', comment: `${input.hostname}: no identity to check (null sender, HELO ${helo || 'empty'})`, domain: null, props };
  }
  const temperror = (): SpfOutcome => ({ result: 'temperror', comment: `${input.hostname}: SPF check did not complete`, domain: null, props });
  const res = await within<SPFResult | null>(
    spfVerify({
      ip: input.ip,
      helo: heloIsDomain ? helo : isIP(helo) ? `[${helo}]` : helo,
      mta: input.hostname,
      resolver,
      ...(mailFrom ? { sender: mailFrom } : {}),
    }),
    deadline,
    () => null,
  );
  if (!res) return temperror();
  const raw = String(res.status?.result ?? 'temperror');
  // mailauth spells the temporary error 'temperr' in a few places.
  const result: SpfResult = raw === 'temperr' ? 'temperror' : SPF_RESULTS.has(raw as SpfResult) ? (raw as SpfResult) : 'temperror';
  return { result, comment: res.status?.comment, domain: res.domain || null, props };
}

function mapDkim(r: DKIMResult): { result: string; note: string | undefined } {
  const result = String(r.status?.result ?? 'none');
  const note = r.status?.comment;
  // RFC 6376 6.1.3: a body hash mismatch is a verification failure; mailauth
  // reports it as neutral, which would hide an altered message.
  if (result === 'neutral' && note === 'body hash did not verify') return { result: 'fail', note };
  if (result === 'temperr') return { result: 'temperror', note };
  return { result, note };
}

function normalisePolicy(p: unknown): DmarcPolicy {
  const v = String(p ?? '')
    .trim()
    .toLowerCase();
  // RFC 7489 6.6.3: an unknown p= is treated as if it were absent ("none").
  return v === 'reject' || v === 'quarantine' ? v : 'none';
}

function fromDomain(headerFrom: string[] | undefined): string | null {
  if (!headerFrom || headerFrom.length !== 1) return null;
  const addr = headerFrom[0] ?? '';
  const at = addr.lastIndexOf('@');
  const domain = (at >= 0 ? addr.slice(at + 1) : addr).trim().toLowerCase();
  return domain || null;
}

/** Header fields that make the body matter to DKIM or ARC verification. */
const SIGNATURE_FIELDS = new Set(['dkim-signature', 'arc-seal', 'arc-message-signature']);

/** Whether a signature field starts within the part of the header that can be verified. */
function isSigned(message: ParsedMessage): boolean {
  return message.header.fields.some((f) => f.start < VERIFIED_HEADER_LIMITS.bytes && SIGNATURE_FIELDS.has(f.key));
}

/**
 * Header sections beyond these bounds are not given to the DKIM verifier:
 * mailauth's header parser takes time quadratic in the number of folded
 * lines and in runs of CRs, all of it in one turn of the event loop. 1,000
 * lines parse in a few milliseconds; real mail has a few dozen to a few
 * hundred. A bare CR is a syntax error in a header (RFC 5322 2.2).
 */
export const VERIFIED_HEADER_LIMITS = { bytes: 256 * 1024, lines: 1000 } as const;

/** Why the header section (raw[0, end)) cannot be verified, or undefined when it can. */
function unverifiableHeader(raw: Buffer, end: number): string | undefined {
  if (end > VERIFIED_HEADER_LIMITS.bytes) return `header section over ${VERIFIED_HEADER_LIMITS.bytes} bytes`;
  let lines = 0;
  for (let i = raw.indexOf(0x0a); i >= 0 && i < end; i = raw.indexOf(0x0a, i + 1)) {
    if (++lines > VERIFIED_HEADER_LIMITS.lines) return `header section over ${VERIFIED_HEADER_LIMITS.lines} lines`;
  }
  for (let i = raw.indexOf(0x0d); i >= 0 && i < end; i = raw.indexOf(0x0d, i + 1)) {
    if (raw[i + 1] !== 0x0a) return 'bare CR in the header section';
  }
  return undefined;
}

/**
 * The message as DKIM verification needs it: whole when it carries a
 * signature; otherwise just the header section, since without a signature
 * the body is never hashed and only the From field is read.
 */
function withoutUnsignedBody(raw: Buffer, end: number, signed: boolean): Buffer {
  return signed ? raw : raw.subarray(0, end);
}

/**
 * Only the From fields, for a header that is not verified: DMARC still needs
 * the From domain. A From field that is itself unverifiable is left out.
 */
function fromFieldsOnly(message: ParsedMessage): Buffer {
  const header = message.header;
  const head = Buffer.concat(
    header.all('from').map((f) => {
      const bytes = header.bytes(f);
      return bytes[bytes.length - 1] === 0x0a ? bytes : Buffer.concat([bytes, Buffer.from('\r\n')]);
    }),
  );
  const minimal = Buffer.concat([head, Buffer.from('\r\n')]);
  return unverifiableHeader(minimal, head.length) ? Buffer.from('\r\n') : minimal;
}

/**
 * The message as a stream of small chunks with a turn of the event loop
 * between them: mailauth works through a Buffer chunk after chunk without
 * ever yielding, so a large message would stall every other connection.
 */
function inSlices(raw: Buffer, size = 16 * 1024): Readable {
  return Readable.from(
    (async function* () {
      for (let pos = 0; pos < raw.length; pos += size) {
        if (pos > 0) await new Promise((resolve) => setImmediate(resolve));
        yield raw.subarray(pos, pos + size);
      }
    })(),
    { objectMode: false },
  );
}

/**
 * dkimVerify for a header section that carries no signature (the common
 * case; the body is not needed then): mailauth's own verifier, fed as its
 * stream parser would feed it, without the stream. That parser looks at the
 * header one byte at a time with an array per byte, and the stream costs a
 * few turns of the event loop: together most of the check's CPU. For a
 * header with no empty line the stream calls finalChunk (nothing to verify:
 * result none) and then messageHeaders with tools.parseHeaders over the
 * bytes, bare LFs made CRLF; so does this, so the outcome is the same.
 */
export async function verifyUnsigned(header: Buffer, options: { resolver: DnsResolver; minBitLength: number; sender?: string }): Promise<DKIMVerifyResult> {
  const verifier = new verifierModule.DkimVerifier(options);
  await verifier.finalChunk();
  if (header.length > 0) await verifier.messageHeaders(mailauthTools.parseHeaders(toCrlf(header)));
  const result = { headerFrom: verifier.headerFrom, envelopeFrom: verifier.envelopeFrom, results: verifier.results } as DKIMVerifyResult;
  Object.defineProperty(result, 'arc', { enumerable: false, value: verifier.arc });
  return result;
}

async function run(input: SenderAuthInput, resolver: DnsResolver, deadline: number): Promise<SenderAuthResult> {
  const minBitLength = input.minBitLength ?? 1024;

  const raw = input.message.raw;
  const headerEnd = input.message.header.headerEnd;
  const signed = isSigned(input.message);
  const unverifiable = unverifiableHeader(raw, headerEnd);
  const dkimInput = unverifiable ? fromFieldsOnly(input.message) : withoutUnsignedBody(raw, headerEnd, signed);

  const dkimOptions = { resolver, minBitLength, ...(input.mailFrom ? { sender: input.mailFrom } : {}) };
  const [spf, dkimRes] = await Promise.all([
    checkSpf(input, resolver, deadline),
    // Without a signature there is no DNS to wait for: no timer.
    !unverifiable && !signed
      ? verifyUnsigned(dkimInput, dkimOptions).catch(() => null)
      : within<DKIMVerifyResult | null>(dkimVerify(inSlices(dkimInput), dkimOptions), deadline, () => null),
  ]);

  const resinfos: string[] = [];
  resinfos.push(resinfoOnce(spf, () => resinfo('spf', spf.result, spf.comment, spf.props)));

  // DKIM
  const dkim: DkimSignatureResult[] = [];
  const passingDkim: Array<{ id?: string; domain: string; aligned?: boolean; underSized?: boolean }> = [];
  if (unverifiable && signed) {
    dkim.push({ result: 'permerror', domain: '', selector: '' });
    resinfos.push(resinfo('dkim', 'permerror', `not verified: ${unverifiable}`, []));
  } else if (!dkimRes) {
    dkim.push({ result: 'temperror', domain: '', selector: '' });
    resinfos.push(resinfo('dkim', 'temperror', 'DKIM verification did not complete', []));
  } else {
    for (const r of dkimRes.results ?? []) {
      if (!r.signingDomain) {
        dkim.push({ result: 'none', domain: '', selector: '' });
        resinfos.push(resinfo('dkim', 'none', undefined, []));
        continue;
      }
      const { result, note } = mapDkim(r);
      const aligned = Boolean(r.status?.aligned);
      dkim.push({ result, domain: r.signingDomain, selector: r.selector ?? '', aligned });
      const hdr = (r.status?.header ?? {}) as Record<string, unknown>;
      const b = typeof hdr['b'] === 'string' ? hdr['b'] : undefined;
      const a = typeof hdr['a'] === 'string' ? hdr['a'] : undefined;
      const policyRule = (r.status?.policy as Record<string, string | undefined> | undefined)?.['dkim-rules'];
      resinfos.push(
        resinfo('dkim', result, note, [
          ['policy.dkim-rules', policyRule],
          ['header.d', r.signingDomain],
          ['header.s', r.selector],
          ['header.a', a],
          ['header.b', b],
        ]),
      );
      if (r.status?.result === 'pass') {
        passingDkim.push({
          ...(r.id ? { id: r.id } : {}),
          domain: r.signingDomain,
          aligned,
          underSized: Boolean(r.status?.underSized),
        });
      }
    }
    if (dkim.length === 0) {
      dkim.push({ result: 'none', domain: '', selector: '' });
      resinfos.push(resinfo('dkim', 'none', undefined, []));
    }
  }

  // ARC: reported when the message carries a chain; verification only.
  let arc: SenderAuthResult['arc'];
  let arcResult: ARCResult | null = null;
  const chain = dkimRes?.arc;
  if (chain && ((Array.isArray(chain.chain) && chain.chain.length > 0) || chain.error)) {
    arcResult = await within<ARCResult | null>(
      arcVerify(chain as Parameters<typeof arcVerify>[0], { resolver, minBitLength }),
      deadline,
      () => null,
    );
  }
  if (arcResult && arcResult.status?.result !== 'none') {
    const r = arcResult.status.result === 'pass' ? 'pass' : 'fail';
    const instance = typeof arcResult.i === 'number' ? arcResult.i : null;
    arc = { result: r, instance };
    // mailauth's pass comment repeats the sealer's own (unverified) claims,
    // e.g. "spf=pass dmarc=pass": keep those out of our header.
    let note: string | undefined;
    if (r === 'pass') {
      const last = arcResult.chain?.[arcResult.chain.length - 1];
      const sealer = String(last?.['arc-seal']?.parsed?.d?.value ?? '');
      note = [instance ? `i=${instance}` : '', /^[a-z0-9.-]+$/i.test(sealer) ? `sealed by ${sealer}` : ''].filter(Boolean).join(' ') || undefined;
    } else {
      note = arcResult.status.comment ?? (instance ? `i=${instance}` : undefined);
    }
    resinfos.push(resinfo('arc', r, note, []));
  }

  // DMARC
  const domain = fromDomain(dkimRes?.headerFrom);
  let dmarc: SenderAuthResult['dmarc'];
  if (!dkimRes) {
    dmarc = { result: 'temperror', policy: null, domain: null };
    resinfos.push(resinfo('dmarc', 'temperror', 'message headers were not evaluated', []));
  } else if (!domain) {
    // RFC 7489 6.6.1: DMARC needs exactly one From domain.
    const n = dkimRes.headerFrom?.length ?? 0;
    dmarc = { result: 'permerror', policy: null, domain: null };
    resinfos.push(resinfo('dmarc', 'permerror', n === 0 ? 'no From address' : 'more than one From address', []));
  } else {
    const spfDomains = spf.result === 'pass' && spf.domain ? [spf.domain] : [];
    const key = arcResult ? undefined : `dmarc ${domain} ${JSON.stringify(spfDomains)} ${JSON.stringify(passingDkim)}`;
    const cached = key === undefined ? undefined : (input.cache?.get(key) as DMARCResult | undefined);
    const res =
      cached ??
      (await within<DMARCResult | false | null>(
        dmarcVerify({
          headerFrom: domain,
          spfDomains,
          dkimDomains: passingDkim,
          resolver,
          ...(arcResult ? { arcResult } : {}),
        }),
        deadline,
        () => null,
      ));
    if (!res) {
      dmarc = { result: 'temperror', policy: null, domain };
      resinfos.push(resinfo('dmarc', 'temperror', 'DMARC policy lookup did not complete', [['header.from', domain]]));
    } else {
      const raw = String(res.status?.result ?? 'temperror');
      const known: readonly string[] = ['pass', 'fail', 'none', 'temperror', 'permerror'];
      const result: DmarcResult = raw === 'temperr' ? 'temperror' : known.includes(raw) ? (raw as DmarcResult) : 'permerror';
      if (key !== undefined && !cached && result !== 'temperror') input.cache?.set(key, res);
      const hasRecord = result === 'pass' || result === 'fail';
      dmarc = { result, policy: hasRecord ? normalisePolicy(res.policy) : null, domain };
      const note = typeof res.status?.comment === 'string' && res.status.comment ? res.status.comment : undefined;
      // The same answer object comes back from the cache only under a key that names this domain.
      resinfos.push(resinfoOnce(res, () => resinfo('dmarc', result, note, [['header.from', domain]])));
    }
  }

  const out: SenderAuthResult = { header: buildHeader(input.hostname, resinfos), spf: spf.result, dkim, dmarc };
  if (arc) out.arc = arc;
  return out;
}

function temperrorResult(input: SenderAuthInput): SenderAuthResult {
  const note = 'sender checks did not complete';
  return {
    header: buildHeader(input.hostname, [
      resinfo('spf', 'temperror', note, input.mailFrom ? [['smtp.mailfrom', input.mailFrom]] : [['smtp.helo', input.helo]]),
      resinfo('dkim', 'temperror', note, []),
      resinfo('dmarc', 'temperror', note, []),
    ]),
    spf: 'temperror',
    dkim: [{ result: 'temperror', domain: '', selector: '' }],
    dmarc: { result: 'temperror', policy: null, domain: null },
  };
}

/**
 * Runs SPF, DKIM, ARC and DMARC for one message. Never throws; bounded by
 * input.timeoutMs (default 10 s) however slow DNS is.
 */
export async function checkSender(input: SenderAuthInput): Promise<SenderAuthResult> {
  const deadline = Date.now() + (input.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    const resolver = deadlineResolver(input.resolver, deadline);
    // The inner steps give up at the deadline themselves; the outer bound
    // is for anything that does not (CPU-bound parsing of a huge message).
    return await within(run(input, resolver, deadline), deadline + 250, () => temperrorResult(input));
  } catch {
    return temperrorResult(input);
  }
}

/**
 * Removes Authentication-Results fields that claim to come from us
 * (RFC 8601 section 5): a sender could otherwise add
 * "Authentication-Results: <our host>; dkim=pass; dmarc=pass" and have it
 * trusted by Sieve scripts and mail clients. Fields from other hosts stay.
 * Only the header section is touched; the body is returned byte for byte.
 * Run it after checkSender (which needs the message as received) and before
 * our own field is prepended.
 *
 * Linear in the message: the header view (mime/) splits it at LFs (a bare
 * CR is ordinary text inside a line), never by a backtracking pattern.
 */
export function removeOwnAuthResults(message: ParsedMessage, authservId: string): ParsedMessage {
  const id = authservId.replace(/\.$/, '').toLowerCase();
  const header = message.header;
  return message.without((f) => claimedAuthservId(header.raw, f) === id);
}

const AUTH_RESULTS_NAME = 'authentication-results';

/**
 * For an Authentication-Results field, its authserv-id (lower case, without
 * a trailing dot): the first token or quoted-string of the value, comments
 * and folding skipped. Undefined for any other field.
 */
function claimedAuthservId(raw: Buffer, f: HeaderField): string | undefined {
  if (f.key !== AUTH_RESULTS_NAME) return undefined;
  const field = raw.toString('latin1', f.valueStart, f.end);
  let i = 0;
  // CFWS: white space, line breaks and (nested) comments.
  for (let depth = 0; i < field.length; i++) {
    const c = field[i];
    if (c === '\\' && depth > 0) i++;
    else if (c === '(') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (depth === 0 && c !== ' ' && c !== '\t' && c !== '\r' && c !== '\n') break;
  }
  let value = '';
  if (field[i] === '"') {
    for (i++; i < field.length && field[i] !== '"'; i++) {
      if (field[i] === '\\') i++;
      if (i < field.length) value += field[i];
    }
  } else {
    const from = i;
    while (i < field.length && !/[\s;()]/.test(field[i]!)) i++;
    value = field.slice(from, i);
  }
  return value.replace(/\.$/, '').toLowerCase();
}
