// Argon2id and Argon2i, version 0x13 (RFC 9106), for Dovecot's ARGON2ID and
// ARGON2I hashes ($argon2id$v=19$m=65536,t=3,p=1$salt$tag). Node 20's crypto
// has no Argon2. Written from the RFC: 64-bit words are kept as (low, high)
// pairs in a Uint32Array, since BigInt in the memory-filling loop would take
// minutes for 64 MiB. Runs in the legacy password worker thread.
import { timingSafeEqual } from 'node:crypto';
import { blake2b } from './blake2b.js';

/**
 * What a stored hash may ask for: more would let one login take many seconds
 * and hundreds of MiB. maxWork bounds memory × passes (KiB blocks filled):
 * 256 MiB × 3, about four times Dovecot's default m=65536,t=3 (which takes
 * 1-2 s here), so no check runs much past 6 s.
 */
export const ARGON2_LIMITS = { maxMemoryKiB: 256 * 1024, maxPasses: 10, maxLanes: 16, maxWork: 256 * 1024 * 3 } as const;

const VERSION = 0x13;
const BLOCK_WORDS = 256; // 1024 bytes as 32-bit words
const TYPE = { argon2i: 1, argon2id: 2 } as const;
export type Argon2Type = keyof typeof TYPE;

export interface Argon2Params {
  type: Argon2Type;
  /** Memory in KiB (1 KiB blocks). */
  m: number;
  /** Passes. */
  t: number;
  /** Lanes. */
  p: number;
  tagLength: number;
}

function le32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/** H' (RFC 9106 section 3.3): a hash of any length built from 64-byte BLAKE2b outputs. */
function hPrime(outLen: number, ...parts: Buffer[]): Buffer {
  if (outLen <= 64) return blake2b(outLen, le32(outLen), ...parts);
  const r = Math.ceil(outLen / 32) - 2;
  const out = Buffer.alloc(outLen);
  let v = blake2b(64, le32(outLen), ...parts);
  v.copy(out, 0, 0, 32);
  for (let i = 1; i < r; i++) {
    v = blake2b(64, v);
    v.copy(out, i * 32, 0, 32);
  }
  blake2b(outLen - 32 * r, v).copy(out, 32 * r);
  return out;
}

/** The high 32 bits of the 64-bit product of two 32-bit numbers (16-bit halves keep every step exact in a double). */
function mulHi(x: number, y: number): number {
  const xl = x & 0xffff;
  const xh = x >>> 16;
  const yl = y & 0xffff;
  const yh = y >>> 16;
  const mid = xh * yl + xl * yh + ((xl * yl) >>> 16);
  return (xh * yh + Math.floor(mid / 65536)) >>> 0;
}

/**
 * GB of BlaMka (RFC 9106 section 3.6) on the 64-bit words at 32-bit
 * offsets a, b, c, d of v: BLAKE2b's G with additions x + y + 2·lo(x)·lo(y).
 */
