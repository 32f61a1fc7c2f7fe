// Dovecot's pop3_uidl_format, for messages Dovecot kept no POP3 UIDL of
// (no P field in dovecot-uidlist): the UIDL its POP3 server gave them is
// computed again from the same template. The template is parsed once, as
// Dovecot's var_expand reads it (src/lib/var-expand.c):
//   %[-][0][width][.[0][-]width][modifiers]key
// with the keys pop3_uidl_format has: u (UID), v (UIDVALIDITY), g (GUID),
// f (file name), m (header MD5), and %% for "%". Modifiers: L (lower case),
// U (upper case), X (the decimal value in hexadecimal, lower-case digits, as
// Dovecot 2.3 prints it). Anything else is refused with one line rather
// than guessed: a wrong UIDL makes every POP3 client download everything.
import { MailError } from '../../../storage/errors.js';

export const DEFAULT_POP3_UIDL_FORMAT = '%08Xu%08Xv';

/** The values of one message. */
export interface UidlValues {
  uid: number;
  uidValidity: number;
  /** Dovecot's message GUID: the uidlist's G field, else the file name up to ":" (maildir-mail.c). */
  guid: string;
  /** The file name up to ":" (Dovecot's storage id). */
  filename: string;
}

type Key = 'u' | 'v' | 'g' | 'f';
type Part =
  | { literal: string }
  | { key: Key; offset: number; width: number; zeroPadding: boolean; modifiers: string[] };

/** A parsed template: expand() gives one message's UIDL. */
export interface Pop3UidlFormat {
  readonly template: string;
  expand(values: UidlValues): string;
}

const MAX_TEMPLATE = 256;
/** Offsets and widths beyond this are not a UIDL anyone used. */
const MAX_NUMBER = 1000;

function bad(template: string, why: string): MailError {
  return new MailError('BADINPUT', `--pop3-uidl-format ${JSON.stringify(template.slice(0, 60))}: ${why}`);
}

export function parsePop3UidlFormat(template: string): Pop3UidlFormat {
  if (template === '') throw bad(template, 'empty');
  if (template.length > MAX_TEMPLATE) throw bad(template, `longer than ${MAX_TEMPLATE} characters`);
  if (!/^[\x21-\x7e]+$/.test(template)) throw bad(template, 'only printable ASCII without spaces makes a UIDL');
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  const number = (): number => {
    let n = 0;
    const start = i;
    while (i < template.length && template[i]! >= '0' && template[i]! <= '9') {
      n = n * 10 + (template.charCodeAt(i) - 48);
      i++;
      if (i - start > 4 || n > MAX_NUMBER) throw bad(template, `a width or offset above ${MAX_NUMBER}`);
    }
    return n;
  };
  while (i < template.length) {
    const c = template[i++]!;
    if (c !== '%') {
      literal += c;
      continue;
    }
    let sign = 1;
    let zeroPadding = false;
    let offset = 0;
    if (template[i] === '-') {
      sign = -1;
      i++;
    }
    if (template[i] === '0') {
      zeroPadding = true;
      i++;
    }
    let width = number();
    if (template[i] === '.') {
      i++;
      offset = sign * width;
      sign = 1;
      width = 0;
      zeroPadding = false;
      if (template[i] === '0') {
        zeroPadding = true;
        i++;
      }
      if (template[i] === '-') {
        sign = -1;
        i++;
      }
      width = sign * number();
    }
    // Without ".", a leading "-" changes nothing (as in Dovecot).
    const modifiers: string[] = [];
    while (i < template.length && /[A-Z]/.test(template[i]!)) {
      const m = template[i++]!;
      if (m !== 'L' && m !== 'U' && m !== 'X') throw bad(template, `modifier %${m} is not supported (only L, U and X)`);
      if (modifiers.length >= 10) throw bad(template, 'too many modifiers');
      modifiers.push(m);
    }
    const key = template[i++];
    if (key === undefined) throw bad(template, 'ends inside a variable');
    if (key === '%') {
      literal += '%';
      continue;
    }
    if (key === 'm') {
      throw bad(template, "%m (an MD5 of the headers) is not supported: Dovecot's Maildir storage has none, so its POP3 never gave such UIDLs");
    }
    if (key === '{') throw bad(template, 'long variable names (%{...}) are not supported; pop3_uidl_format takes %u %v %g %f');
    if (key !== 'u' && key !== 'v' && key !== 'g' && key !== 'f') throw bad(template, `unknown variable %${key} (pop3_uidl_format has %u %v %g %f %m)`);
    if (literal !== '') parts.push({ literal });
    literal = '';
    parts.push({ key, offset, width, zeroPadding, modifiers });
  }
  if (literal !== '') parts.push({ literal });
  return {
    template,
    expand(values: UidlValues): string {
      let out = '';
      for (const p of parts) out += 'literal' in p ? p.literal : expandOne(p, values);
      return out;
    },
  };
}

function valueOf(key: Key, v: UidlValues): string {
  switch (key) {
    case 'u':
      return String(v.uid);
    case 'v':
      return String(v.uidValidity);
    case 'g':
      return v.guid;
    case 'f':
      return v.filename;
  }
}

/** X: the value read as an unsigned decimal number (0 when it is not one), printed in hexadecimal. */
function hex(value: string): string {
  if (!/^[0-9]{1,20}$/.test(value)) return '0';
  const n = BigInt(value);
  return n > 0xffffffffffffffffn ? '0' : n.toString(16);
}

function expandOne(p: Extract<Part, { key: Key }>, values: UidlValues): string {
  let value = valueOf(p.key, values);
  for (const m of p.modifiers) value = m === 'L' ? value.toLowerCase() : m === 'U' ? value.toUpperCase() : hex(value);
  if (p.offset < 0) {
    if (value.length > -p.offset) value = value.slice(value.length + p.offset);
  } else value = value.slice(p.offset);
  if (p.width === 0) return value;
  if (p.zeroPadding) return value.padStart(p.width, '0');
  // A negative width drops that many characters from the end (none left: all of it, as Dovecot's size_t cast does).
  const width = p.width < 0 ? value.length + p.width : p.width;
  return width < 0 ? value : value.slice(0, width);
}
