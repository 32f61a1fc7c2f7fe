// Dovecot's per-folder files, parsed strictly: dovecot-uidlist (version 3)
// and dovecot-keywords. A bad line is an error naming the file and the line,
// so an import stops before it changes anything. Each parser is one pass
// over lines split on spaces: linear in its input.
import { MailError } from '../../../storage/errors.js';
import { pop3UidlProblem } from '../../../storage/pop3-uidl.js';

/** Longer lines than this are not Dovecot's (a file name is at most 255 bytes; extension fields are short). */
const MAX_LINE = 8192;
const MAX_UID = 0xffffffff;
/** A message GUID is 32 hex digits when Dovecot makes it; dsync may bring other text, never this long. */
const MAX_GUID = 255;

export interface UidlistEntry {
  uid: number;
  /** Its line in the file (for errors). */
  line: number;
  /** The file's base name (up to the ":2," info part). */
  base: string;
  /** The POP3 UIDL Dovecot kept for it (extension field P, pop3_save_uidl), if any. */
  pop3Uidl?: string;
  /** The message GUID Dovecot kept for it (extension field G), if any. */
  guid?: string;
  /** Its place in the POP3 listing (extension field O), if any. */
  pop3Order?: number;
}

export interface Uidlist {
  uidValidity: number;
  uidNext: number;
  /** The mailbox GUID (header field G), if any. */
  guid?: string;
  /** Ascending by UID. */
  entries: UidlistEntry[];
}

function bad(file: string, line: number, why: string): MailError {
  return new MailError('BADINPUT', `${file}:${line}: ${why}`);
}

function uidNumber(text: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= MAX_UID ? n : undefined;
}

/**
 * "3 V<uidvalidity> N<nextuid> G<guid>" then one line per message:
 * "<uid> [<key><value> ...] :<file base>". Keys are single letters
 * (W virtual size, S physical size, G GUID, P POP3 UIDL, O POP3 order).
 */
export function parseUidlist(text: string, file: string): Uidlist {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const header = lines[0];
  if (header === undefined) throw bad(file, 1, 'empty file');
  if (header.length > MAX_LINE) throw bad(file, 1, 'line too long');
  const fields = header.split(' ');
  if (fields[0] !== '3') throw bad(file, 1, `unsupported version ${JSON.stringify((fields[0] ?? '').slice(0, 10))} (only version 3)`);
  let uidValidity: number | undefined;
  let uidNext: number | undefined;
  let guid: string | undefined;
  for (const f of fields.slice(1)) {
    if (f.startsWith('V')) uidValidity = uidNumber(f.slice(1));
    else if (f.startsWith('N')) uidNext = f.slice(1) === String(MAX_UID + 1) ? MAX_UID + 1 : uidNumber(f.slice(1));
    else if (f.startsWith('G')) guid = f.slice(1);
  }
  if (uidValidity === undefined) throw bad(file, 1, 'no valid UIDVALIDITY (V)');
  if (uidNext === undefined) throw bad(file, 1, 'no valid next UID (N)');
  const entries: UidlistEntry[] = [];
  let last = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const at = i + 1;
    if (line.length > MAX_LINE) throw bad(file, at, 'line too long');
    const colon = line.indexOf(' :');
    if (colon < 0) throw bad(file, at, 'no " :<file name>"');
    const base = line.slice(colon + 2);
    if (base === '' || base.includes('/') || base.includes('\0') || base === '.' || base === '..') throw bad(file, at, 'bad file name');
    const parts = line.slice(0, colon).split(' ');
    const uid = uidNumber(parts[0]!);
    if (uid === undefined) throw bad(file, at, 'bad UID');
    if (uid <= last) throw bad(file, at, `UID ${uid} not above the one before`);
    last = uid;
    const entry: UidlistEntry = { uid, line: at, base };
    for (const ext of parts.slice(1)) {
      if (ext === '') continue;
      if (!/^[A-Z]/.test(ext)) throw bad(file, at, 'bad extension field');
      if (ext[0] === 'P') {
        const uidl = ext.slice(1);
        const problem = pop3UidlProblem(uidl);
        if (problem) throw bad(file, at, `bad POP3 UIDL (P field): ${problem}`);
        entry.pop3Uidl = uidl;
      } else if (ext[0] === 'G') {
        const guid = ext.slice(1);
        if (guid === '' || guid.length > MAX_GUID || !/^[\x21-\x7e]+$/.test(guid)) throw bad(file, at, 'bad GUID (G field)');
        entry.guid = guid;
      } else if (ext[0] === 'O') entry.pop3Order = Number(ext.slice(1)) || undefined;
    }
    entries.push(entry);
  }
  // Dovecot appends lines without rewriting the header: its N may be behind the last line.
  return { uidValidity, uidNext: Math.max(uidNext, last + 1), ...(guid ? { guid } : {}), entries };
}

/** Keyword letters a..z stand for the keywords at indexes 0..25. */
export const MAX_KEYWORD_INDEX = 25;

/** "<index> <name>" per line: index -> keyword. */
export function parseKeywordsFile(text: string, file: string): Map<number, string> {
  const out = new Map<number, string>();
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.length > MAX_LINE) throw bad(file, i + 1, 'line too long');
    const m = /^([0-9]{1,2}) (.+)$/.exec(line);
    if (!m) throw bad(file, i + 1, 'not "<index> <keyword>"');
    const index = Number(m[1]);
    const name = m[2]!;
    if (index > MAX_KEYWORD_INDEX) throw bad(file, i + 1, `index ${index} above ${MAX_KEYWORD_INDEX}`);
    // An IMAP atom: no controls, spaces or list/quote specials; no backslash (system flags are not keywords).
    if (name.length > 255 || /[\x00-\x20\x7f(){%*"\\\]]/.test(name)) throw bad(file, i + 1, 'not a valid keyword');
    out.set(index, name);
  }
  return out;
}
