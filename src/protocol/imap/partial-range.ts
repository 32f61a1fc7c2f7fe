// The PARTIAL range of RFC 5267 4.4 and RFC 9394 4, shared by SEARCH, SORT
// and the UID FETCH modifier: "m:n" counts results from the first (1 is the
// first), "-m:-n" from the last (-1 is the last). Either order of the two
// ends means the same range; "*", 0, mixed signs and numbers beyond 32 bits
// are refused.
import { ImapParseError, isAtom, type Arg } from './parser.js';

/** Both ends positive (from the first) or both negative (from the last); |[0]| <= |[1]|. */
export type PartialRange = [number, number];

const RANGE = /^(-?)(\d{1,10}):(-?)(\d{1,10})$/;

export function parsePartialRange(arg: Arg | undefined): PartialRange {
  const m = isAtom(arg) ? RANGE.exec(arg.value) : null;
  if (m === null || m[1] !== m[3]) throw new ImapParseError('PARTIAL range broken');
  const a = Number(m[2]);
  const b = Number(m[4]);
  if (a === 0 || b === 0 || a > 0xffffffff || b > 0xffffffff) throw new ImapParseError('PARTIAL range broken');
  const sign = m[1] === '-' ? -1 : 1;
  return [sign * Math.min(a, b), sign * Math.max(a, b)];
}

/** The results a range names, in their original order (the list is in result order). */
export function partialSlice<T>(results: readonly T[], range: PartialRange): T[] {
  const [a, b] = range;
  if (a > 0) return results.slice(a - 1, b);
  const n = results.length;
  // -1 is the last result, so -k is at index n - k.
  return results.slice(Math.max(0, n + b), Math.max(0, n + a + 1));
}

/** The range as the answer echoes it: "1:100" or "-1:-100". */
export function formatPartialRange(range: PartialRange): string {
  return `${range[0]}:${range[1]}`;
}
