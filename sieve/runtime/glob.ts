// :matches patterns (RFC 5228 2.7.1): "*" any sequence, "?" one character,
// "\" escapes the next character. Matched without regular expressions, in
// O(pattern x subject) time: on a mismatch we only ever go back to the most
// recent "*", so no pattern can blow up. Earlier wildcards match as little
// as possible, which gives the RFC 5229 match variables Pigeonhole gives.

type Tok = { t: 'lit'; c: string } | { t: 'any' } | { t: 'star' };

export interface Glob {
  toks: Tok[];
  /** Count of wildcards (the match variables ${1}...). */
  wildcards: number;
  /** Literal-only fast path. */
  literal: string | undefined;
  /** "*text*" fast path (substring test) when no captures are needed. */
  infix: string | undefined;
  /** Literal runs between wildcards: each must occur in a matching subject (cheap pre-filter). */
  needles: string[];
}

const SURROGATE = /[\uD800-\uDFFF]/;

export function compileGlob(pattern: string): Glob {
  const toks: Tok[] = [];
  const chars = Array.from(pattern);
  let wildcards = 0;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] ?? '';
    if (c === '\\' && i + 1 < chars.length) toks.push({ t: 'lit', c: chars[++i] ?? '' });
    else if (c === '*') {
      wildcards++;
      toks.push({ t: 'star' });
    } else if (c === '?') {
      wildcards++;
      toks.push({ t: 'any' });
    } else toks.push({ t: 'lit', c });
  }
  const lits = (ts: Tok[]): string | undefined => (ts.every((t) => t.t === 'lit') ? ts.map((t) => (t.t === 'lit' ? t.c : '')).join('') : undefined);
  const literal = wildcards === 0 ? lits(toks) : undefined;
  let infix: string | undefined;
  if (toks.length >= 2 && toks[0]!.t === 'star' && toks[toks.length - 1]!.t === 'star') infix = lits(toks.slice(1, -1));
  const needles: string[] = [];
  let run = '';
  for (const t of toks) {
    if (t.t === 'lit') run += t.c;
    else {
      if (run) needles.push(run);
      run = '';
    }
  }
  if (run) needles.push(run);
  return { toks, wildcards, literal, infix, needles };
}

/**
 * Matches `subject` (already folded like the pattern) against the glob.
 * With `original`, returns the texts of each wildcard taken from `original`
 * (same code points, unfolded), else an empty array; undefined on no match.
 */
export function globMatch(g: Glob, subject: string, original?: string): string[] | undefined {
  if (g.literal !== undefined) return subject === g.literal ? [] : undefined;
  if (g.infix !== undefined && original === undefined) return subject.includes(g.infix) ? [] : undefined;
  for (const n of g.needles) if (!subject.includes(n)) return undefined;
  if (original !== undefined && g.needles.length > 1 && globMatch(g, subject) === undefined) return undefined;
  // Work on UTF-16 units unless there are surrogate pairs ("?" is one character).
  const wide = SURROGATE.test(subject) || g.toks.some((t) => t.t === 'lit' && t.c.length > 1);
  const s: ArrayLike<string> = wide ? Array.from(subject) : subject;
  const len = s.length;
  const toks = g.toks;
  const capture = original !== undefined;
  const starts = capture ? new Array<number>(toks.length).fill(0) : undefined;
  const ends = capture ? new Array<number>(toks.length).fill(0) : undefined;
  let ti = 0;
  let si = 0;
  let starTok = -1;
  let starSi = 0;
  while (si < len || ti < toks.length) {
    const tok = toks[ti];
    if (tok) {
      if (tok.t === 'star') {
        starTok = ti;
        starSi = si;
        if (starts && ends) {
          starts[ti] = si;
          ends[ti] = si;
        }
        ti++;
        continue;
      }
      if (si < len && (tok.t === 'any' || tok.c === s[si])) {
        if (starts && ends) {
          starts[ti] = si;
          ends[ti] = si + 1;
        }
        ti++;
        si++;
        continue;
      }
    }
    if (starTok >= 0 && starSi < len) {
      starSi++;
      if (ends) ends[starTok] = starSi;
      si = starSi;
      ti = starTok + 1;
      continue;
    }
    return undefined;
  }
  if (!capture || !starts || !ends) return [];
  const caps: string[] = [];
  const o = wide ? Array.from(original) : undefined;
  for (let k = 0; k < toks.length; k++) {
    const tok = toks[k];
    if (tok && tok.t !== 'lit') caps.push(o ? o.slice(starts[k] ?? 0, ends[k] ?? 0).join('') : original.slice(starts[k] ?? 0, ends[k] ?? 0));
  }
  return caps;
}

/** Escapes "*", "?" and "\" (variables :quotewildcard). */
export function quoteWildcard(s: string): string {
  return s.replace(/[*?\\]/g, '\\$&');
}
