// Names on disk: folder directories (Maildir++ ".A.B"), account directories
// and message file names ("<unique>,S=<size>,U=<uid>:2,<flags>"). Every name
// made here is a single path segment that cannot climb out of its parent.
import { hostname } from 'node:os';

const SYSTEM_FLAG_LETTERS: Record<string, string> = {
  '\\Draft': 'D',
  '\\Flagged': 'F',
  '$Forwarded': 'P',
  '\\Answered': 'R',
  '\\Seen': 'S',
  '\\Deleted': 'T',
};
const LETTER_TO_FLAG = new Map(Object.entries(SYSTEM_FLAG_LETTERS).map(([f, l]) => [l, f]));
/** Maildir keyword letters a..z map to a mailbox's keyword list by position. */
export const MAX_KEYWORD_LETTERS = 26;

/**
 * Escapes one name component so it is a harmless single path segment:
 * "%", ".", "/", "\" and control characters become %XX.
 */
export function escapeSegment(component: string): string {
  let out = '';
  for (const ch of component) {
    const c = ch.codePointAt(0)!;
    if (ch === '%' || ch === '.' || ch === '/' || ch === '\\' || c < 0x20 || c === 0x7f) {
      out += '%' + c.toString(16).toUpperCase().padStart(2, '0');
    } else out += ch;
  }
  return out;
}

export function unescapeSegment(segment: string): string {
  return segment.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * A domain or local part as a directory name: kept readable ("example.com"),
 * with "/", "\\", "%", control characters and a leading "." escaped so it is
 * one harmless, visible path segment.
 */
export function accountSegment(name: string): string {
  // Most names need no escape: kept as they are (this runs for every delivery).
  // eslint-disable-next-line no-control-regex
  if (name !== '' && name[0] !== '.' && !/[%/\\\x00-\x1f\x7f]/.test(name)) return name;
  let out = '';
  for (const [i, ch] of [...name].entries()) {
    const c = ch.codePointAt(0)!;
    if (ch === '%' || ch === '/' || ch === '\\' || c < 0x20 || c === 0x7f || (i === 0 && ch === '.')) {
      out += '%' + c.toString(16).toUpperCase().padStart(2, '0');
    } else out += ch;
  }
  return out === '' ? '%00' : out;
}

/** The directory of an IMAP folder relative to the account's Maildir ("" for INBOX). */
export function folderDir(name: string): string {
  if (name.toUpperCase() === 'INBOX') return '';
  return '.' + name.split('/').map(escapeSegment).join('.');
}

/** The IMAP name of a folder directory found on disk, or undefined if it is not one. */
export function folderNameFromDir(dir: string): string | undefined {
  if (dir === '') return 'INBOX';
  if (!dir.startsWith('.') || dir === '.' || dir === '..') return undefined;
  const parts = dir.slice(1).split('.');
  if (parts.some((p) => p === '')) return undefined;
  return parts.map(unescapeSegment).join('/');
}

const HOST = escapeSegment(hostname()).replace(/[:,]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
let sequence = 0;

/** A name unique across processes and hosts, per the Maildir rules. */
export function uniqueBaseName(now = Date.now()): string {
  const sec = Math.floor(now / 1000);
  const usec = (now % 1000) * 1000 + Math.floor(Math.random() * 1000);
  sequence = (sequence + 1) % 1_000_000_000;
  const rand = Math.floor(Math.random() * 0xffffffff).toString(16);
  return `${sec}.M${usec}P${process.pid}Q${sequence}R${rand}.${HOST}`;
}

export interface ParsedFileName {
  base: string;
  size: number | undefined;
  uid: number | undefined;
  flags: string[];
  /** Keyword letters (a..z) in the suffix, to be mapped through the mailbox keyword list. */
  keywordLetters: string[];
}

/** A file name for new/: no ":2," info part (Maildir puts flags only on cur/ names). */
export function newFileName(base: string, size: number, uid: number): string {
  return `${base},S=${size},U=${uid}`;
}

export function messageFileName(base: string, size: number, uid: number, flags: string[], keywords: string[]): string {
  return `${base},S=${size},U=${uid}:2,${flagSuffix(flags, keywords)}`;
}

/** The "2," info letters for the flags: system letters then keyword letters, in ASCII order. */
export function flagSuffix(flags: string[], keywords: string[]): string {
  const letters: string[] = [];
  for (const f of flags) {
    const sys = SYSTEM_FLAG_LETTERS[f];
    if (sys) letters.push(sys);
    else {
      const i = keywords.indexOf(f);
      if (i >= 0 && i < MAX_KEYWORD_LETTERS) letters.push(String.fromCharCode(97 + i));
    }
  }
  return [...new Set(letters)].sort().join('');
}

export function parseFileName(name: string): ParsedFileName {
  const colon = name.indexOf(':2,');
  const main = colon >= 0 ? name.slice(0, colon) : name;
  const info = colon >= 0 ? name.slice(colon + 3) : '';
  const fields = main.split(',');
  const base = fields[0]!;
  let size: number | undefined;
  let uid: number | undefined;
  for (const f of fields.slice(1)) {
    if (f.startsWith('S=')) size = Number(f.slice(2)) || undefined;
    else if (f.startsWith('U=')) uid = Number(f.slice(2)) || undefined;
  }
  const flags: string[] = [];
  const keywordLetters: string[] = [];
  for (const ch of info) {
    const flag = LETTER_TO_FLAG.get(ch);
    if (flag) flags.push(flag);
    else if (ch >= 'a' && ch <= 'z') keywordLetters.push(ch);
  }
  return { base, size, uid, flags, keywordLetters };
}

/** The unique part of a stored path such as "cur/<base>,S=..:2,S". */
export function baseOfPath(relPath: string): string {
  const slash = relPath.lastIndexOf('/');
  const name = relPath.slice(slash + 1);
  const comma = name.indexOf(',');
  const colon = name.indexOf(':');
  const end = Math.min(comma < 0 ? name.length : comma, colon < 0 ? name.length : colon);
  return name.slice(0, end);
}