function gb(v: Uint32Array, a: number, b: number, c: number, d: number): void {
  let al = v[a]!, ah = v[a + 1]!, bl = v[b]!, bh = v[b + 1]!;
  let cl = v[c]!, ch = v[c + 1]!, dl = v[d]!, dh = v[d + 1]!;
  let lo: number, hi: number, s: number, t: number;

  // a = a + b + 2·lo(a)·lo(b)
  lo = Math.imul(al, bl) >>> 0; hi = mulHi(al, bl);
  hi = (hi << 1) | (lo >>> 31); lo = (lo << 1) >>> 0;
  s = al + bl + lo; ah = (ah + bh + (hi >>> 0) + Math.floor(s / 4294967296)) >>> 0; al = s >>> 0;
  // d = (d ^ a) >>> 32
  t = dl ^ al; dl = (dh ^ ah) >>> 0; dh = t >>> 0;
  // c = c + d + 2·lo(c)·lo(d)
  lo = Math.imul(cl, dl) >>> 0; hi = mulHi(cl, dl);
  hi = (hi << 1) | (lo >>> 31); lo = (lo << 1) >>> 0;
  s = cl + dl + lo; ch = (ch + dh + (hi >>> 0) + Math.floor(s / 4294967296)) >>> 0; cl = s >>> 0;
  // b = (b ^ c) >>> 24
  t = (bl ^ cl) >>> 0; s = (bh ^ ch) >>> 0;
  bl = ((t >>> 24) | (s << 8)) >>> 0; bh = ((s >>> 24) | (t << 8)) >>> 0;
  // a = a + b + 2·lo(a)·lo(b)
  lo = Math.imul(al, bl) >>> 0; hi = mulHi(al, bl);
  hi = (hi << 1) | (lo >>> 31); lo = (lo << 1) >>> 0;
  s = al + bl + lo; ah = (ah + bh + (hi >>> 0) + Math.floor(s / 4294967296)) >>> 0; al = s >>> 0;
  // d = (d ^ a) >>> 16
  t = (dl ^ al) >>> 0; s = (dh ^ ah) >>> 0;
  dl = ((t >>> 16) | (s << 16)) >>> 0; dh = ((s >>> 16) | (t << 16)) >>> 0;
  // c = c + d + 2·lo(c)·lo(d)
  lo = Math.imul(cl, dl) >>> 0; hi = mulHi(cl, dl);
  hi = (hi << 1) | (lo >>> 31); lo = (lo << 1) >>> 0;
  s = cl + dl + lo; ch = (ch + dh + (hi >>> 0) + Math.floor(s / 4294967296)) >>> 0; cl = s >>> 0;
  // b = (b ^ c) >>> 63, that is a rotation left by one
  t = (bl ^ cl) >>> 0; s = (bh ^ ch) >>> 0;
  bl = ((t << 1) | (s >>> 31)) >>> 0; bh = ((s << 1) | (t >>> 31)) >>> 0;

  v[a] = al; v[a + 1] = ah; v[b] = bl; v[b + 1] = bh;
  v[c] = cl; v[c + 1] = ch; v[d] = dl; v[d + 1] = dh;
}

/** The permutation P on sixteen 64-bit words given by their 32-bit offsets. */
function permute(v: Uint32Array, w: Int32Array): void {
  gb(v, w[0]!, w[4]!, w[8]!, w[12]!);
  gb(v, w[1]!, w[5]!, w[9]!, w[13]!);
  gb(v, w[2]!, w[6]!, w[10]!, w[14]!);
  gb(v, w[3]!, w[7]!, w[11]!, w[15]!);
  gb(v, w[0]!, w[5]!, w[10]!, w[15]!);
  gb(v, w[1]!, w[6]!, w[11]!, w[12]!);
  gb(v, w[2]!, w[7]!, w[8]!, w[13]!);
  gb(v, w[3]!, w[4]!, w[9]!, w[14]!);
}

/**
 * The block seen as an 8×8 matrix of 16-byte registers: row r is 64-bit
 * words 16r..16r+15; column c is registers c, c+8, .., c+56, that is words
 * 2c, 2c+1, 2c+16, 2c+17, ... (as 32-bit offsets: twice those).
 */
const ROWS: Int32Array[] = [];
const COLS: Int32Array[] = [];
for (let r = 0; r < 8; r++) {
  const row = new Int32Array(16);
  const col = new Int32Array(16);
  for (let k = 0; k < 16; k++) {
    row[k] = 2 * (16 * r + k);
    col[k] = 2 * (2 * r + 16 * (k >> 1) + (k & 1));
  }
  ROWS.push(row);
  COLS.push(col);
}

const gR = new Uint32Array(BLOCK_WORDS);
const gZ = new Uint32Array(BLOCK_WORDS);

