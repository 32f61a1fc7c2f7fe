// How the SQLite backend compares names, for the memory backend; the name
// rules themselves are shared (storage/names.ts).
export {
  MAX_SCRIPTS_PER_ACCOUNT,
  MAX_SUBSCRIPTIONS,
  canonicalMailboxName,
  renamedMailboxName,
  validateMailboxName,
  validateRenameTarget,
  validateScriptName,
} from '../names.js';

/** SQLite's NOCASE: ASCII letters only. */
export function foldCase(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** SQLite's BINARY order: by UTF-8 bytes (not JavaScript's UTF-16 units). */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
