// The charset argument of SORT and THREAD (RFC 5256): search strings arrive
// in that charset and are compared as Unicode text. Like Dovecot, any charset
// the platform can decode is accepted (ISO-8859-1, KOI8-R, windows-1252...);
// an unknown one gets NO [BADCHARSET].
import { TextDecoder } from 'node:util';
import { astring, type Arg } from './parser.js';

const UTF8_NAMES = new Set(['UTF-8', 'UTF8', 'US-ASCII', 'ASCII']);

/** Turns a search-string argument into text; undefined when the charset is unknown. */
export function searchStringDecoder(charset: string): ((a: Arg | undefined) => string) | undefined {
  if (UTF8_NAMES.has(charset.toUpperCase())) return (a) => astring(a, 'search string');
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset);
  } catch {
    return undefined;
  }
  return (a) => (a !== undefined && a.type === 'string' ? decoder.decode(a.value) : astring(a, 'search string'));
}
