// What a folder keeps beside its messages so the index can be rebuilt from
// the Maildir alone: UIDVALIDITY, the UIDNEXT floor, the keyword letters.
import path from 'node:path';
import { readFileIfExists } from './files.js';

export const META_FILE = 'postino-folder.json';

export interface FolderMeta {
  uidValidity: number;
  /** UIDs below this were handed out once and must never be reused. */
  uidNext: number;
  /** Keyword for letter a, b, c... */
  keywords: string[];
  specialUse: string | null;
  /**
   * Written by versions that kept subscriptions per folder; read only to
   * seed the account's subscription list when it has no file yet
   * (maildir/subscriptions.ts), never written now.
   */
  legacySubscribed?: boolean;
}

/**
 * Read synchronously: by recovery and reindex (start-up and CLI work), and
 * by CREATE inside its transaction when the folder is on disk already.
 * The file is written inside the transactions that change the folder's row
 * (MailCore.saveFolderMeta, through FileChanges).
 */
export function readFolderMeta(folderPath: string): FolderMeta | undefined {
  const text = readFileIfExists(path.join(folderPath, META_FILE));
  if (text === undefined) return undefined;
  try {
    const m = JSON.parse(text) as Partial<FolderMeta> & { subscribed?: unknown };
    if (typeof m.uidValidity !== 'number') return undefined;
    return {
      uidValidity: m.uidValidity,
      uidNext: typeof m.uidNext === 'number' ? m.uidNext : 1,
      keywords: Array.isArray(m.keywords) ? m.keywords.filter((k) => typeof k === 'string') : [],
      specialUse: typeof m.specialUse === 'string' ? m.specialUse : null,
      ...(typeof m.subscribed === 'boolean' ? { legacySubscribed: m.subscribed } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The file's content for `meta`. */
export function folderMetaText(meta: FolderMeta): string {
  const { legacySubscribed: _, ...kept } = meta;
  return JSON.stringify(kept) + '\n';
}
