// Password hashes brought from Dovecot (postino import dovecot --all), kept
// as Dovecot wrote them ("{SCHEME}..." or a bare crypt string) and checked
// at login until the next successful one rehashes to Postino's scheme.
// SHA512-CRYPT ($6$) is Drepper's SHA-crypt, done here over node:crypto;
// SSHA512 and PLAIN are one hash or none. BLF-CRYPT (bcrypt, bcrypt.ts) and
// ARGON2ID/ARGON2I (argon2.ts, blake2b.ts) are written here by hand, node:crypto of Node 20 having
// neither; their cost parameters are capped so a stored hash cannot hold a
// login for long (importableHash refuses such a hash at import).
import { createHash, timingSafeEqual } from 'node:crypto';
import { verifyBcrypt, MAX_BCRYPT_COST } from './bcrypt.js';
import { parseArgon2, verifyArgon2 } from './argon2.js';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const DEFAULT_ROUNDS = 5000;
const MIN_ROUNDS = 1000;
/** More rounds than this would let a stored hash hold a login for seconds: not accepted. */
const MAX_ROUNDS = 1_000_000;

/** The byte order SHA-crypt writes its 64-byte result in (three bytes to four characters). */
const SHA512_ORDER: Array<[number, number, number]> = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
  [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
  [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
];

function sha512(...parts: Buffer[]): Buffer {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** `length` bytes of `block` repeated. */
function repeatTo(block: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += block.length) block.copy(out, i, 0, Math.min(block.length, length - i));
  return out;
}

function encode64(value: number, chars: number): string {
  let out = '';
  for (let i = 0; i < chars; i++) {
    out += ITOA64[value & 0x3f];
    value >>>= 6;
  }
  return out;
}

/** The SHA-crypt ($6$) string of a password for a salt (at most 16 characters used) and rounds (undefined: the default, not written). */
export function sha512Crypt(password: string, salt: string, rounds?: number): string {
  const p = Buffer.from(password, 'utf8');
  const s = Buffer.from(salt.slice(0, 16), 'utf8');
  const r = rounds === undefined ? DEFAULT_ROUNDS : Math.min(Math.max(rounds, MIN_ROUNDS), 999_999_999);
  const b = sha512(p, s, p);
  const a = createHash('sha512').update(p).update(s).update(repeatTo(b, p.length));
  for (let n = p.length; n > 0; n >>= 1) a.update(n & 1 ? b : p);
  let c = a.digest();
  const dp = repeatTo(sha512(...Array<Buffer>(p.length).fill(p)), p.length);
  const ds = repeatTo(sha512(...Array<Buffer>(16 + c[0]!).fill(s)), s.length);
  for (let i = 0; i < r; i++) {
    const h = createHash('sha512');
    h.update(i & 1 ? dp : c);
    if (i % 3) h.update(ds);
    if (i % 7) h.update(dp);
    h.update(i & 1 ? c : dp);
    c = h.digest();
  }
  let out = '';
  for (const [x, y, z] of SHA512_ORDER) out += encode64((c[x]! << 16) | (c[y]! << 8) | c[z]!, 4);
  out += encode64(c[63]!, 2);
  return `$6$${rounds === undefined ? '' : `rounds=${r}$`}${s.toString('utf8')}$${out}`;
}

type Scheme = 'SHA512-CRYPT' | 'SSHA512' | 'PLAIN' | 'BLF-CRYPT' | 'ARGON2ID' | 'ARGON2I' | 'UNKNOWN';

/** The scheme of a Dovecot hash and its text without the {SCHEME} prefix. */
function schemeOf(stored: string): { scheme: Scheme; body: string } {
  const m = /^\{([A-Z0-9.-]{1,32})\}/.exec(stored);
  const prefix = m?.[1];
  const body = m ? stored.slice(m[0].length) : stored;
  // {CRYPT} and a bare string: the crypt(3) kind is in the $id$.
  if (prefix === undefined || prefix === 'CRYPT' || prefix === 'SHA512-CRYPT' || prefix === 'BLF-CRYPT') {
    if (body.startsWith('$6$')) return { scheme: 'SHA512-CRYPT', body };
    if (/^\$2[abxy]\$/.test(body)) return { scheme: 'BLF-CRYPT', body };
    if (prefix !== 'SHA512-CRYPT' && prefix !== 'BLF-CRYPT') {
      if (body.startsWith('$argon2id$')) return { scheme: 'ARGON2ID', body };
      if (body.startsWith('$argon2i$')) return { scheme: 'ARGON2I', body };
    }
    return { scheme: 'UNKNOWN', body };
  }
  if (prefix === 'SSHA512' || prefix === 'SSHA512.B64') return { scheme: 'SSHA512', body };
  if (prefix === 'PLAIN' || prefix === 'CLEARTEXT') return { scheme: 'PLAIN', body };
  if (prefix === 'ARGON2ID') return { scheme: 'ARGON2ID', body };
  if (prefix === 'ARGON2I') return { scheme: 'ARGON2I', body };
  return { scheme: 'UNKNOWN', body };
}

/** Why Postino cannot check a Dovecot hash at login (undefined: it can); the scheme's name either way (for the import's warning). */
export function importableHash(stored: string): { ok: boolean; scheme: string; reason?: string } {
  const { scheme, body } = schemeOf(stored);
  if (scheme === 'SHA512-CRYPT' || scheme === 'SSHA512' || scheme === 'PLAIN') return { ok: true, scheme };
  if (scheme === 'BLF-CRYPT') {
    const m = /^\$2[aby]\$([0-9]{2})\$[./A-Za-z0-9]{53}$/.exec(body);
    if (!m) return { ok: false, scheme, reason: 'malformed (or the buggy $2x$ variant)' };
    if (Number(m[1]) > MAX_BCRYPT_COST) return { ok: false, scheme, reason: `cost ${m[1]} is above the limit ${MAX_BCRYPT_COST}` };
    return { ok: true, scheme };
  }
  if (scheme === 'ARGON2ID' || scheme === 'ARGON2I') {
    try {
      const parsed = parseArgon2(body);
      if (!parsed || parsed.params.type !== scheme.toLowerCase()) return { ok: false, scheme, reason: 'malformed (or not version 19)' };
    } catch (err) {
      return { ok: false, scheme, reason: (err as Error).message };
    }
    return { ok: true, scheme };
  }
  return { ok: false, scheme };
}

/** Whether a stored hash is one brought from Dovecot (and so to be rehashed at the next login). */
export function isLegacyHash(stored: string): boolean {
  return stored.startsWith('{') || stored.startsWith('$6$') || /^\$2[aby]\$/.test(stored) || stored.startsWith('$argon2');
}

function equal(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Checks a password against a Dovecot hash; false for a malformed hash or one of a scheme not checked here. */
export function verifyLegacyPassword(password: string, stored: string): boolean {
  const { scheme, body } = schemeOf(stored);
  if (scheme === 'PLAIN') return equal(Buffer.from(password, 'utf8'), Buffer.from(body, 'utf8'));
  if (scheme === 'SSHA512') {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return false;
    const raw = Buffer.from(body, 'base64');
    if (raw.length <= 64) return false;
    return equal(sha512(Buffer.from(password, 'utf8'), raw.subarray(64)), raw.subarray(0, 64));
  }
  if (scheme === 'SHA512-CRYPT') {
    const m = /^\$6\$(?:rounds=([0-9]{1,9})\$)?([^$]{0,16})\$([./0-9A-Za-z]{86})$/.exec(body);
    if (!m) return false;
    const rounds = m[1] === undefined ? undefined : Number(m[1]);
    if (rounds !== undefined && rounds > MAX_ROUNDS) return false;
    return equal(Buffer.from(sha512Crypt(password, m[2]!, rounds)), Buffer.from(body));
  }
  // Throws a RangeError for a cost above the limit (the worker reports a failed check).
  if (scheme === 'BLF-CRYPT') return verifyBcrypt(password, body);
  if (scheme === 'ARGON2ID' || scheme === 'ARGON2I') return body.startsWith(`$${scheme.toLowerCase()}$`) && verifyArgon2(password, body);
  return false;
}
