// Address lists in header fields (RFC 5322 3.4) for the address test, read
// by the message model's one address parser (mime/address.ts, Dovecot's
// rules, which Pigeonhole uses too): display names, comments, quoted local
// parts, groups, obsolete routes. Yields the addr-specs in order; an entry
// that is broken or has its local part or domain missing yields nothing.
import { addrSpecs } from '../../mime/index.js';

export interface ParsedAddress {
  localpart: string;
  domain: string;
}

/** Splits "local@domain" (last '@'); a string without '@' is all local part. */
export function splitAddress(addr: string): ParsedAddress {
  const at = addr.lastIndexOf('@');
  if (at < 0) return { localpart: addr, domain: '' };
  return { localpart: addr.slice(0, at), domain: addr.slice(at + 1) };
}

/**
 * A local part as :localpart, :user and :detail see it: its quoted strings
 * unquoted (quotes dropped, backslash escapes resolved), as Pigeonhole gives
 * it; :all keeps the address as written ("\"a b\"@x" -> "a b").
 */
export function unquotedLocalPart(local: string): string {
  if (!local.includes('"')) return local;
  let out = '';
  let quoted = false;
  for (let i = 0; i < local.length; i++) {
    const c = local[i]!;
    if (c === '"') quoted = !quoted;
    else if (quoted && c === '\\' && i + 1 < local.length) out += local[++i];
    else out += c;
  }
  return out;
}

/** The addresses of an address-list header value (Unicode text), as "local@domain" strings. */
export function parseAddressList(value: string): string[] {
  return addrSpecs(value);
}