/** The compression G (RFC 9106 section 3.5): out = P(X ^ Y) ^ X ^ Y, or out ^= that when `xor` (passes after the first). */
function compress(x: Uint32Array, xo: number, y: Uint32Array, yo: number, out: Uint32Array, oo: number, xor: boolean): void {
  for (let i = 0; i < BLOCK_WORDS; i++) gR[i] = x[xo + i]! ^ y[yo + i]!;
  gZ.set(gR);
  for (let r = 0; r < 8; r++) permute(gZ, ROWS[r]!);
  for (let c = 0; c < 8; c++) permute(gZ, COLS[c]!);
  if (xor) for (let i = 0; i < BLOCK_WORDS; i++) out[oo + i] = out[oo + i]! ^ gZ[i]! ^ gR[i]!;
  else for (let i = 0; i < BLOCK_WORDS; i++) out[oo + i] = gZ[i]! ^ gR[i]!;
}

/** Throws a RangeError for parameters outside the RFC's bounds or above ARGON2_LIMITS. */
export function checkArgon2Params(params: Argon2Params): void {
  const { m, t, p, tagLength } = params;
  if (!Number.isInteger(p) || p < 1 || p > ARGON2_LIMITS.maxLanes) throw new RangeError(`Argon2 parallelism p=${p} is outside 1..${ARGON2_LIMITS.maxLanes}`);
  if (!Number.isInteger(t) || t < 1 || t > ARGON2_LIMITS.maxPasses) throw new RangeError(`Argon2 passes t=${t} is outside 1..${ARGON2_LIMITS.maxPasses}`);
  if (!Number.isInteger(m) || m < 8 * p || m > ARGON2_LIMITS.maxMemoryKiB) throw new RangeError(`Argon2 memory m=${m} KiB is outside ${8 * p}..${ARGON2_LIMITS.maxMemoryKiB}`);
  if (m * t > ARGON2_LIMITS.maxWork) throw new RangeError(`Argon2 work m×t=${m * t} is above the limit ${ARGON2_LIMITS.maxWork}`);
  if (!Number.isInteger(tagLength) || tagLength < 4 || tagLength > 1024) throw new RangeError(`Argon2 tag length ${tagLength} is outside 4..1024`);
}

