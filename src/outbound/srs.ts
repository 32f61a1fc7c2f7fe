// The Sender Rewriting Scheme (SRS0, as in Shevek's paper and libsrs2 /
// postsrsd): a message forwarded to another domain leaves with an envelope
// sender in one of our domains, so SPF passes at the next hop, and a bounce
// to that address can be sent back to the original sender.
//
//   SRS0=HHHHHHHH=TT=orig-domain=orig-local@our-domain
//
// HHHHHHHH: HMAC-SHA256 over "TT=orig-domain=orig-local" (lower case: hops
// may change an address's case), first 40 bits in base32; TT: the day
// number modulo 1024 in two base32 digits. Both compared case-insensitively.
// Only what we made verifies, and only for SRS_VALID_DAYS.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Directory } from '../../storage/ports.js';
import type { SenderRewriter } from './transport.js';
import { makePrivateDir, writeNewSecretFile } from './secret-files.js';

/** How long a bounce to an SRS address is accepted after the message left (postsrsd: 21 days). */
export const SRS_VALID_DAYS = 21;
/** A clock a day ahead of the one that made the address must not refuse it. */
const FUTURE_DAYS = 1;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const HASH_CHARS = 8;
const DAY_MS = 86_400_000;
/** RFC 5321 allows a path of 256 octets; the SRS form adds ~20 to that. Anything longer is not ours. */
export const MAX_SRS_ADDRESS = 320;
/** What we rewrite: a path a server could have sent us (RFC 5321 4.5.3.1.3). */
const MAX_SENDER = 256;
/** A local part that needs no quoting (a dot-atom of atext, UTF-8 allowed). */
const PLAIN_LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+)*$/;
const DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const SRS_SHAPED = /^srs[01][=+-]/i;

export type SrsCheck =
  /** The local part does not start SRS0= / SRS1=: an ordinary address. */
  | { kind: 'not-srs' }
  | { kind: 'valid'; original: string }
  /** SRS-shaped but not in our form (SRS1, missing parts, bad characters, too long). */
  | { kind: 'malformed' }
  /** The hash does not match: we did not make it. */
  | { kind: 'forged' }
  | { kind: 'expired' };

export class SrsCodec {
  /**
   * `older`: secrets this server signed with before (a node's own key from
   * before its nodes shared one), still accepted in bounces, never used to sign.
   */
  constructor(
    private readonly secret: Buffer,
    private readonly now: () => number = Date.now,
    private readonly older: readonly Buffer[] = [],
  ) {
    if ([secret, ...older].some((s) => s.length < 16)) throw new Error('the SRS secret is too short');
  }

  /** The SRS0 address for sender at srsDomain; undefined when sender cannot be put in one (quoted local part, address literal, too long). */
  encode(sender: string, srsDomain: string): string | undefined {
    if (sender.length > MAX_SENDER) return undefined;
    const at = sender.lastIndexOf('@');
    if (at <= 0) return undefined;
    const local = sender.slice(0, at);
    const domain = sender.slice(at + 1);
    if (!PLAIN_LOCAL.test(local) || !DOMAIN.test(domain)) return undefined;
    const tt = timestamp(this.today());
    return `SRS0=${this.hash(tt, domain, local)}=${tt}=${domain}=${local}@${srsDomain}`;
  }

  /**
   * What address stands behind an SRS0 address of ours. Linear in the input
   * and bounded: anything over MAX_SRS_ADDRESS is malformed unread.
   */
  reverse(address: string): SrsCheck {
    const at = address.lastIndexOf('@');
    if (at <= 0 || !SRS_SHAPED.test(address)) return { kind: 'not-srs' };
    if (address.length > MAX_SRS_ADDRESS || !/^srs0=/i.test(address)) return { kind: 'malformed' };
    const local = address.slice(0, at);
    // SRS0=HASH=TT=DOMAIN=LOCAL: the original local part may itself hold '='.
    const fields: string[] = [];
    let from = 5;
    for (let i = 0; i < 3; i++) {
      const eq = local.indexOf('=', from);
      if (eq < 0) return { kind: 'malformed' };
      fields.push(local.slice(from, eq));
      from = eq + 1;
    }
    const [hash, tt, domain] = fields as [string, string, string];
    const origLocal = local.slice(from);
    if (hash.length !== HASH_CHARS || !isBase32(hash) || tt.length !== 2 || !isBase32(tt)) return { kind: 'malformed' };
    if (!DOMAIN.test(domain) || !PLAIN_LOCAL.test(origLocal)) return { kind: 'malformed' };
    const given = Buffer.from(hash.toUpperCase());
    const ours = [this.secret, ...this.older].some((secret) => timingSafeEqual(Buffer.from(this.hash(tt, domain, origLocal, secret)), given));
    if (!ours) return { kind: 'forged' };
    const age = (this.today() - days(tt) + 1024) % 1024;
    if (age > SRS_VALID_DAYS && age < 1024 - FUTURE_DAYS) return { kind: 'expired' };
    return { kind: 'valid', original: `${origLocal}@${domain}` };
  }

