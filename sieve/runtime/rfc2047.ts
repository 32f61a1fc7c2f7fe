// Header values as Sieve compares them: unfolded and trimmed, and RFC 2047
// decoded by the message model's one decoder (mime/, libmime underneath:
// B and Q words, any charset, an unknown one read as UTF-8, whitespace
// between adjacent words dropped as RFC 2047 section 6.2 says).
import { decodeWords } from '../../mime/index.js';

/** Decodes RFC 2047 encoded words in an (unfolded) header value. */
export function decodeHeaderValue(value: string): string {
  return decodeWords(value);
}

/** Unfolds and trims a raw header value the way Sieve compares it. */
export function unfoldHeaderValue(raw: string): string {
  const n = raw.length;
  if (n > 0 && !raw.includes('\n')) {
    let a = 0;
    let b = n;
    while (a < b && (raw.charCodeAt(a) === 32 || raw.charCodeAt(a) === 9)) a++;
    while (b > a && (raw.charCodeAt(b - 1) === 32 || raw.charCodeAt(b - 1) === 9)) b--;
    return a === 0 && b === n ? raw : raw.slice(a, b);
  }
  let v = raw;
  if (v.includes('\n')) v = v.replace(/\r?\n[ \t]/g, ' ').replace(/\r?\n/g, '');
  // Trimmed by index: /[ \t]+$/ rescans a long inner run of blanks from each of its characters.
  let a = 0;
  let b = v.length;
  while (a < b && (v.charCodeAt(a) === 32 || v.charCodeAt(a) === 9)) a++;
  while (b > a && (v.charCodeAt(b - 1) === 32 || v.charCodeAt(b - 1) === 9)) b--;
  return v.slice(a, b);
}
