// A mailbox's METADATA entries (RFC 5464) as a file beside its messages, so
// the index can be rebuilt from the Maildir alone (as postino-folder.json
// keeps UIDVALIDITY and postino-subscriptions.json the subscriptions). A
// folder's entries sit in its own directory and so go with it on RENAME and
// away with it on DELETE; the server's entries (the "" mailbox) sit at the
// account's Maildir root, under another name than INBOX's (INBOX's folder is
// that root). Values are octets: kept in base64.
import path from 'node:path';
import { readFileIfExists } from './files.js';

export const MAILBOX_METADATA_FILE = 'postino-metadata.json';
export const SERVER_METADATA_FILE = 'postino-server-metadata.json';

export interface StoredEntry {
  entry: string;
  value: Buffer;
}

/**
 * The entries in a file, or [] when there is none or it cannot be read
 * (names are checked by the caller). Read synchronously, by recovery and
 * reindex only (start-up and CLI work); the file is written by
 * storage/metadata.ts (staged, fsynced, renamed into place with the rows).
 */
export function readMetadataFile(file: string): StoredEntry[] {
  const text = readFileIfExists(file);
  if (text === undefined) return [];
  try {
    const v = JSON.parse(text) as { entries?: unknown };
    if (typeof v.entries !== 'object' || v.entries === null || Array.isArray(v.entries)) return [];
    const out: StoredEntry[] = [];
    for (const [entry, value] of Object.entries(v.entries as Record<string, unknown>)) {
      if (typeof value === 'string') out.push({ entry, value: Buffer.from(value, 'base64') });
    }
    return out;
  } catch {
    return [];
  }
}

/** The file's content for these entries. */
export function metadataFileText(entries: readonly StoredEntry[]): string {
  const map: Record<string, string> = {};
  for (const e of entries) map[e.entry] = e.value.toString('base64');
  return JSON.stringify({ version: 1, entries: map }) + '\n';
}

/** Where a mailbox's entries are kept: in its folder, or (mailbox id 0) at the account root. */
export function metadataFilePath(accountRoot: string, folderDir: string | undefined): string {
  return folderDir === undefined ? path.join(accountRoot, SERVER_METADATA_FILE) : path.join(accountRoot, folderDir, MAILBOX_METADATA_FILE);
}
