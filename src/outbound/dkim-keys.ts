// DKIM keys of the local domains, in the data dir:
//
//   DIR/dkim/DOMAIN/SELECTOR.key   the private key (PKCS#8 PEM, mode 600; directories 700)
//   DIR/dkim/DOMAIN/active         the selector that signs (one line)
//
// The first key of a domain becomes active at once; a later one waits
// until `postino dkim activate` (after its DNS record is published), so a
// rotation never signs with a key the world cannot see yet.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { MailError } from '../../storage/errors.js';
import { makePrivateDir, replaceSecretFile, writeNewSecretFile } from './secret-files.js';

export type DkimKeyType = 'rsa' | 'ed25519';

/** RSA keys: 2048 bits (RFC 8301 requires at least 1024 and recommends 2048; the DNS doctor flags less). */
export const DKIM_RSA_BITS = 2048;

/** A TXT character-string holds at most 255 octets (RFC 1035 3.3.14). */
const TXT_STRING_MAX = 255;

const DOMAIN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
/** One DNS label: what we accept as a selector (RFC 6376 allows dotted ones; we keep file names plain). */
const SELECTOR = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export interface DkimKeyInfo {
  domain: string;
  selector: string;
  type: DkimKeyType;
  /** RSA modulus length; absent for Ed25519. */
  bits?: number;
  active: boolean;
  /** When the key file was written (ISO 8601). */
  created: string;
  /** The TXT record's name: SELECTOR._domainkey.DOMAIN */
  name: string;
  /** The record's value: "v=DKIM1; k=rsa; p=..." */
  value: string;
  /** The record as a zone-file line: NAME IN TXT "..." ["..."] */
  record: string;
}

export interface ActiveDkimKey {
  domain: string;
  selector: string;
  type: DkimKeyType;
  privateKey: KeyObject;
}

export function isDkimDomain(domain: string): boolean {
  return domain.length <= 253 && DOMAIN.test(domain);
}

export function isDkimSelector(selector: string): boolean {
  return SELECTOR.test(selector);
}

/** The value of the DKIM TXT record of a public key (RFC 6376 3.6.1; Ed25519: the raw key, RFC 8463). */
export function dkimRecordValue(publicKey: KeyObject): string {
  const type = publicKey.asymmetricKeyType;
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  if (type === 'ed25519') return `v=DKIM1; k=ed25519; p=${spki.subarray(spki.length - 32).toString('base64')}`;
  if (type === 'rsa') return `v=DKIM1; k=rsa; p=${spki.toString('base64')}`;
  throw new MailError('BADINPUT', `not a DKIM key type: ${String(type)}`);
}

/**
 * The record as one zone-file line that BIND (and every DNS host's import)
 * accepts: the value cut into quoted character-strings of at most 255
 * octets, side by side on the line; a verifier joins them (RFC 6376 3.6.2.2).
 */
export function dkimTxtRecord(selector: string, domain: string, value: string): string {
  const strings: string[] = [];
  for (let i = 0; i < value.length; i += TXT_STRING_MAX) strings.push(`"${value.slice(i, i + TXT_STRING_MAX)}"`);
  return `${selector}._domainkey.${domain} IN TXT ${strings.join(' ')}`;
}

