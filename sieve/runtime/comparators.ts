// RFC 4790 comparators used by Sieve. Each says how to compare for equality,
// substring and ordering, and how to prepare strings for :matches.

export type ComparatorName = 'i;octet' | 'i;ascii-casemap' | 'i;ascii-numeric';

export const comparatorNames: readonly ComparatorName[] = ['i;octet', 'i;ascii-casemap', 'i;ascii-numeric'];

const UPPER = /[A-Z]/;

/** ASCII-only lower-casing: i;ascii-casemap leaves non-ASCII letters alone. */
const NON_ASCII = /[^\x00-\x7f]/;
const UPPER_RUN = /[A-Z]+/g;

export function asciiLower(s: string): string {
  if (!UPPER.test(s)) return s;
  // toLowerCase would also fold non-ASCII letters, which i;ascii-casemap must not.
  if (!NON_ASCII.test(s)) return s.toLowerCase();
  return s.replace(UPPER_RUN, (m) => m.toLowerCase());
}

/** i;ascii-numeric value: leading digits, or Infinity when there are none. */
export function numericValue(s: string): number {
  let i = 0;
  while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
  if (i === 0) return Infinity;
  // Strip leading zeros so very long digit strings still order correctly as far as doubles allow.
  return Number(s.slice(0, i));
}

export interface Comparator {
  name: ComparatorName;
  /** Prepares a string so that i;octet rules then apply (case folding). */
  fold(s: string): string;
  /** <0, 0, >0 as a compares to b (ordering for :value / :count). */
  order(a: string, b: string): number;
  supportsSubstring: boolean;
}

function octetOrder(a: string, b: string): number {
  // i;octet orders by UTF-8 octets; comparing UTF-16 code units agrees except
  // for astral vs. U+E000..U+FFFF, which we accept.
  return a < b ? -1 : a > b ? 1 : 0;
}

export const comparators: Record<ComparatorName, Comparator> = {
  'i;octet': { name: 'i;octet', fold: (s) => s, order: octetOrder, supportsSubstring: true },
  'i;ascii-casemap': {
    name: 'i;ascii-casemap',
    fold: asciiLower,
    order: (a, b) => octetOrder(asciiLower(a), asciiLower(b)),
    supportsSubstring: true,
  },
  'i;ascii-numeric': {
    name: 'i;ascii-numeric',
    fold: (s) => s,
    order: (a, b) => {
      const x = numericValue(a);
      const y = numericValue(b);
      return x === y ? 0 : x < y ? -1 : 1;
    },
    supportsSubstring: false,
  },
};
