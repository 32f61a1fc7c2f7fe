// Address lists in header fields (RFC 5322 3.4), tolerant of the mess real
// mail carries: display names, comments, quoted local parts, groups, obsolete
// routes. Yields the addr-specs in order; a value that holds no parseable
// address yields nothing (Pigeonhole matches nothing then as well).

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

function stripComments(s: string): string {
  let out = '';
  let depth = 0;
  let inQuote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inQuote) {
      out += c;
      if (c === '\\' && i + 1 < s.length) out += s[++i];
      else if (c === '"') inQuote = false;
      continue;
    }
    if (depth > 0) {
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
      continue;
    }
    if (c === '(') {
      depth++;
      out += ' ';
    } else {
      if (c === '"') inQuote = true;
      out += c;
    }
  }
  return out;
}

/** Splits at top-level commas (and group punctuation ':' ';'), outside quotes and <>. */
function splitMailboxes(s: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? '';
    if (inQuote) {
      cur += c;
      if (c === '\\' && i + 1 < s.length) cur += s[++i];
      else if (c === '"') inQuote = false;
      continue;
    }
    if (c === '"') inQuote = true;
    else if (c === '<') inAngle = true;
    else if (c === '>') inAngle = false;
    else if (!inAngle && (c === ',' || c === ';')) {
      parts.push(cur);
      cur = '';
      continue;
    } else if (!inAngle && c === ':') {
      // group "name:" - what came before is the group's display name
      cur = '';
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  return parts;
}

const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/** A quoted local part is unquoted when that gives a dot-atom, else kept quoted (as Pigeonhole does). */
function unquoteLocal(local: string): string {
  const t = local.trim();
  if (t.startsWith('"') && t.endsWith('"') && t.length >= 2) {
    const inner = t.slice(1, -1).replace(/\\(.)/g, '$1');
    return DOT_ATOM.test(inner) ? inner : t;
  }
  return t.replace(/\s+/g, '');
}

function normaliseAddrSpec(spec: string): string | undefined {
  let s = spec.trim();
  // obsolete route: <@a,@b:user@dom>
  const route = /^(@[^:]*:)/.exec(s);
  if (route) s = s.slice(route[0].length);
  if (s === '') return undefined;
  const at = s.lastIndexOf('@');
  if (at < 0) {
    const local = unquoteLocal(s);
    return /[\s<>]/.test(local) || local === '' ? undefined : local;
  }
  const local = unquoteLocal(s.slice(0, at));
  const domain = s.slice(at + 1).replace(/\s+/g, '');
  if (local === '' || domain === '' || /[<>\s]/.test(domain)) return undefined;
  return `${local}@${domain}`;
}

const SIMPLE_LIST = /^[^"():;\\[]*$/;
const SIMPLE_ADDR = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+$/;

/** The addresses of an address-list header value, as "local@domain" strings. */
export function parseAddressList(value: string): string[] {
  // Fast path: no comments, quotes, groups or literals (most real headers).
  if (SIMPLE_LIST.test(value)) {
    const out: string[] = [];
    let ok = true;
    for (const part of value.split(',')) {
      let p = part.trim();
      if (p === '') continue;
      const lt = p.indexOf('<');
      if (lt >= 0) {
        const gt = p.indexOf('>', lt);
        p = p.slice(lt + 1, gt < 0 ? undefined : gt).trim();
      }
      if (!SIMPLE_ADDR.test(p)) {
        ok = false;
        break;
      }
      out.push(p);
    }
    if (ok) return out;
  }
  const out: string[] = [];
  for (const part of splitMailboxes(stripComments(value))) {
    const p = part.trim();
    if (p === '') continue;
    const lt = p.indexOf('<');
    let spec: string;
    if (lt >= 0) {
      const gt = p.indexOf('>', lt);
      spec = p.slice(lt + 1, gt < 0 ? undefined : gt);
    } else spec = p;
    const a = normaliseAddrSpec(spec);
    if (a !== undefined) out.push(a);
  }
  return out;
}
