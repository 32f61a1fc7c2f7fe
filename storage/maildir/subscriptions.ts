// The account's IMAP subscription list as a file at its Maildir root, so the
// index can be rebuilt from the Maildir alone (as postino-folder.json keeps
// each folder's UIDVALIDITY). Dovecot keeps its list in `subscriptions` at
// the same place; this file has a name of its own so a Maildir copied from
// Dovecot keeps Dovecot's file untouched. The file holds names only: no path
// is ever made from them.
import path from 'node:path';
import { readFileIfExists } from './files.js';

export const SUBSCRIPTIONS_FILE = 'postino-subscriptions.json';

/**
 * The names in the file, or undefined when there is no readable file. Read
 * synchronously, by recovery and reindex only (start-up and CLI work); the
 * file is written by mail/subscriptions.ts (staged, fsynced, renamed into
 * place with the table's change).
 */
export function readSubscriptions(accountRoot: string): string[] | undefined {
  const text = readFileIfExists(path.join(accountRoot, SUBSCRIPTIONS_FILE));
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as { subscriptions?: unknown };
    if (!Array.isArray(v.subscriptions)) return undefined;
    return v.subscriptions.filter((n): n is string => typeof n === 'string');
  } catch {
    return undefined;
  }
}

/** The file's content for these names. */
export function subscriptionsText(names: readonly string[]): string {
  return JSON.stringify({ version: 1, subscriptions: names }) + '\n';
}
