// Password hashing (scrypt) and SCRAM-SHA-256 stored credentials.
// Hash format: $scrypt$N=<n>,r=<r>,p=<p>$<salt b64>$<hash b64>
import { scrypt as scryptCb, randomBytes, timingSafeEqual, pbkdf2Sync, createHmac, createHash, type ScryptOptions } from 'node:crypto';

const SCRYPT = { N: 16384, r: 8, p: 1 };
const KEY_LEN = 32;
export const SCRAM_ITERATIONS = 10000;

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, keylen, { ...options, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LEN, SCRYPT);
  return `$scrypt$N=${SCRYPT.N},r=${SCRYPT.r},p=${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Constant-time check of a password against a stored hash; false for any malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!m) return false;
  const expected = Buffer.from(m[5]!, 'base64');
  const N = Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  if (expected.length < 16 || N > 1 << 20 || r > 32 || p > 16) return false;
  const key = await scrypt(password, Buffer.from(m[4]!, 'base64'), expected.length, { N, r, p });
  return timingSafeEqual(key, expected);
}

/** A hash of a random password, to spend the same time on unknown users. */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  return dummyHash;
}

export interface ScramCredentials {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

export function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

export function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/** RFC 5802/7677 stored credentials, made once when the password is set. */
export function makeScramCredentials(password: string, iterations = SCRAM_ITERATIONS, salt = randomBytes(16)): ScramCredentials {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  return {
    iterations,
    salt,
    storedKey: sha256(hmac(salted, 'Client Key')),
    serverKey: hmac(salted, 'Server Key'),
  };
}

export function encodeScram(c: ScramCredentials): string {
  return [c.iterations, c.salt.toString('base64'), c.storedKey.toString('base64'), c.serverKey.toString('base64')].join(':');
}

export function decodeScram(text: string | null): ScramCredentials | undefined {
  if (!text) return undefined;
  const [i, salt, stored, server] = text.split(':');
  if (!i || !salt || !stored || !server) return undefined;
  return {
    iterations: Number(i),
    salt: Buffer.from(salt, 'base64'),
    storedKey: Buffer.from(stored, 'base64'),
    serverKey: Buffer.from(server, 'base64'),
  };
}

/** Both stored forms of a new password. */
export async function passwordRecords(password: string): Promise<{ passwordHash: string; scramSha256: string }> {
  return { passwordHash: await hashPassword(password), scramSha256: encodeScram(makeScramCredentials(password)) };
}
