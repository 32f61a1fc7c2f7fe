// A Dovecot user's Maildir as the import sees it: its folders (Maildir++
// ".A.B" or LAYOUT=fs nested directories), each with its UIDVALIDITY, next
// UID and messages (UID, file, flags, keywords), and its subscriptions.
// Everything is read and checked before the import writes anything. Names
// never leave SRC: directory entries are single names, symlinks are refused,
// and a folder name with a "." or ".." level or a "/" is refused.
import { constants, openSync, readdirSync, readFileSync, fstatSync, closeSync, readSync, type Dirent } from 'node:fs';
import path from 'node:path';
import { MailError } from '../../../storage/errors.js';
import { parseKeywordsFile, parseUidlist } from './uidlist.js';
import { DEFAULT_POP3_UIDL_FORMAT, parsePop3UidlFormat, type Pop3UidlFormat } from './pop3-uidl-format.js';
import { pop3UidlProblem } from '../../../storage/pop3-uidl.js';
import { decodeModifiedUtf7 } from './mutf7.js';

export type MaildirLayout = 'maildir++' | 'fs';

export interface SourceMessage {
  uid: number;
  /** The message file (absolute). */
  file: string;
  /** System flags and keywords, as IMAP names them. */
  flags: string[];
  /** The UIDL Dovecot's POP3 gives it: the one Dovecot kept (P field), else pop3_uidl_format's. */
  pop3Uidl: string;
}

export interface SourceFolder {
  /** The IMAP name, hierarchy delimiter "/". */
  name: string;
  dir: string;
  /** Undefined when Dovecot kept no dovecot-uidlist (a folder never opened). */
  uidValidity: number | undefined;
  uidNext: number;
  messages: SourceMessage[];
  /** Files no dovecot-uidlist line names yet (Dovecot gives them UIDs when it next looks). */
  unlisted: number;
  /** Messages whose POP3 UIDL Dovecot kept in the uidlist (extension field P); the others' come from the format. */
  savedUidls: number;
}

export interface DovecotMaildir {
  layout: MaildirLayout;
  folders: SourceFolder[];
  /** Undefined when there is no subscriptions file. */
  subscriptions: string[] | undefined;
}

const SYSTEM_LETTERS: Record<string, string> = { D: '\\Draft', F: '\\Flagged', R: '\\Answered', S: '\\Seen', T: '\\Deleted' };
const CONTROL_DIRS = new Set(['cur', 'new', 'tmp']);
/** Deeper folders than this are not read (Postino's names allow no more). */
const MAX_DEPTH = 16;
/** A control file larger than this is not Dovecot's. */
const MAX_CONTROL_FILE = 64 * 1024 * 1024;

