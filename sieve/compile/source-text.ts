// Helpers shared by the two parsers (fast-parse.ts and the ohm grammar in
// parse.ts): offsets to line:col, and the values of string tokens.
import type { Position } from './ast.js';

/** Offsets to line:col by binary search over the line starts (one scan of the text). */
export class LineTable {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }
  pos(idx: number): Position {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= idx) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: idx - (this.starts[lo] ?? 0) + 1 };
  }
}

export const NUMBER_LIMIT = 2 ** 31 - 1;

export function unescapeQuoted(body: string): string {
  if (!body.includes('\\')) return body;
  // RFC 5228 2.4.2: "\" followed by any character is that character.
  return body.replace(/\\([\s\S])/g, '$1');
}

export function multilineValue(lines: string[]): string {
  // Each line keeps its line break (normalised to CRLF as in the RFC); a line
  // starting with ".." has one dot removed (dot-stuffing).
  let out = '';
  for (const raw of lines) {
    let line = raw.replace(/\r?\n$/, '');
    if (line.startsWith('..')) line = line.slice(1);
    out += line + '\r\n';
  }
  return out;
}

/** The value of a number token (digits and an optional K/M/G), unchecked. */
export function numberValue(digits: string, quantifier: string): number {
  let value = Number(digits);
  const q = quantifier.toUpperCase();
  if (q === 'K') value *= 1024;
  else if (q === 'M') value *= 1024 * 1024;
  else if (q === 'G') value *= 1024 * 1024 * 1024;
  return value;
}