  private today(): number {
    return Math.floor(this.now() / DAY_MS) % 1024;
  }

  private hash(tt: string, domain: string, local: string, secret = this.secret): string {
    const mac = createHmac('sha256', secret).update(`${tt}=${domain}=${local}`.toLowerCase()).digest();
    return base32(mac.subarray(0, (HASH_CHARS * 5) / 8));
  }
}

function timestamp(day: number): string {
  return BASE32[day >> 5]! + BASE32[day & 31]!;
}

function days(tt: string): number {
  const up = tt.toUpperCase();
  return (BASE32.indexOf(up[0]!) << 5) | BASE32.indexOf(up[1]!);
}

function isBase32(s: string): boolean {
  return /^[A-Za-z2-7]+$/.test(s);
}

/** RFC 4648 base32 without padding, for lengths that are multiples of 5 bytes. */
function base32(bytes: Buffer): string {
  let out = '';
  for (let i = 0; i + 5 <= bytes.length; i += 5) {
    let bits = 0n;
    for (let j = 0; j < 5; j++) bits = (bits << 8n) | BigInt(bytes[i + j]!);
    for (let shift = 35n; shift >= 0n; shift -= 5n) out += BASE32[Number((bits >> shift) & 31n)]!;
  }
  return out;
}

/** Where the secret lives: DIR/srs.key (base64 of 32 random bytes, one line, mode 600). */
export function srsSecretPath(dataDir: string): string {
  return path.join(dataDir, 'srs.key');
}

/**
 * The SRS secret of this data dir, made on first use and kept: every node
 * that accepts bounces for our domains needs the same one (copy the file).
 */
export function loadOrCreateSrsSecret(dataDir: string): Buffer {
  const file = srsSecretPath(dataDir);
  const existing = readSecret(file);
  if (existing) return existing;
  makePrivateDir(dataDir);
  writeNewSecretFile(file, `${newSrsSecret().toString('base64')}\n`);
  const made = readSecret(file);
  if (!made) throw new Error(`${file}: could not be read back`);
  return made;
}

/** A new SRS secret: 32 random bytes. */
export function newSrsSecret(): Buffer {
  return randomBytes(32);
}

/** The data dir's SRS secret, if it has one (made by an earlier start). */
export function readSrsSecret(dataDir: string): Buffer | undefined {
  return readSecret(srsSecretPath(dataDir));
}

function readSecret(file: string): Buffer | undefined {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const secret = Buffer.from(text.trim(), 'base64');
  if (secret.length < 16) throw new Error(`${file}: not an SRS secret (expected base64 of 32 bytes)`);
  return secret;
}

/**
 * The SenderRewriter of the queue runner. The SRS domain is the local
 * domain the server's hostname is in (mail.example.com -> example.com; the
 * first local domain when the hostname is in none), the same rule as the
 * bare <postmaster>: a queue entry does not say which alias forwarded it,
 * our MX accepts mail for that domain already, and its SPF record names
 * this server because the domain's own mail leaves from here.
 */
export class SrsRewriter implements SenderRewriter {
  constructor(
    private readonly codec: SrsCodec,
    private readonly directory: Pick<Directory, 'hasDomain' | 'listDomains'>,
    private readonly hostname: string,
  ) {}

  async forwardSender(sender: string): Promise<string> {
    if (sender === '') return sender;
    const at = sender.lastIndexOf('@');
    if (at <= 0) return sender;
    if (await this.directory.hasDomain(sender.slice(at + 1).toLowerCase())) return sender;
    const domain = await this.srsDomain();
    return domain === undefined ? sender : (this.codec.encode(sender, domain) ?? sender);
  }

  private async srsDomain(): Promise<string | undefined> {
    const domains = (await this.directory.listDomains()).map((d) => d.name);
    const host = this.hostname.toLowerCase();
    return domains.find((d) => host === d || host.endsWith(`.${d}`)) ?? domains[0];
  }
}
