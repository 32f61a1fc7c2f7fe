// The POP3 UIDLs an account's messages keep as their own, beside the
// Maildir so that a rebuilt index (postino reindex) finds them again, as it
// finds UIDs and flags in the file names. A UIDL may be longer than a file
// name has room for, so it is not in the name: one file per account,
// "<body base name> <uidl>" a line, appended (and fsynced) before the rows
// naming those bodies commit. The base name stays with a body across flag
// changes and MOVE, so nothing is written then; a COPY is a new body and
// appends a line. A line whose body never committed names no file and is
// ignored; the last line for a base wins.
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fsyncPath, readFileIfExists } from './files.js';
import { pop3UidlProblem } from '../pop3-uidl.js';

export const POP3_UIDLS_FILE = 'postino-pop3-uidls';

/** Appends the lines durably (the file, and the directory when the file is new). */
export function recordPop3Uidls(accountRoot: string, entries: ReadonlyArray<{ base: string; uidl: string }>): void {
  if (entries.length === 0) return;
  const file = path.join(accountRoot, POP3_UIDLS_FILE);
  const text = entries.map((e) => `${e.base} ${e.uidl}\n`).join('');
  const created = !existsSync(file);
  const fd = openSync(file, 'a+', 0o600);
  try {
    // A line a crash cut short stays alone on its line (it is skipped) instead of spoiling the next.
    const size = fstatSync(fd).size;
    const last = Buffer.alloc(1);
    const torn = size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a;
    writeSync(fd, torn ? `\n${text}` : text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (created) fsyncPath(accountRoot);
}

/** Base name -> UIDL, from the file (none: empty). Lines that are not whole or not valid (a torn last line) are skipped. */
export function readPop3Uidls(accountRoot: string): Map<string, string> {
  const out = new Map<string, string>();
  const text = readFileIfExists(path.join(accountRoot, POP3_UIDLS_FILE));
  if (text === undefined) return out;
  const lines = text.split('\n');
  // The last piece has no newline: a line cut short by a crash, or "".
  lines.pop();
  for (const line of lines) {
    const space = line.indexOf(' ');
    if (space <= 0) continue;
    const base = line.slice(0, space);
    const uidl = line.slice(space + 1);
    if (base.includes('/') || pop3UidlProblem(uidl) !== undefined) continue;
    out.set(base, uidl);
  }
  return out;
}
