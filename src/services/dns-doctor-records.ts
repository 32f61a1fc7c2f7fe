// Small pieces `postino dns check` shares between its checks: one DNS question
// answered as found / none / tempfail, TXT records joined, tag lists (DKIM,
// DMARC) parsed, and records written the way a zone file wants them.
// Everything here reads data from the network: each parser is one pass over
// input whose length is capped first.
import type { DnsResolver } from '../net/dns.js';

/** An answer, nothing there (NXDOMAIN or NODATA), or a failure that may pass (SERVFAIL, timeout...). */
export type Lookup<T> =
  | { kind: 'found'; records: T[] }
  | { kind: 'none'; code: string }
  | { kind: 'tempfail'; code: string };

/** The codes that mean "the answer is: nothing". Everything else is a temporary failure. */
const NOTHING_CODES = new Set(['ENOTFOUND', 'ENODATA', 'EBADNAME']);

export async function lookup<T>(resolver: DnsResolver, name: string, rrtype: string): Promise<Lookup<T>> {
  try {
    const records = (await resolver(name, rrtype)) as T[];
    return records.length > 0 ? { kind: 'found', records } : { kind: 'none', code: 'ENODATA' };
  } catch (err) {
    const code = String((err as NodeJS.ErrnoException)?.code ?? 'ERROR');
    return NOTHING_CODES.has(code) ? { kind: 'none', code } : { kind: 'tempfail', code };
  }
}

/** TXT records as node gives them (each a list of character-strings) joined as RFC 7208 3.3 says. */
export async function lookupTxt(resolver: DnsResolver, name: string): Promise<Lookup<string>> {
  const r = await lookup<string[] | string>(resolver, name, 'TXT');
  if (r.kind !== 'found') return r;
  return { kind: 'found', records: r.records.map((parts) => (Array.isArray(parts) ? parts.join('') : String(parts))) };
}

/** A/AAAA of a name together; tempfail when either failed and nothing was found. */
export async function lookupAddresses(resolver: DnsResolver, name: string): Promise<Lookup<string>> {
  const [a, aaaa] = await Promise.all([lookup<string>(resolver, name, 'A'), lookup<string>(resolver, name, 'AAAA')]);
  const records = [...(a.kind === 'found' ? a.records : []), ...(aaaa.kind === 'found' ? aaaa.records : [])];
  if (a.kind === 'tempfail' || aaaa.kind === 'tempfail') {
    return { kind: 'tempfail', code: a.kind === 'tempfail' ? a.code : (aaaa as { code: string }).code };
  }
  return records.length > 0 ? { kind: 'found', records } : { kind: 'none', code: a.kind === 'none' ? a.code : 'ENODATA' };
}

/** Longest record any check parses; longer ones are reported, not read. */
export const MAX_RECORD_LENGTH = 8192;

/**
 * A DKIM or DMARC tag list ("v=DKIM1; k=rsa; p=..."): tags lowercased, values
 * trimmed with folding whitespace removed from p=. Returns an error for a tag
 * given twice or a part without "=". One split per ';', so linear.
 */
export function parseTagList(text: string): { tags: Map<string, string>; order: string[] } | { error: string } {
  if (text.length > MAX_RECORD_LENGTH) return { error: `record of ${text.length} characters (more than ${MAX_RECORD_LENGTH})` };
  const tags = new Map<string, string>();
  const order: string[] = [];
  for (const part of text.split(';')) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    if (eq <= 0) return { error: `malformed tag ${JSON.stringify(shorten(trimmed))}` };
    const name = trimmed.slice(0, eq).trim().toLowerCase();
    const value = trimmed.slice(eq + 1).trim();
    if (tags.has(name)) return { error: `tag ${name}= given twice` };
    tags.set(name, value);
    order.push(name);
  }
  return { tags, order };
}

/** Lowercase, without the trailing dot: the form names are compared in. */
export function canonicalName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/** Text safe to quote in a report line: bounded, control characters shown as '?'. */
export function shorten(text: string, max = 80): string {
  const clipped = text.length > max ? `${text.slice(0, max)}...` : text;
  return clipped.replace(/[\u0000-\u001f\u007f]/g, '?');
}

/** A TXT record as a zone file line: quoted, escaped, split in strings of at most 255 characters. */
export function txtLine(owner: string, value: string): string {
  const chunks: string[] = [];
  for (let i = 0; i < value.length; i += 255) chunks.push(value.slice(i, i + 255));
  if (chunks.length === 0) chunks.push('');
  const quoted = chunks.map((c) => `"${c.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`).join(' ');
  return `${owner}. IN TXT ${quoted}`;
}
