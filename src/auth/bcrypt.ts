// bcrypt ($2y$, $2a$, $2b$: Dovecot's BLF-CRYPT), written from Provos &
// Mazières, "A Future-Adaptable Password Scheme" (1999), over Blowfish
// (Schneier 1993). Node 20's crypto has no Blowfish. Runs in the legacy
// password worker thread (a cost-12 hash takes a few hundred milliseconds).
import { timingSafeEqual } from 'node:crypto';

/** 2^cost rounds; above this a stored hash could hold a login for minutes. */
export const MAX_BCRYPT_COST = 16;
const MIN_COST = 4;
const B64 = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** "OrpheanBeholderScryDoubt": the text bcrypt encrypts 64 times. */
const MAGIC = Buffer.from('OrpheanBeholderScryDoubt', 'latin1');

let piWords: Uint32Array | undefined;

/**
 * Blowfish's initial P-array (18 words) then its four S-boxes (4 × 256
 * words) are the hexadecimal digits of pi's fractional part, in order.
 * Computed once at first use with Machin's formula
 * pi = 16·atan(1/5) − 4·atan(1/239) in BigInt fixed point (some tens of ms)
 * rather than carried as a 1,042-word table.
 */
function blowfishInit(): Uint32Array {
  if (piWords) return piWords;
  const words = 18 + 4 * 256;
  const bits = BigInt(words * 32 + 64); // 64 guard bits against truncation in the series
  const one = 1n << bits;
  const atanInv = (x: bigint): bigint => {
    const x2 = x * x;
    let power = one / x;
    let sum = 0n;
    for (let n = 1n, positive = true; power !== 0n; n += 2n, positive = !positive) {
      sum += positive ? power / n : -(power / n);
      power /= x2;
    }
    return sum;
  };
  const pi = 16n * atanInv(5n) - 4n * atanInv(239n);
  const frac = (pi - 3n * one) >> 64n; // words*32 bits of the fractional part
  const out = new Uint32Array(words);
  for (let i = 0; i < words; i++) out[i] = Number((frac >> BigInt((words - 1 - i) * 32)) & 0xffffffffn);
  piWords = out;
  return out;
}

class Blowfish {
  readonly p: Uint32Array;
  readonly s: Uint32Array; // the four S-boxes one after the other
  private readonly lr = new Uint32Array(2);

  constructor() {
    const init = blowfishInit();
    this.p = init.slice(0, 18);
    this.s = init.slice(18);
  }

  /** Enciphers the block (lr[0], lr[1]) in place. */
  encrypt(lr: Uint32Array): void {
    const p = this.p;
    const s = this.s;
    let l = lr[0]!;
    let r = lr[1]!;
    for (let i = 0; i < 16; i += 2) {
      l ^= p[i]!;
      r ^= (((s[l >>> 24]! + s[256 | ((l >>> 16) & 0xff)]!) ^ s[512 | ((l >>> 8) & 0xff)]!) + s[768 | (l & 0xff)]!);
      r ^= p[i + 1]!;
      l ^= (((s[r >>> 24]! + s[256 | ((r >>> 16) & 0xff)]!) ^ s[512 | ((r >>> 8) & 0xff)]!) + s[768 | (r & 0xff)]!);
    }
    lr[0] = r ^ p[17]!;
    lr[1] = l ^ p[16]!;
  }

  /**
   * bcrypt's ExpandKey: the key XORed into P (cyclically, big-endian
   * words), then P and the S-boxes replaced by successive encryptions,
   * each block first XORed with the next 64 bits of the salt (cyclically).
   * An all-zero salt is Blowfish's own key schedule.
   */
  expandKey(key: Buffer, salt: Buffer | null): void {
    let kp = 0;
    const nextKeyWord = (data: Buffer): number => {
      let w = 0;
      for (let i = 0; i < 4; i++) {
        w = (w << 8) | data[kp]!;
        kp = (kp + 1) % data.length;
      }
      return w;
    };
    for (let i = 0; i < 18; i++) this.p[i] = this.p[i]! ^ nextKeyWord(key);
    const lr = this.lr;
    lr[0] = 0;
    lr[1] = 0;
    let sp = 0;
    const saltWord = (): number => {
      const w = salt!.readUInt32BE(sp);
      sp = (sp + 4) % salt!.length;
      return w;
    };
    const fill = (table: Uint32Array): void => {
      for (let i = 0; i < table.length; i += 2) {
        if (salt) {
          lr[0] = lr[0]! ^ saltWord();
          lr[1] = lr[1]! ^ saltWord();
        }
        this.encrypt(lr);
        table[i] = lr[0]!;
        table[i + 1] = lr[1]!;
      }
    };
    fill(this.p);
    fill(this.s);
  }
}

