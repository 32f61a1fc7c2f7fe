// Content-Transfer-Encoding decoders (RFC 2045 6.7, 6.8) over bytes, for
// IMAP BINARY (RFC 3516), SEARCH BODY/TEXT and the Sieve body test. Lenient
// like mail readers: bytes that are not valid encoding pass through or are
// skipped, never an error. Line breaks come out as CRLF, as everything the
// server sends.
//
// Base64 is libbase64's. Quoted-printable stays written here: libqp's
// decode() strips trailing blanks with /[\t ]+$/gm, which takes time
// quadratic in a run of blanks (100 kB of spaces: over 30 s), and BINARY
// must give Dovecot's bytes (CRLF line ends, trailing blanks dropped).
import { decode as base64Decode } from 'libbase64';

/** The encodings BINARY can undo; anything else is UNKNOWN-CTE. Identity encodings need nothing. */
export type TransferEncoding = 'identity' | 'base64' | 'quoted-printable';

export function transferEncoding(cte: string | undefined): TransferEncoding | undefined {
  const e = (cte ?? '7bit').trim().toLowerCase();
  if (e === '7bit' || e === '8bit' || e === 'binary' || e === '') return 'identity';
  if (e === 'base64' || e === 'quoted-printable') return e;
  return undefined;
}

export function decodeBase64(body: Buffer): Buffer {
  // Characters outside the alphabet (CRLF, spaces) are skipped; decoding stops at padding.
  return base64Decode(body.toString('latin1'));
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Soft line breaks ("=" at the end of a line) join lines; trailing blanks of a line are dropped. */
export function decodeQuotedPrintable(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length * 2);
  let o = 0;
  let pos = 0;
  while (pos < body.length) {
    const nl = body.indexOf(0x0a, pos);
    const next = nl === -1 ? body.length : nl + 1;
    let end = nl === -1 ? body.length : nl;
    if (end > pos && body[end - 1] === 0x0d) end--;
    while (end > pos && (body[end - 1] === 0x20 || body[end - 1] === 0x09)) end--;
    let soft = false;
    for (let i = pos; i < end; i++) {
      const c = body[i]!;
      if (c !== 0x3d) {
        out[o++] = c;
        continue;
      }
      if (i === end - 1) {
        soft = true;
        break;
      }
      const hi = hexValue(body[i + 1]);
      const lo = hexValue(body[i + 2]);
      if (hi >= 0 && lo >= 0 && i + 2 < end) {
        out[o++] = hi * 16 + lo;
        i += 2;
      } else out[o++] = c;
    }
    if (nl !== -1 && !soft) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
    }
    pos = next;
  }
  return Buffer.from(out.subarray(0, o));
}

/** Decoded content, or undefined for an encoding that cannot be undone. */
export function decodeTransfer(body: Buffer, cte: string | undefined): Buffer | undefined {
  switch (transferEncoding(cte)) {
    case 'identity':
      return body;
    case 'base64':
      return decodeBase64(body);
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return undefined;
  }
}
