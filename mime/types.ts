// Types of the MIME index computed once per message at delivery and stored as
// JSON in the SQLite index (messages.mime). Everything here is plain data.
//
// "Byte strings": values taken verbatim from header fields are kept as
// latin1 strings, one char per byte (0..255), so 8-bit and non-UTF-8 bytes
// survive the JSON round trip unchanged and the IMAP renderer can emit exactly
// the bytes Dovecot would. Convert with Buffer.from(s, 'latin1').
// Search fields, in contrast, are decoded Unicode text.

/** Bumped when the stored shape or the parsing rules change; old rows are re-indexed. */
export const MIME_INDEX_VERSION = 2;

/**
 * One address of an ENVELOPE address list, in IMAP order:
 * [name, route (adl), mailbox, host]; null is NIL. All byte strings.
 * A group starts with [null, null, groupName, null] and ends with
 * [null, null, null, null] (RFC 3501 section 7.4.2).
 */
export type EnvelopeAddress = [string | null, string | null, string | null, string | null];

/**
 * The ENVELOPE fields as found in the header (last occurrence wins, as in
 * Dovecot). Absent keys mean the header was absent (or held no address).
 * Defaulting of sender/reply-to to from happens when rendering.
 * date, subject, inReplyTo, messageId are the raw (unfolded only by "\n"
 * joins, encoded words left encoded) byte-string values.
 */
export interface Envelope {
  date?: string;
  subject?: string;
  from?: EnvelopeAddress[];
  sender?: EnvelopeAddress[];
  replyTo?: EnvelopeAddress[];
  to?: EnvelopeAddress[];
  cc?: EnvelopeAddress[];
  bcc?: EnvelopeAddress[];
  inReplyTo?: string;
  messageId?: string;
}

/**
 * What the parser decided a part is (Dovecot's message_part flags):
 * 'multipart' has `parts` (possibly empty), 'message' (message/rfc822, or a
 * bare part of multipart/digest) has exactly one part, the embedded message.
 */
export type PartKind = 'multipart' | 'message' | 'text' | 'other';

/**
 * A MIME part. Byte offsets are physical positions in the raw stored message.
 * The header (IMAP "MIME" / "HEADER" section) is [hdrOff, hdrOff+hdrLen) and
 * includes the blank line ending it; the body is [hdrOff+hdrLen, +bodyLen).
 * Content-* values are byte strings; absent keys mean the header was absent
 * (NIL / the RFC 3501 defaults when rendered).
 */
export interface MimePart {
  kind: PartKind;
  /**
   * Content-Type type and subtype as written (no case folding); absent = no
   * usable Content-Type. A multipart or message/rfc822 part left unparsed at
   * the parser's limits (nesting depth 99, 10000 parts) says
   * application/octet-stream, as Dovecot does.
   */
  type?: string;
  subtype?: string;
  /** Content-Type parameters as flat [name, value, name, value...], RFC 2231 merged like Dovecot. */
  params?: string[];
  id?: string;
  desc?: string;
  enc?: string;
  md5?: string;
  disp?: string;
  dispParams?: string[];
  lang?: string[];
  loc?: string;
  hdrOff: number;
  hdrLen: number;
  bodyLen: number;
  /** Body size with every bare LF counted as CRLF (what IMAP reports). */
  bodySize: number;
  /** Body line count (LF count), reported for text/* and message/rfc822. */
  lines: number;
  /** Header size counted the same way (needed for the size of a MIME/HEADER section). */
  hdrSize: number;
  /** Children: multipart subparts, or the single embedded message of a 'message' part. */
  parts?: MimePart[];
  /** On the embedded message of a 'message' part: its ENVELOPE. */
  env?: Envelope;
}

/** Decoded values for SEARCH and SORT (Unicode text, encoded words decoded). */
export interface SearchFields {
  subject: string;
  from: string;
  to: string;
  cc: string;
  bcc: string;
  /** Date: header in epoch milliseconds, or null when absent or unparsable. */
  date: number | null;
  /** Message-ID without surrounding whitespace, e.g. "<a@b>", or null. */
  messageId: string | null;
  inReplyTo: string | null;
  /** Message-IDs from References:, in order. */
  references: string[];
}

export interface MessageIndex {
  v: number;
  /** Physical size of the raw message in bytes. */
  size: number;
  /** RFC822.SIZE: the size with bare LFs counted as CRLF (what Dovecot reports). */
  vsize: number;
  /** True when the raw message has a bare LF somewhere, so FETCH must convert to CRLF. */
  bareLf: boolean;
  /**
   * True when a line starts with "." (POP3 dot-stuffs it), false when none
   * does, so RETR sends the bytes as they are. Absent from indexes made
   * before it was kept: then RETR looks.
   */
  dotLines?: boolean;
  envelope: Envelope;
  /** The root part (the message itself). */
  body: MimePart;
  search: SearchFields;
}
