// Password hashing (scrypt) and SCRAM-SHA-256 stored credentials.
// Hash format: $scrypt$N=<n>,r=<r>,p=<p>$<salt b64>$<hash b64>
import { randomBytes, timingSafeEqual, pbkdf2Sync, createHmac, createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { ScryptRequest } from './scrypt-worker.js';
import { isLegacyHash } from './legacy-password.js';
import type { LegacyCheck } from './legacy-password-worker.js';

const SCRYPT = { N: 16384, r: 8, p: 1 };
const KEY_LEN = 32;
export const SCRAM_ITERATIONS = 10000;

/** Two scrypt threads: enough for bursts of logins, bounded memory (see scrypt-worker.ts). */
const SCRYPT_THREADS = 2;

interface PendingScrypt {
  resolve(key: Buffer): void;
  reject(err: Error): void;
}

class ScryptPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, PendingScrypt>();
  private nextId = 1;
  private turn = 0;

  run(password: string, salt: Buffer, keylen: number, o: { N: number; r: number; p: number }): Promise<Buffer> {
    const worker = this.worker();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) worker.ref();
      const req: ScryptRequest = { id, password, salt, keylen, N: o.N, r: o.r, p: o.p };
      worker.postMessage(req);
    });
  }

  private worker(): Worker {
    if (this.workers.length < SCRYPT_THREADS) {
      const w = new Worker(new URL('./scrypt-worker.js', import.meta.url));
      w.on('message', (m: { id: number; key?: Uint8Array; error?: string }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (this.pending.size === 0) for (const x of this.workers) x.unref();
        if (m.key) p.resolve(Buffer.from(m.key));
        else p.reject(new Error(m.error ?? 'scrypt failed'));
      });
      w.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        this.workers.splice(this.workers.indexOf(w), 1);
      });
      w.unref();
      this.workers.push(w);
      return w;
    }
    this.turn = (this.turn + 1) % this.workers.length;
    return this.workers[this.turn]!;
  }
}

const pool = new ScryptPool();

function scrypt(password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number }): Promise<Buffer> {
  return pool.run(password, salt, keylen, options);
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LEN, SCRYPT);
  return `$scrypt$N=${SCRYPT.N},r=${SCRYPT.r},p=${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** One thread for imported Dovecot hashes (legacy-password-worker.ts), made at the first such login. */
class LegacyChecker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, (ok: boolean) => void>();
  private nextId = 1;

  check(password: string, stored: string): Promise<boolean> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      worker.ref();
      const req: LegacyCheck = { id, password, stored };
      worker.postMessage(req);
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./legacy-password-worker.js', import.meta.url));
    w.on('message', (m: { id: number; ok: boolean }) => {
      this.pending.get(m.id)?.(m.ok === true);
      this.pending.delete(m.id);
      if (this.pending.size === 0) w.unref();
    });
    w.on('error', () => {
      // A check that cannot run is a failed one; the next login starts a new thread.
      for (const resolve of this.pending.values()) resolve(false);
      this.pending.clear();
      this.worker = undefined;
    });
    w.unref();
    this.worker = w;
    return w;
  }
}

const legacyChecker = new LegacyChecker();

/** Constant-time check of a password against a stored hash; false for any malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  // A hash imported from Dovecot (see legacy-password.ts), until the next login rehashes it.
  if (!m) return isLegacyHash(stored) && legacyChecker.check(password, stored);
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
