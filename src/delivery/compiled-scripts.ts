// Compiled Sieve programs for delivery, so a delivery to an account whose
// script did not change reuses the program instead of compiling per message.
// Keyed by what the program is made of: a SHA-256 of the script text plus
// everything else compilation depends on (the engine's extension set, the
// limits). Never by a script id or name: ids are reused, texts change under
// the same name. Least recently used first out, bounded in entries and in
// script bytes (a program's size follows its text's). Failures are cached
// too: an invalid script costs its (slower) error path once, not per message.
import { createHash } from 'node:crypto';
import { capabilities, compile, type CompileResult, type SieveLimits } from '../../sieve/index.js';

const ENGINE = capabilities.join(' ');

export class CompiledScriptCache {
  private readonly entries = new Map<string, { result: CompileResult; bytes: number }>();
  private totalBytes = 0;
  /** Compilations done (cache misses), for tests and benches. */
  compilations = 0;

  constructor(
    readonly maxEntries = 256,
    readonly maxBytes = 8 * 1024 * 1024,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** The key last computed, by its inputs: delivery asks with the same script text message after message, and a SHA-256 of it each time showed in ingest profiles. */
  private last: { text: string; limits: string; key: string } | undefined;

  compile(text: string, limits?: Partial<SieveLimits>): CompileResult {
    const limitsKey = limits ? JSON.stringify(limits) : '';
    const last = this.last;
    let key: string;
    if (last && last.text === text && last.limits === limitsKey) key = last.key;
    else {
      key = createHash('sha256').update(`${ENGINE}\0${limitsKey}\0`).update(text).digest('base64');
      this.last = { text, limits: limitsKey, key };
    }
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.result;
    }
    this.compilations++;
    const result = compile(text, { cache: false, ...(limits ? { limits } : {}) });
    const bytes = Buffer.byteLength(text);
    if (bytes > this.maxBytes) return result;
    this.entries.set(key, { result, bytes });
    this.totalBytes += bytes;
    while (this.entries.size > this.maxEntries || this.totalBytes > this.maxBytes) {
      const [oldest, entry] = this.entries.entries().next().value as [string, { bytes: number }];
      this.entries.delete(oldest);
      this.totalBytes -= entry.bytes;
    }
    return result;
  }
}

/** The one delivery uses: personal scripts and the global before/after scripts. */
export const deliveryScripts = new CompiledScriptCache();
