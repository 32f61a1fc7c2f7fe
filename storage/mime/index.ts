// The MIME indexer: runs once per message at delivery/append and produces the
// JSON-serialisable MessageIndex kept in the SQLite index (ENVELOPE and
// BODYSTRUCTURE data, byte offsets of every part, search fields). Pure: no
// I/O. Never throws on malformed mail; it describes what Dovecot would.

import type { MessageIndex, SearchFields } from './types.js';
import { MIME_INDEX_VERSION } from './types.js';
import { parseMessage, type RawHeader } from './parser.js';
import { addressesToText, decodeHeader, messageIds, parseDate } from './decode.js';

export type * from './types.js';
export { MIME_INDEX_VERSION } from './types.js';

function lastHeader(headers: RawHeader[], lname: string): string | undefined {
  for (let i = headers.length - 1; i >= 0; i--) {
    const h = headers[i]!;
    if (h.name.toLowerCase() === lname) return h.value;
  }
  return undefined;
}

function firstId(value: string | undefined): string | null {
  if (value === undefined) return null;
  const ids = messageIds(value);
  if (ids.length > 0) return ids[0]!;
  const t = value.replace(/\s+/g, ' ').trim();
  return t === '' ? null : t;
}

export function indexMessage(raw: Buffer): MessageIndex {
  const parsed = parseMessage(raw);
  const env = parsed.envelope;
  const headers = parsed.headers;
  const search: SearchFields = {
    subject: env.subject === undefined ? '' : decodeHeader(env.subject).replace(/\s+/g, ' ').trim(),
    from: addressesToText(env.from),
    to: addressesToText(env.to),
    cc: addressesToText(env.cc),
    bcc: addressesToText(env.bcc),
    date: parseDate(env.date),
    messageId: firstId(env.messageId),
    inReplyTo: firstId(env.inReplyTo),
    references: messageIds(lastHeader(headers, 'references')),
  };
  return {
    v: MIME_INDEX_VERSION,
    size: parsed.size,
    vsize: parsed.vsize,
    bareLf: parsed.bareLf,
    envelope: env,
    body: parsed.root,
    search,
  };
}

/** indexMessage as the JSON text the store keeps (storage's MessageIndexer signature). */
export function indexMessageJson(raw: Buffer): string {
  return JSON.stringify(indexMessage(raw));
}

/** Reads a stored index back; null when it is missing, unreadable or from another version. */
export function parseMessageIndex(json: string | null | undefined): MessageIndex | null {
  if (json === null || json === undefined) return null;
  try {
    const v = JSON.parse(json) as MessageIndex;
    return v !== null && typeof v === 'object' && v.v === MIME_INDEX_VERSION ? v : null;
  } catch {
    return null;
  }
}
