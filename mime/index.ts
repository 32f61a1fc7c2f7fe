// mime/: the message model, pure (no I/O, nothing from src/, storage/ or
// sieve/). parseMessage (message.ts) parses a message once where it arrives;
// its header view (header.ts) keeps offsets and raw bytes, and makes header
// edits. The MIME indexer below runs once per message at delivery/append and
// produces the JSON-serialisable MessageIndex kept in the index (ENVELOPE and
// BODYSTRUCTURE data, byte offsets of every part, search fields); it never
// throws on malformed mail and describes what Dovecot would.

import type { MessageIndex, SearchFields } from './types.js';
import { MIME_INDEX_VERSION } from './types.js';
import { parseStructure, type ParseResult } from './parser.js';
import { MessageHeader } from './header.js';
import { addressesToText, decodeHeader, messageIds, parseDate } from './decode.js';
import { hasDotLine } from './line-ends.js';

export type * from './types.js';
export { MIME_INDEX_VERSION } from './types.js';
export { ParsedMessage, parseMessage } from './message.js';
export { MessageHeader, splitHeader, unfold, applyHeaderEdits, prependFields, withoutFields } from './header.js';
export type { HeaderField, HeaderLayout, HeaderEdit } from './header.js';
export { bytesToText, decodeHeader, decodeWords, decodeCharset, parseDate, writtenDay } from './decode.js';
export { addrSpecs, parseAddressList, parseAddresses, parsedAddrSpecs, simpleAddrSpecs, type ParsedAddress } from './address.js';
export { decodeTransfer, transferEncoding, type TransferEncoding } from './transfer-encoding.js';
export { searchableText, textParts, type TextPart } from './text.js';
export { hasDotLine, toCrlf } from './line-ends.js';

/** The last field of that name in the message's own header, raw (latin1), as Dovecot keeps the last one. */
function lastValue(header: MessageHeader, name: string): string | undefined {
  const f = header.all(name).at(-1);
  return f === undefined ? undefined : header.rawText(f);
}

function firstId(value: string | undefined): string | null {
  if (value === undefined) return null;
  const ids = messageIds(value);
  if (ids.length > 0) return ids[0]!;
  const t = value.replace(/\s+/g, ' ').trim();
  return t === '' ? null : t;
}

/**
 * Indexes a message (as stored: CRLF or bare LF line ends), raw or parsed
 * (a ParsedMessage keeps the index it made). Pure and
 * synchronous; never throws (a parser bug degrades to a one-part text/plain
 * description of the whole message rather than losing the delivery).
 */
export function indexMessage(input: Buffer | { index(): MessageIndex }): MessageIndex {
  if (!Buffer.isBuffer(input)) return input.index();
  return indexRaw(input);
}

/**
 * indexMessage over bytes (what ParsedMessage.index runs once), from the
 * structure already parsed when there is one.
 */
export function indexRaw(raw: Buffer, header?: MessageHeader, structure?: ParseResult): MessageIndex {
  let index: MessageIndex;
  try {
    index = indexParsed(structure ?? parseStructure(raw), header ?? new MessageHeader(raw));
  } catch {
    index = fallbackIndex(raw);
  }
  index.dotLines = hasDotLine(raw);
  return index;
}

function fallbackIndex(raw: Buffer): MessageIndex {
  let lf = 0;
  let bare = 0;
  for (let i = raw.indexOf(0x0a); i !== -1; i = raw.indexOf(0x0a, i + 1)) {
    lf++;
    if (i === 0 || raw[i - 1] !== 0x0d) bare++;
  }
  return {
    v: MIME_INDEX_VERSION,
    size: raw.length,
    vsize: raw.length + bare,
    bareLf: bare > 0,
    envelope: {},
    body: { kind: 'text', hdrOff: 0, hdrLen: 0, bodyLen: raw.length, bodySize: raw.length + bare, lines: lf, hdrSize: 0 },
    search: { subject: '', from: '', to: '', cc: '', bcc: '', date: null, messageId: null, inReplyTo: null, references: [] },
  };
}

function indexParsed(parsed: ParseResult, header: MessageHeader): MessageIndex {
  const env = parsed.envelope;
  const search: SearchFields = {
    subject: env.subject === undefined ? '' : decodeHeader(env.subject).replace(/\s+/g, ' ').trim(),
    from: addressesToText(env.from),
    to: addressesToText(env.to),
    cc: addressesToText(env.cc),
    bcc: addressesToText(env.bcc),
    date: parseDate(env.date),
    messageId: firstId(env.messageId),
    inReplyTo: firstId(env.inReplyTo),
    references: messageIds(lastValue(header, 'references')),
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
