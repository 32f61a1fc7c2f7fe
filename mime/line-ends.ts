// Line ends of stored bytes: messages may be kept with bare LF line ends,
// and what goes out on the wire (IMAP, as Dovecot sends it) or into a
// checker that expects it (mailauth) is CRLF.

/** Bare LF -> CRLF; the same buffer when there is none. */
export function toCrlf(b: Buffer): Buffer {
  let extra = 0;
  for (let i = b.indexOf(0x0a); i !== -1; i = b.indexOf(0x0a, i + 1)) {
    if (i === 0 || b[i - 1] !== 0x0d) extra++;
  }
  if (extra === 0) return b;
  const out = Buffer.allocUnsafe(b.length + extra);
  let o = 0;
  let s = 0;
  for (let i = b.indexOf(0x0a); i !== -1; i = b.indexOf(0x0a, i + 1)) {
    if (i === 0 || b[i - 1] !== 0x0d) {
      o += b.copy(out, o, s, i);
      out[o++] = 0x0d;
      s = i;
    }
  }
  b.copy(out, o, s);
  return out;
}

const LF_DOT = Buffer.from('\n.');

/**
 * Whether a line of the message starts with "." (the first line, or one
 * after any LF): POP3 must dot-stuff those (RFC 1939 3). One search, linear.
 */
export function hasDotLine(b: Buffer): boolean {
  return b.length > 0 && (b[0] === 0x2e || b.indexOf(LF_DOT) !== -1);
}
