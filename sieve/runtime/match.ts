// Comparing values against keys: a comparator (RFC 4790), a match type
// (:is :contains :matches :regex, relational :value/:count), and the keys.
// Constant keys are prepared once at compile time.
import { asciiLower, type Comparator } from './comparators.js';
import { compileGlob, globMatch, type Glob } from './glob.js';
import { compileRegex, regexSearch, regexTest, type Regex } from './regex.js';
import { SieveRuntimeError, type Runtime } from './runtime.js';
import type { StrListExpr } from '../compile/strings.js';

export type MatchType = 'is' | 'contains' | 'matches' | 'regex' | 'value' | 'count';
export type RelOp = 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';

export interface MatchOptions {
  comparator: Comparator;
  type: MatchType;
  rel: RelOp | undefined;
  keys: StrListExpr;
  /** True when "variables" is required: :matches / :regex set ${0}..${9}. */
  setsMatchVariables: boolean;
}

type Prepared = { key: string; folded: string; glob?: Glob; regex?: Regex };

function relHolds(op: RelOp, cmp: number): boolean {
  switch (op) {
    case 'gt': return cmp > 0;
    case 'ge': return cmp >= 0;
    case 'lt': return cmp < 0;
    case 'le': return cmp <= 0;
    case 'eq': return cmp === 0;
    case 'ne': return cmp !== 0;
  }
}

export class Matcher {
  private readonly constKeys: Prepared[] | undefined;
  private readonly casemap: boolean;

  constructor(private readonly o: MatchOptions) {
    this.casemap = o.comparator.name === 'i;ascii-casemap';
    if (o.keys.constant) this.constKeys = o.keys.constant.map((k) => this.prepare(k));
  }

  get isCount(): boolean {
    return this.o.type === 'count';
  }

  /** Checks a regex key for syntax at compile time. */
  static checkRegex(key: string): string | undefined {
    try {
      compileRegex(key, false);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  }

  private prepare(key: string): Prepared {
    const folded = this.o.comparator.fold(key);
    const p: Prepared = { key, folded };
    if (this.o.type === 'matches') p.glob = compileGlob(folded);
    else if (this.o.type === 'regex') {
      try {
        p.regex = compileRegex(key, this.casemap);
      } catch (e) {
        // Only keys built from variables get here: constant ones are checked at compile time.
        throw new SieveRuntimeError(`invalid regular expression '${key}': ${(e as Error).message}`);
      }
    }
    return p;
  }

  private keys(rt: Runtime): Prepared[] {
    return this.constKeys ?? this.o.keys.ev(rt).map((k) => this.prepare(k));
  }

  /** True when any value matches any key (for :count, the number of values). */
  test(rt: Runtime, values: readonly string[]): boolean {
    const keys = this.keys(rt);
    const o = this.o;
    if (o.type === 'count') {
      const n = String(values.length);
      for (const k of keys) if (relHolds(o.rel ?? 'eq', o.comparator.order(n, k.key))) return true;
      return false;
    }
    rt.charge(values.length * keys.length + 1);
    for (const v of values) {
      if (this.testOne(rt, v, keys)) return true;
    }
    return false;
  }

  private testOne(rt: Runtime, v: string, keys: Prepared[]): boolean {
    const o = this.o;
    switch (o.type) {
      case 'is': {
        if (o.comparator.name === 'i;ascii-numeric') {
          for (const k of keys) if (o.comparator.order(v, k.key) === 0) return true;
          return false;
        }
        const fv = o.comparator.fold(v);
        for (const k of keys) if (fv === k.folded) return true;
        return false;
      }
      case 'contains': {
        const fv = o.comparator.fold(v);
        for (const k of keys) if (fv.includes(k.folded)) return true;
        return false;
      }
      case 'matches': {
        const fv = o.comparator.fold(v);
        for (const k of keys) {
          rt.charge(Math.ceil((fv.length * (k.glob?.toks.length ?? 1)) / 64));
          if (globMatch(k.glob!, fv)) {
            if (o.setsMatchVariables) {
              const g = k.glob!;
              rt.setMatch(() => [v, ...(globMatch(g, fv, v) ?? [])]);
            }
            return true;
          }
        }
        return false;
      }
      case 'regex': {
        for (const k of keys) {
          if (regexTest(k.regex!, v, rt)) {
            if (o.setsMatchVariables) {
              const re = k.regex!;
              rt.setMatch(() => regexSearch(re, v, rt) ?? []);
            }
            return true;
          }
        }
        return false;
      }
      case 'value': {
        for (const k of keys) if (relHolds(o.rel ?? 'eq', o.comparator.order(v, k.key))) return true;
        return false;
      }
      case 'count':
        return false;
    }
  }
}

export { asciiLower };
