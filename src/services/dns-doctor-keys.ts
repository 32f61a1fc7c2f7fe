// The DKIM keys Postino has for a domain, as `postino dkim keygen` leaves them:
// DIR/dkim/DOMAIN/SELECTOR.key (a PEM private key, RSA or Ed25519) and
// DIR/dkim/DOMAIN/active (the selector that signs). Only the public half is
// taken from each key: the value of p= its DNS record must carry.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface DkimKeyInfo {
  selector: string;
  type: 'rsa' | 'ed25519';
  /** RSA modulus length; 256 for Ed25519. */
  bits: number;
  /** The p= value: base64 SubjectPublicKeyInfo for RSA, the raw 32-byte key for Ed25519 (RFC 8463). */
  publicKey: string;
  /** Whether this selector signs now (a new one waits for its record before it is activated). */
  active: boolean;
}

export type DkimKeyEntry = DkimKeyInfo | { selector: string; error: string };

/** A selector is a DNS label sequence (RFC 6376 3.1); anything else in the folder is not a key of ours. */
const SELECTOR = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}(\.[A-Za-z0-9][A-Za-z0-9-]{0,62}){0,3}$/;
/** A private key file bigger than this is not a DKIM key. */
const MAX_KEY_FILE = 64 * 1024;

export function dkimKeyDir(dataDir: string, domain: string): string {
  return path.join(dataDir, 'dkim', domain.toLowerCase());
}

/** p= for a public key, as DKIM publishes it. */
export function dkimPublicValue(key: KeyObject): string {
  const spki = key.export({ type: 'spki', format: 'der' });
  // An Ed25519 SubjectPublicKeyInfo is a fixed 12-byte header and the 32-byte key.
  return key.asymmetricKeyType === 'ed25519' ? spki.subarray(spki.length - 32).toString('base64') : spki.toString('base64');
}

/** Every selector with a key file, sorted; unreadable keys are listed with the reason. */
export function readDkimKeys(dataDir: string, domain: string): DkimKeyEntry[] {
  const dir = dkimKeyDir(dataDir, domain);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  let active: string | undefined;
  try {
    active = readFileSync(path.join(dir, 'active'), 'utf8').slice(0, 300).trim();
  } catch {
    active = undefined;
  }
  const out: DkimKeyEntry[] = [];
  for (const name of names.sort()) {
    if (!name.endsWith('.key')) continue;
    const selector = name.slice(0, -'.key'.length);
    if (!SELECTOR.test(selector)) continue;
    try {
      const pem = readFileSync(path.join(dir, name));
      if (pem.length > MAX_KEY_FILE) throw new Error('file too big for a key');
      const pub = createPublicKey(createPrivateKey(pem));
      const type = pub.asymmetricKeyType;
      if (type !== 'rsa' && type !== 'ed25519') throw new Error(`unsupported key type ${String(type)}`);
      const bits = type === 'rsa' ? (pub.asymmetricKeyDetails?.modulusLength ?? 0) : 256;
      out.push({ selector, type, bits, publicKey: dkimPublicValue(pub), active: selector === active });
    } catch (err) {
      out.push({ selector, error: `cannot read ${path.join(dir, name)}: ${(err as Error).message}` });
    }
  }
  return out;
}

/**
 * The public key a p= value names, in the same form as dkimPublicValue gives,
 * or undefined when it is not a key: RSA as SubjectPublicKeyInfo or as a bare
 * RSAPublicKey (both are met in the wild), Ed25519 as its 32 raw bytes.
 */
export function normalisePublishedKey(p: string, keyType: string): { value: string; bits: number } | undefined {
  const b64 = p.replace(/[\s]/g, '');
  if (b64.length === 0 || b64.length > 8192 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return undefined;
  const der = Buffer.from(b64, 'base64');
  if (keyType === 'ed25519') return der.length === 32 ? { value: der.toString('base64'), bits: 256 } : undefined;
  for (const type of ['spki', 'pkcs1'] as const) {
    try {
      const key = createPublicKey({ key: der, format: 'der', type });
      if (key.asymmetricKeyType !== 'rsa') return undefined;
      return { value: dkimPublicValue(key), bits: key.asymmetricKeyDetails?.modulusLength ?? 0 };
    } catch {
      // try the other form
    }
  }
  return undefined;
}