function encodeB64(data: Buffer): string {
  let out = '';
  for (let i = 0; i < data.length; i += 3) {
    const b0 = data[i]!;
    const b1 = data[i + 1] ?? 0;
    const b2 = data[i + 2] ?? 0;
    out += B64[b0 >> 2]! + B64[((b0 & 3) << 4) | (b1 >> 4)]!;
    if (i + 1 < data.length) out += B64[((b1 & 15) << 2) | (b2 >> 6)]!;
    if (i + 2 < data.length) out += B64[b2 & 63]!;
  }
  return out;
}

/** `length` bytes from bcrypt's base64; undefined for a character outside its alphabet. */
function decodeB64(text: string, length: number): Buffer | undefined {
  const out = Buffer.alloc(length);
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (const ch of text) {
    const v = B64.indexOf(ch);
    if (v < 0) return undefined;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n < length) out[n++] = (acc >> bits) & 0xff;
    }
  }
  return n === length ? out : undefined;
}

/** The 23-byte bcrypt result for a password (UTF-8, NUL-terminated, at most 72 bytes), 16-byte salt and cost. */
export function bcryptRaw(password: string, salt: Buffer, cost: number): Buffer {
  if (!Number.isInteger(cost) || cost < MIN_COST || cost > MAX_BCRYPT_COST) throw new RangeError(`bcrypt cost ${cost} is outside ${MIN_COST}..${MAX_BCRYPT_COST}`);
  if (salt.length !== 16) throw new RangeError('bcrypt salt must be 16 bytes');
  const key = Buffer.concat([Buffer.from(password, 'utf8'), Buffer.from([0])]).subarray(0, 72);
  // EksBlowfishSetup
  const bf = new Blowfish();
  bf.expandKey(key, salt);
  for (let i = 2 ** cost; i > 0; i--) {
    bf.expandKey(key, null);
    bf.expandKey(salt, null);
  }
  const ctext = new Uint32Array(6);
  for (let i = 0; i < 6; i++) ctext[i] = MAGIC.readUInt32BE(i * 4);
  const block = new Uint32Array(2);
  for (let round = 0; round < 64; round++) {
    for (let i = 0; i < 6; i += 2) {
      block[0] = ctext[i]!;
      block[1] = ctext[i + 1]!;
      bf.encrypt(block);
      ctext[i] = block[0]!;
      ctext[i + 1] = block[1]!;
    }
  }
  const out = Buffer.alloc(24);
  for (let i = 0; i < 6; i++) out.writeUInt32BE(ctext[i]!, i * 4);
  return out.subarray(0, 23);
}

/** The bcrypt string `$2y$NN$<22 salt chars><31 hash chars>` (variant `2a`/`2b`/`2y`). */
export function bcryptHash(password: string, salt: Buffer, cost: number, variant: '2a' | '2b' | '2y' = '2y'): string {
  const raw = bcryptRaw(password, salt, cost);
  return `$${variant}$${String(cost).padStart(2, '0')}$${encodeB64(salt)}${encodeB64(raw)}`;
}

const BCRYPT_RE = /^\$2([aby])\$([0-9]{2})\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/;

/**
 * Checks a password against a bcrypt string. Throws RangeError for a cost
 * above MAX_BCRYPT_COST (a clear refusal, not a slow false); false for a
 * malformed string. $2x$ (the old sign-extension bug) is not accepted.
 */
export function verifyBcrypt(password: string, stored: string): boolean {
  const m = BCRYPT_RE.exec(stored);
  if (!m) return false;
  const cost = Number(m[2]);
  if (cost > MAX_BCRYPT_COST) throw new RangeError(`bcrypt cost ${cost} is above the limit ${MAX_BCRYPT_COST}`);
  if (cost < MIN_COST) return false;
  const salt = decodeB64(m[3]!, 16);
  const expected = decodeB64(m[4]!, 23);
  if (!salt || !expected) return false;
  return timingSafeEqual(bcryptRaw(password, salt, cost), expected);
}
