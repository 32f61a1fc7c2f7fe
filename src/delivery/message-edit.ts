// Byte-level edits of a raw message's header block: prepending trace
// fields, and Sieve editheader's addheader/deleteheader. The body is never
// touched, so signatures over it stay valid.

/** Offset where the body starts (after the blank line), or the length if there is none. */
export function headerBlockEnd(raw: Buffer): number {
  // indexOf, not a loop over every byte: this runs on every message, whole.
  for (let i = raw.indexOf(0x0a); i >= 0; i = raw.indexOf(0x0a, i + 1)) {
    if (raw[i + 1] === 0x0a) return i + 1;
    if (raw[i + 1] === 0x0d && raw[i + 2] === 0x0a) return i + 1;
  }
  return raw.length;
}

/** Splits the header block into fields (each with its folded continuation lines, line endings kept). */
export function splitHeaderFields(block: string): string[] {
  const lines = block.split(/(?<=\n)/);
  const fields: string[] = [];
  for (const line of lines) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length > 0) fields[fields.length - 1] += line;
    else if (line.trim() !== '' || fields.length > 0) fields.push(line);
  }
  return fields.filter((f) => f.trim() !== '');
}

export function fieldName(field: string): string {
  const colon = field.indexOf(':');
  return (colon < 0 ? field : field.slice(0, colon)).trim().toLowerCase();
}

/** Puts header fields (each "Name: value", no line ending) on top of the message. */
export function prependHeaders(raw: Buffer, fields: string[]): Buffer {
  if (fields.length === 0) return raw;
  return Buffer.concat([Buffer.from(fields.map((f) => f + '\r\n').join(''), 'utf8'), raw]);
}

/** Values of every field with this name in the header block (unfolded, trimmed). */
export function headerValues(raw: Buffer, name: string): string[] {
  const block = raw.subarray(0, headerBlockEnd(raw)).toString('utf8');
  const lower = name.toLowerCase();
  return splitHeaderFields(block)
    .filter((f) => fieldName(f) === lower)
    .map((f) => f.slice(f.indexOf(':') + 1).replace(/\r?\n[ \t]/g, ' ').trim());
}

export function countHeader(raw: Buffer, name: string): number {
  return headerValues(raw, name).length;
}

export type HeaderEdit = { type: 'addheader'; name: string; value: string; last: boolean } | { type: 'deleteheader'; name: string; occurrence: number };

/** Applies editheader edits in order (RFC 5293). */
export function applyHeaderEdits(raw: Buffer, edits: HeaderEdit[]): Buffer {
  if (edits.length === 0) return raw;
  const end = headerBlockEnd(raw);
  let fields = splitHeaderFields(raw.subarray(0, end).toString('utf8'));
  for (const e of edits) {
    if (e.type === 'addheader') {
      const field = `${e.name}: ${e.value.replace(/\r?\n/g, '\r\n ')}\r\n`;
      fields = e.last ? [...fields, field] : [field, ...fields];
    } else {
      let n = 0;
      const lower = e.name.toLowerCase();
      fields = fields.filter((f) => !(fieldName(f) === lower && ++n === e.occurrence));
    }
  }
  const body = raw.subarray(end);
  return Buffer.concat([Buffer.from(fields.join(''), 'utf8'), body.length > 0 ? body : Buffer.from('\r\n')]);
}
