// What the engine sees of a message. The host builds it once per delivery
// (mime-view.ts makes it from the parsed message model, mime/).

/** One header field as it appears in the message, in order. */
export interface SieveHeaderField {
  /** Field name as written (compared case-insensitively). */
  name: string;
  /** Raw value as in the message (may still contain folding CRLF + WSP), not RFC 2047 decoded. */
  value: string;
}

/** A MIME part, for the body extension: leaves, and multipart containers (whose text is the prologue + epilogue). */
export interface SieveBodyPart {
  /** Lower-cased "type/subtype" (text/plain when the part has no Content-Type). */
  contentType: string;
  /**
   * Decoded content: transfer- and charset-decoded text for text/* parts;
   * for other types the transfer-decoded octets as Latin-1 (one char per
   * octet); undefined when the host does not provide it.
   */
  text: string | undefined;
  /** For a multipart: its prologue and its epilogue (when not empty) as separate values, which :content compares one by one. */
  pieces?: string[];
}

export interface SieveMessageBody {
  /** The body after the header block, undecoded (body :raw). */
  raw: string;
  /** Parts in document order, containers before their children (a single-part message has one). */
  parts: SieveBodyPart[];
}

export interface SieveMessage {
  headers: readonly SieveHeaderField[];
  /** Size in octets (the size test). */
  size: number;
  /** Called only when a body test runs; the result is reused. */
  body(): SieveMessageBody;
}

/** The SMTP envelope of this delivery. */
export interface SieveEnvelope {
  /** MAIL FROM address without angle brackets; "" for the null sender. */
  from: string;
  /** RCPT TO address of this recipient (after alias expansion if any). */
  to: string;
  /** The authenticated submitter, if any (envelope "auth"). */
  auth?: string;
}
