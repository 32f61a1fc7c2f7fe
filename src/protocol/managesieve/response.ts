// The wire form of ManageSieve responses (RFC 5804 section 4): strings go
// out quoted when they can, as a literal ("{n}" CRLF bytes) otherwise.
import { MAX_QUOTED } from './receiver.js';

/** A response code: an atom, with optional arguments already in wire form. */
export type ResponseCode = string;

export interface StatusResponse {
  status: 'OK' | 'NO' | 'BYE';
  code?: ResponseCode | undefined;
  text?: string | undefined;
}

/** A string in wire form: quoted if short and free of CR, LF and NUL, else a literal. */
export function wireString(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (bytes.length <= MAX_QUOTED && !bytes.includes(0x0d) && !bytes.includes(0x0a) && !bytes.includes(0)) {
    const escaped = bytes.toString('utf8').replace(/["\\]/g, (c) => `\\${c}`);
    return Buffer.from(`"${escaped}"`, 'utf8');
  }
  return Buffer.concat([Buffer.from(`{${bytes.length}}\r\n`), bytes]);
}

export function statusLine(r: StatusResponse): Buffer {
  const parts: Buffer[] = [Buffer.from(r.status)];
  if (r.code) parts.push(Buffer.from(` (${r.code})`));
  if (r.text !== undefined) parts.push(Buffer.from(' '), wireString(r.text));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** A line of strings and atoms ("IMPLEMENTATION" "Postino", "name" ACTIVE). */
export function dataLine(...items: Array<{ atom: string } | string>): Buffer {
  const parts: Buffer[] = [];
  items.forEach((item, i) => {
    if (i > 0) parts.push(Buffer.from(' '));
    parts.push(typeof item === 'string' ? wireString(item) : Buffer.from(item.atom));
  });
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}
