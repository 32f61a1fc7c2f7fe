// Mail address syntax for names Postino manages (accounts, aliases,
// domains) and for addresses it is handed (alias targets).
import { domainToASCII } from 'node:url';
import { MailError } from '../storage/errors.js';

export interface Address {
  local: string;
  domain: string;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
/** RFC 5321 Dot-string atoms. */
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
/** What Postino accepts as the local part of an account or alias it owns: safe on disk, no subaddress separator. */
const OWNED_LOCAL = /^[a-z0-9](?:[a-z0-9._=-]{0,62}[a-z0-9_=-])?$/;

/** Lower-cases and checks a domain name; IDNs become their A-label form. */
export function normalizeDomain(input: string): string {
  const d = domainToASCII(input.trim().replace(/\.$/, '')).toLowerCase();
  if (d === '' || d.length > 253) throw new MailError('BADINPUT', `invalid domain name '${input}'`);
  const labels = d.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) throw new MailError('BADINPUT', `invalid domain name '${input}'`);
  return d;
}

/** Parses any deliverable address (local part dot-atom, no quoting, no routes). */
export function parseAddress(input: string): Address {
  const text = input.trim();
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1) throw new MailError('BADINPUT', `invalid address '${input}'`);
  const local = text.slice(0, at);
  if (local.length > 64 || !DOT_ATOM.test(local)) throw new MailError('BADINPUT', `invalid address '${input}'`);
  let domain: string;
  try {
    domain = normalizeDomain(text.slice(at + 1));
  } catch {
    throw new MailError('BADINPUT', `invalid address '${input}'`);
  }
  return { local, domain };
}

/** An address Postino owns (account or alias): stricter, lower-case, no "+". */
export function parseOwnedAddress(input: string): Address {
  const a = parseAddress(input);
  const local = a.local.toLowerCase();
  if (!OWNED_LOCAL.test(local) || local.includes('..')) {
    throw new MailError('BADINPUT', `invalid address '${input}': use letters, digits, '.', '_', '-', '=' in the local part`);
  }
  return { local, domain: a.domain };
}

export function formatAddress(a: Address): string {
  return `${a.local}@${a.domain}`;
}

/** Splits "user+detail" (RFC 5233). */
export function splitSubaddress(local: string, separator = '+'): { user: string; detail: string | undefined } {
  const i = local.indexOf(separator);
  return i < 0 ? { user: local, detail: undefined } : { user: local.slice(0, i), detail: local.slice(i + separator.length) };
}