function list(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new MailError('BADINPUT', `cannot read ${dir}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** A control file's text, not following a symlink; undefined when there is none. */
export function readControlFile(file: string, max = MAX_CONTROL_FILE): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new MailError('BADINPUT', `${file}: a symlink (refused)`);
    throw new MailError('BADINPUT', `cannot read ${file}: ${code ?? 'error'}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new MailError('BADINPUT', `${file}: not a file`);
    if (st.size > max) throw new MailError('BADINPUT', `${file}: too large`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** A message file's bytes and mtime, not following a symlink. */
export function readMessageFile(file: string): { raw: Buffer; mtimeMs: number } {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new MailError('BADINPUT', `${file}: a symlink (refused)`);
    throw new MailError('TEMPFAIL', `cannot read ${file}: ${code ?? 'error'}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new MailError('BADINPUT', `${file}: not a file`);
    const raw = Buffer.alloc(st.size);
    let at = 0;
    while (at < raw.length) {
      const n = readSync(fd, raw, at, raw.length - at, at);
      if (n === 0) break;
      at += n;
    }
    return { raw: raw.subarray(0, at), mtimeMs: st.mtimeMs };
  } finally {
    closeSync(fd);
  }
}

/** One level of a folder name as found on disk: decoded, and refused when it could climb or nest. */
function nameLevel(encoded: string, where: string): string {
  const level = decodeModifiedUtf7(encoded);
  if (level === '' || level === '.' || level === '..' || level.includes('/') || /[\x00-\x1f\x7f]/.test(level)) {
    throw new MailError('BADINPUT', `${where}: folder name ${JSON.stringify(level)} refused`);
  }
  return level;
}

function refuseSymlink(entry: Dirent, dir: string): void {
  if (entry.isSymbolicLink()) throw new MailError('BADINPUT', `${path.join(dir, entry.name)}: a symlink (refused)`);
}

/** Maildir++: every ".A.B" directory of SRC is the folder A/B. */
function maildirPlusPlusFolders(src: string): Array<{ name: string; dir: string }> {
  const out = [{ name: 'INBOX', dir: src }];
  for (const e of list(src)) {
    if (!e.name.startsWith('.') || e.name === '.' || e.name === '..') continue;
    // "..DOVECOT-TRASHED" and the like: Dovecot's own leftovers, not folders.
    if (e.name.startsWith('..')) continue;
    refuseSymlink(e, src);
    if (!e.isDirectory()) continue;
    const levels = e.name.slice(1).split('.');
    if (levels.length > MAX_DEPTH) throw new MailError('BADINPUT', `${path.join(src, e.name)}: nested too deeply`);
    out.push({ name: levels.map((l) => nameLevel(l, path.join(src, e.name))).join('/'), dir: path.join(src, e.name) });
  }
  return out;
}

/** LAYOUT=fs: every directory below SRC (but cur, new, tmp) is a folder, nested as on disk. */
function fsFolders(src: string): Array<{ name: string; dir: string }> {
  const out = [{ name: 'INBOX', dir: src }];
  const walk = (dir: string, prefix: string, depth: number): void => {
    for (const e of list(dir)) {
      if (CONTROL_DIRS.has(e.name) || e.name.startsWith('.')) continue;
      refuseSymlink(e, dir);
      if (!e.isDirectory()) continue;
      if (depth >= MAX_DEPTH) throw new MailError('BADINPUT', `${path.join(dir, e.name)}: nested too deeply`);
      const name = prefix + nameLevel(e.name, path.join(dir, e.name));
      if (name.toUpperCase() === 'INBOX') continue; // INBOX is SRC itself
      out.push({ name, dir: path.join(dir, e.name) });
      walk(path.join(dir, e.name), name + '/', depth + 1);
    }
  };
  walk(src, '', 0);
  return out;
}

/** Maildir++ when SRC has any ".Name" folder directory, LAYOUT=fs when it has plain subdirectories that are Maildirs. */
export function detectLayout(src: string): MaildirLayout {
  const entries = list(src).filter((e) => e.isDirectory());
  if (entries.some((e) => e.name.startsWith('.') && !e.name.startsWith('..') && e.name.length > 1)) return 'maildir++';
  if (entries.some((e) => !CONTROL_DIRS.has(e.name) && !e.name.startsWith('.'))) return 'fs';
  return 'maildir++';
}

/** The message files of a folder by their base name (up to ":"). */
function messageFiles(dir: string): Map<string, { file: string; info: string }> {
  const out = new Map<string, { file: string; info: string }>();
  for (const sub of ['new', 'cur']) {
    const subdir = path.join(dir, sub);
    for (const e of list(subdir)) {
      if (e.name.startsWith('.')) continue;
      refuseSymlink(e, subdir);
      if (!e.isFile()) continue;
      const colon = e.name.indexOf(':');
      const base = colon < 0 ? e.name : e.name.slice(0, colon);
      const info = colon >= 0 && e.name.startsWith('2,', colon + 1) ? e.name.slice(colon + 3) : '';
      out.set(base, { file: path.join(subdir, e.name), info });
    }
  }
  return out;
}

function flagsOf(info: string, keywords: Map<number, string>): string[] {
  const flags: string[] = [];
  for (const ch of info) {
    const sys = SYSTEM_LETTERS[ch];
    if (sys) flags.push(sys);
    else if (ch >= 'a' && ch <= 'z') {
      const k = keywords.get(ch.charCodeAt(0) - 97);
      if (k !== undefined) flags.push(k);
    }
  }
  return flags;
}

function readFolder(name: string, dir: string, uidlFormat: Pop3UidlFormat): SourceFolder {
  const uidlistFile = path.join(dir, 'dovecot-uidlist');
  const keywordsFile = path.join(dir, 'dovecot-keywords');
  const uidlistText = readControlFile(uidlistFile);
  const keywordsText = readControlFile(keywordsFile);
  const keywords = keywordsText === undefined ? new Map<number, string>() : parseKeywordsFile(keywordsText, keywordsFile);
  const files = messageFiles(dir);
  if (uidlistText === undefined) {
    return { name, dir, uidValidity: undefined, uidNext: 1, messages: [], unlisted: files.size, savedUidls: 0 };
  }
  const uidlist = parseUidlist(uidlistText, uidlistFile);
  const messages: SourceMessage[] = [];
  let savedUidls = 0;
  for (const entry of uidlist.entries) {
    const found = files.get(entry.base) ?? files.get(entry.base.split(':')[0]!);
    if (!found) continue; // expunged since Dovecot wrote the list
    files.delete(entry.base);
    let pop3Uidl = entry.pop3Uidl;
    if (pop3Uidl !== undefined) savedUidls++;
    else {
      // Dovecot's storage id: the file's name now, up to ":" (maildir-mail.c); its GUID when the line has no G.
      const name = path.basename(found.file);
      const filename = name.includes(':') ? name.slice(0, name.indexOf(':')) : name;
      pop3Uidl = uidlFormat.expand({ uid: entry.uid, uidValidity: uidlist.uidValidity, guid: entry.guid ?? filename, filename });
      const problem = pop3UidlProblem(pop3Uidl);
      if (problem) throw new MailError('BADINPUT', `${uidlistFile}:${entry.line}: the POP3 UIDL --pop3-uidl-format ${uidlFormat.template} makes is ${problem}`);
    }
    messages.push({ uid: entry.uid, file: found.file, flags: flagsOf(found.info, keywords), pop3Uidl });
  }
  return { name, dir, uidValidity: uidlist.uidValidity, uidNext: uidlist.uidNext, messages, unlisted: files.size, savedUidls };
}

/** "V\t2" header (Dovecot 2.3+) then names with tab as the hierarchy separator, or older: one name a line. */
export function parseSubscriptions(text: string, file: string): string[] {
  const lines = text.split('\n');
  let start = 0;
  if (lines[0]?.startsWith('V\t')) start = 1;
  const out: string[] = [];
  for (let i = start; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line === '') continue;
    const levels = line.split('\t').map((l) => l);
    if (levels.some((l) => l === '' || l === '.' || l === '..' || /[\x00-\x1f\x7f]/.test(l))) {
      throw new MailError('BADINPUT', `${file}:${i + 1}: bad folder name`);
    }
    out.push(levels.join('/'));
  }
  return out;
}

export function readDovecotMaildir(
  srcInput: string,
  layoutWanted: MaildirLayout | 'auto' = 'auto',
  uidlFormat: Pop3UidlFormat = parsePop3UidlFormat(DEFAULT_POP3_UIDL_FORMAT),
): DovecotMaildir {
  const src = path.resolve(srcInput);
  const top = list(src);
  if (top.length === 0) throw new MailError('BADINPUT', `${src}: no such Maildir (or empty)`);
  const layout = layoutWanted === 'auto' ? detectLayout(src) : layoutWanted;
  const found = layout === 'fs' ? fsFolders(src) : maildirPlusPlusFolders(src);
  const folders = found.map((f) => readFolder(f.name, f.dir, uidlFormat));
  const seen = new Set<string>();
  for (const f of folders) {
    if (seen.has(f.name)) throw new MailError('BADINPUT', `${f.dir}: a second folder named ${JSON.stringify(f.name)}`);
    seen.add(f.name);
  }
  const subsFile = path.join(src, 'subscriptions');
  const subsText = readControlFile(subsFile);
  return { layout, folders, subscriptions: subsText === undefined ? undefined : parseSubscriptions(subsText, subsFile) };
}
