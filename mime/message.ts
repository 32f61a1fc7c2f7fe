// One message, parsed once where it arrives (the end of SMTP or LMTP DATA;
// the delivery agent when `postino deliver` or a local retry hands it bytes)
// and handed down: the DATA hooks (sender checks), Sieve, auto-replies and
// DSNs, the delivery plan's header edits. The header view is made at once
// (it is small and everyone needs it); the MIME structure and the text parts
// only when someone asks, and then once (indexMessage takes the model too).
// A stored copy carries our fields on top, so storage indexes its own bytes.
//
// A header edit gives a new ParsedMessage over the new bytes; only its
// header section is split again (fields put on top: only those).

import { MessageHeader, applyHeaderEdits, prependWithLayout, withoutFields, type HeaderEdit, type HeaderField, type HeaderLayout } from './header.js';
import { indexRaw } from './index.js';
import { parseStructure, type ParseResult } from './parser.js';
import { textParts, type TextPart } from './text.js';
import type { MessageIndex, MimePart } from './types.js';

export class ParsedMessage {
  readonly header: MessageHeader;
  private structure: ParseResult | null | undefined;
  private indexed: MessageIndex | undefined;
  private parts: TextPart[] | undefined;

  constructor(
    readonly raw: Buffer,
    layout?: HeaderLayout,
  ) {
    this.header = new MessageHeader(raw, layout);
  }

  get size(): number {
    return this.raw.length;
  }

  /** The body: everything after the empty line that ends the header. */
  body(): Buffer {
    return this.raw.subarray(this.header.bodyStart);
  }

  /** The MIME index (ENVELOPE, BODYSTRUCTURE, search fields), made on first use. */
  index(): MessageIndex {
    this.indexed ??= indexRaw(this.raw, this.header, this.structure ?? undefined);
    return this.indexed;
  }

  /** The part tree, from the structure parse alone (the search fields are not needed for it). */
  private root(): MimePart {
    if (this.indexed !== undefined) return this.indexed.body;
    if (this.structure === undefined) {
      try {
        this.structure = parseStructure(this.raw);
      } catch {
        this.structure = null; // the index says what it can (one text part)
      }
    }
    return this.structure?.root ?? this.index().body;
  }

  /** Every part's decoded text (the Sieve body test), made on first use. */
  textParts(): TextPart[] {
    this.parts ??= textParts(this.raw, this.root());
    return this.parts;
  }

  /** With header fields ("Name: value", no line ending) put on top. */
  prepend(fields: readonly string[]): ParsedMessage {
    if (fields.length === 0) return this;
    const { raw, layout } = prependWithLayout(this.header, fields);
    return new ParsedMessage(raw, layout);
  }

  /** With editheader edits applied (RFC 5293). */
  edit(edits: readonly HeaderEdit[]): ParsedMessage {
    return edits.length === 0 ? this : new ParsedMessage(applyHeaderEdits(this.header, edits));
  }

  /** Without the header fields `drop` picks. */
  without(drop: (f: HeaderField) => boolean): ParsedMessage {
    const raw = withoutFields(this.header, drop);
    return raw === this.raw ? this : new ParsedMessage(raw);
  }
}

/** Parses raw message bytes (CRLF or bare LF line ends) once. Never throws. */
export function parseMessage(raw: Buffer): ParsedMessage {
  return new ParsedMessage(raw);
}