/** A selector named after the month, as many operators do (s202612), made unique within the domain. */
export function defaultSelector(now: Date, taken: (selector: string) => boolean): string {
  const base = `s${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
  if (!taken(base)) return base;
  for (let n = 2; ; n++) if (!taken(`${base}-${n}`)) return `${base}-${n}`;
}

export class DkimKeyStore {
  constructor(private readonly dataDir: string) {}

  private domainDir(domain: string): string {
    if (!isDkimDomain(domain)) throw new MailError('BADINPUT', `not a domain name: ${JSON.stringify(domain.slice(0, 300))}`);
    return path.join(this.dataDir, 'dkim', domain);
  }

  private keyFile(domain: string, selector: string): string {
    if (!isDkimSelector(selector)) throw new MailError('BADINPUT', `not a selector (one DNS label: letters, digits, hyphens): ${JSON.stringify(selector.slice(0, 100))}`);
    return path.join(this.domainDir(domain), `${selector}.key`);
  }

  hasKey(domain: string, selector: string): boolean {
    return existsSync(this.keyFile(domain, selector));
  }

  /** Makes a key; the domain's first becomes active. Refuses a selector that has one. */
  generate(domain: string, selector: string, type: DkimKeyType): DkimKeyInfo {
    const file = this.keyFile(domain, selector);
    const pair =
      type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: DKIM_RSA_BITS, publicExponent: 0x10001 })
        : generateKeyPairSync('ed25519');
    const pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' });
    makePrivateDir(path.dirname(file));
    if (!writeNewSecretFile(file, pem)) throw new MailError('ALREADYEXISTS', `${domain} has a key with selector ${selector} already`);
    if (this.activeSelector(domain) === undefined) this.activate(domain, selector);
    return this.info(domain, selector);
  }

  /** Makes selector the one that signs for domain. */
  activate(domain: string, selector: string): void {
    if (!this.hasKey(domain, selector)) throw new MailError('NONEXISTENT', `${domain} has no key with selector ${selector}`);
    replaceSecretFile(path.join(this.domainDir(domain), 'active'), `${selector}\n`);
  }

  activeSelector(domain: string): string | undefined {
    let text;
    try {
      text = readFileSync(path.join(this.domainDir(domain), 'active'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const selector = text.trim();
    return isDkimSelector(selector) ? selector : undefined;
  }

  /** The key that signs for domain, if it has one. */
  activeKey(domain: string): ActiveDkimKey | undefined {
    if (!isDkimDomain(domain)) return undefined;
    const selector = this.activeSelector(domain);
    if (selector === undefined) return undefined;
    const privateKey = this.privateKey(domain, selector);
    return privateKey && { domain, selector, type: privateKey.asymmetricKeyType as DkimKeyType, privateKey };
  }

  /** Keys of one domain, or of all, by domain then selector. */
  list(domain?: string): DkimKeyInfo[] {
    const domains = domain !== undefined ? [domain] : this.domains();
    return domains.flatMap((d) => {
      const dir = this.domainDir(d);
      if (!existsSync(dir)) return [];
      return readdirSync(dir)
        .filter((f) => f.endsWith('.key') && isDkimSelector(f.slice(0, -4)))
        .map((f) => f.slice(0, -4))
        .sort()
        .map((s) => this.info(d, s));
    });
  }

  /** The public side of a key as its DNS record shows it. */
  info(domain: string, selector: string): DkimKeyInfo {
    const privateKey = this.privateKey(domain, selector);
    if (!privateKey) throw new MailError('NONEXISTENT', `${domain} has no key with selector ${selector}`);
    const publicKey = createPublicKey(privateKey);
    const value = dkimRecordValue(publicKey);
    const type = privateKey.asymmetricKeyType as DkimKeyType;
    const bits = publicKey.asymmetricKeyDetails?.modulusLength;
    return {
      domain,
      selector,
      type,
      ...(type === 'rsa' && bits !== undefined ? { bits } : {}),
      active: this.activeSelector(domain) === selector,
      created: statSync(this.keyFile(domain, selector)).mtime.toISOString(),
      name: `${selector}._domainkey.${domain}`,
      value,
      record: dkimTxtRecord(selector, domain, value),
    };
  }

  private domains(): string[] {
    const root = path.join(this.dataDir, 'dkim');
    if (!existsSync(root)) return [];
    return readdirSync(root).filter(isDkimDomain).sort();
  }

  private privateKey(domain: string, selector: string): KeyObject | undefined {
    let pem;
    try {
      pem = readFileSync(this.keyFile(domain, selector));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      return createPrivateKey(pem);
    } catch (err) {
      throw new MailError('BADINPUT', `${this.keyFile(domain, selector)} is not a private key (${(err as Error).message})`, { cause: err });
    }
  }
}

/** The tags of a DKIM record ("v=DKIM1; k=rsa; p=..."), names lower-cased, whitespace inside values dropped (RFC 6376 3.2). */
export function dkimRecordTags(record: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of record.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/\s+/g, ''));
  }
  return tags;
}

/** Whether a published record (its strings joined) carries the key of expected (our record's value): same key type and p=. */
export function dkimRecordMatches(published: string, expected: string): boolean {
  const have = dkimRecordTags(published);
  const want = dkimRecordTags(expected);
  const version = have.get('v');
  if (version !== undefined && version !== 'DKIM1') return false;
  return (have.get('k') ?? 'rsa') === want.get('k') && have.get('p') === want.get('p') && want.get('p') !== '';
}