/** The Argon2 tag of a password and salt (RFC 9106 section 3.2), with optional secret K and associated data X. */
export function argon2(password: Buffer, salt: Buffer, params: Argon2Params, secret = Buffer.alloc(0), ad = Buffer.alloc(0)): Buffer {
  checkArgon2Params(params);
  if (salt.length < 8) throw new RangeError('Argon2 salt must be at least 8 bytes');
  const { m, t, p, tagLength } = params;
  const y = TYPE[params.type];
  const h0 = blake2b(
    64,
    le32(p), le32(tagLength), le32(m), le32(t), le32(VERSION), le32(y),
    le32(password.length), password, le32(salt.length), salt,
    le32(secret.length), secret, le32(ad.length), ad,
  );
  const blocks = 4 * p * Math.floor(m / (4 * p));
  const q = blocks / p; // columns per lane
  const seg = q / 4; // blocks per segment
  const mem = new Uint32Array(blocks * BLOCK_WORDS);

  for (let l = 0; l < p; l++) {
    for (let j = 0; j < 2; j++) {
      const b = hPrime(1024, h0, le32(j), le32(l));
      const off = (l * q + j) * BLOCK_WORDS;
      for (let i = 0; i < BLOCK_WORDS; i++) mem[off + i] = b.readUInt32LE(i * 4);
    }
  }

  const zero = new Uint32Array(BLOCK_WORDS);
  const input = new Uint32Array(BLOCK_WORDS);
  const addresses = new Uint32Array(BLOCK_WORDS);
  const tmp = new Uint32Array(BLOCK_WORDS);
  const nextAddresses = (): void => {
    input[12] = input[12]! + 1; // the counter (64-bit word 6; never past 2^32 here)
    compress(zero, 0, input, 0, tmp, 0, false);
    compress(zero, 0, tmp, 0, addresses, 0, false);
  };

  for (let r = 0; r < t; r++) {
    for (let s = 0; s < 4; s++) {
      for (let l = 0; l < p; l++) {
        // Argon2i always, Argon2id in the first half of the first pass: reference blocks from the address generator, not from the data.
        const independent = y === TYPE.argon2i || (r === 0 && s < 2);
        const first = r === 0 && s === 0 ? 2 : 0;
        if (independent) {
          input.fill(0);
          input[0] = r;
          input[2] = l;
          input[4] = s;
          input[6] = blocks;
          input[8] = t;
          input[10] = y;
          if (first === 2) nextAddresses();
        }
        for (let i = first; i < seg; i++) {
          const col = s * seg + i;
          const cur = l * q + col;
          const prev = col === 0 ? l * q + q - 1 : cur - 1;
          let j1: number;
          let j2: number;
          if (independent) {
            if (i % 128 === 0) nextAddresses();
            j1 = addresses[2 * (i % 128)]!;
            j2 = addresses[2 * (i % 128) + 1]!;
          } else {
            j1 = mem[prev * BLOCK_WORDS]!;
            j2 = mem[prev * BLOCK_WORDS + 1]!;
          }
          const refLane = r === 0 && s === 0 ? l : j2 % p;
          // How many blocks may be referenced: those finished, less the previous one (same lane) or less the current segment's (other lanes).
          let area: number;
          if (r === 0) area = refLane === l ? col - 1 : s * seg - (i === 0 ? 1 : 0);
          else area = refLane === l ? q - seg + i - 1 : q - seg - (i === 0 ? 1 : 0);
          const x = mulHi(j1, j1);
          const rel = area - 1 - mulHi(area, x);
          const startCol = r !== 0 && s !== 3 ? (s + 1) * seg : 0;
          const refCol = (startCol + rel) % q;
          compress(mem, prev * BLOCK_WORDS, mem, (refLane * q + refCol) * BLOCK_WORDS, mem, cur * BLOCK_WORDS, r > 0);
        }
      }
    }
  }

  const c = Buffer.alloc(1024);
  for (let i = 0; i < BLOCK_WORDS; i++) {
    let w = 0;
    for (let l = 0; l < p; l++) w ^= mem[(l * q + q - 1) * BLOCK_WORDS + i]!;
    c.writeUInt32LE(w >>> 0, i * 4);
  }
  return hPrime(tagLength, c);
}

// Salt and tag are unpadded standard base64; the lengths bound what is decoded.
const ARGON2_RE = /^\$(argon2id|argon2i)\$v=([0-9]{1,3})\$m=([0-9]{1,10}),t=([0-9]{1,10}),p=([0-9]{1,3})\$([A-Za-z0-9+/]{11,86})\$([A-Za-z0-9+/]{6,1366})$/;

/** The parts of a PHC-format Argon2 string; undefined when malformed; throws a RangeError for parameters above the limits. */
export function parseArgon2(stored: string): { params: Argon2Params; salt: Buffer; tag: Buffer } | undefined {
  const m = ARGON2_RE.exec(stored);
  if (!m) return undefined;
  if (Number(m[2]) !== VERSION) return undefined;
  const salt = Buffer.from(m[6]!, 'base64');
  const tag = Buffer.from(m[7]!, 'base64');
  const params: Argon2Params = { type: m[1] as Argon2Type, m: Number(m[3]), t: Number(m[4]), p: Number(m[5]), tagLength: tag.length };
  checkArgon2Params(params);
  return { params, salt, tag };
}

/** Checks a password (UTF-8) against `$argon2id$v=19$m=..,t=..,p=..$salt$tag`; false when malformed, RangeError above the limits. */
export function verifyArgon2(password: string, stored: string): boolean {
  const parsed = parseArgon2(stored);
  if (!parsed) return false;
  const tag = argon2(Buffer.from(password, 'utf8'), parsed.salt, parsed.params);
  return timingSafeEqual(tag, parsed.tag);
}
