// Modified UTF-7 (RFC 3501 section 5.1.3) for mailbox names on the wire.
// With UTF8=ACCEPT enabled (RFC 6855) names travel as UTF-8 instead.

function b64encode(units: number[]): string {
  const bytes = Buffer.alloc(units.length * 2);
  units.forEach((u, i) => bytes.writeUInt16BE(u, i * 2));
  return bytes.toString('base64').replace(/=+$/, '').replace(/\//g, ',');
}

export function encodeMutf7(name: string): string {
  let out = '';
  let pending: number[] = [];
  const flush = () => {
    if (pending.length > 0) out += `&${b64encode(pending)}-`;
    pending = [];
  };
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e) {
      flush();
      out += c === 0x26 ? '&-' : name[i];
    } else {
      pending.push(c);
    }
  }
  flush();
  return out;
}

/** Decodes a modified UTF-7 name; throws on malformed input. */
export function decodeMutf7(wire: string): string {
  let out = '';
  for (let i = 0; i < wire.length; i++) {
    const ch = wire[i]!;
    const c = ch.charCodeAt(0);
    if (c < 0x20 || c > 0x7e) throw new Error('non-ASCII character in a modified UTF-7 name');
    if (ch !== '&') {
      out += ch;
      continue;
    }
    const end = wire.indexOf('-', i + 1);
    if (end < 0) throw new Error('unterminated modified UTF-7 shift');
    const b64 = wire.slice(i + 1, end);
    i = end;
    if (b64 === '') {
      out += '&';
      continue;
    }
    if (!/^[A-Za-z0-9+,]+$/.test(b64)) throw new Error('bad modified UTF-7 base64');
    const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    if (bytes.length % 2 !== 0 || bytes.length === 0) throw new Error('bad modified UTF-7 length');
    let chunk = '';
    const units: number[] = [];
    for (let k = 0; k < bytes.length; k += 2) {
      units.push(bytes.readUInt16BE(k));
      chunk += String.fromCharCode(bytes.readUInt16BE(k));
    }
    // Leftover bits must be zero: only the canonical spelling is accepted.
    if (b64encode(units) !== b64) throw new Error('non-canonical modified UTF-7');
    // Printable ASCII must not be encoded (RFC 3501), so a canonical name has one spelling.
    if (/[\x20-\x7e]/.test(chunk)) throw new Error('modified UTF-7 encodes printable ASCII');
    out += chunk;
  }
  return out;
}
